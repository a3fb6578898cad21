"""The Kaleyra sandbox: an ASGI app speaking the legacy Voice API and kaleyra.io Outbound Calling.

Request formats, response shapes and quirks follow ../shared/kaleyra (the Postman collection):
form fields or query string plus JSON body, the key in `x-api-key`, `api-key` or `api_key`,
`"OK "` from autodial.*, OBD rows keyed "0", "1", … beside `group_id`. Error codes the documents
name are used as documented (E542, E701, RBC…); the rest are this sandbox's own, listed in
LEGACY_ERRORS and in the README. Every legacy method answers `format=xml` in the shapes of the
collection's XML examples. Incoming calls are seeded with `POST /_sandbox/incoming` (or
`SandboxState.add_incoming`) and then listed by method `dial`; a verification call's code is
announced to the state's listeners, since no phone rings here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.sandbox.state import (
    C2CRecord,
    Fault,
    FollowupState,
    ObdRecord,
    SandboxState,
    outcome_for,
    verification_code,
)

LEGACY_ERRORS = {
    "E100": "API key is missing",
    "E101": "Invalid API key",
    "E102": "Invalid method",
    "E103": "Mandatory parameter missing",
    "E104": "Invalid number",
    "E105": "Too many numbers",
    "E106": "Invalid parameter value",
    "E107": "Invalid schedule time",
    "E108": "Invalid ID",
    "E109": "Sound file not found",
    "E110": "IVR not found",
    "E111": "Contact group not found",
    "E542": "User Plugin not found or inactive",
    "E701": "No incidents found",
}

LEGACY_NUMBER = re.compile(r"^[1-9]\d{9}$")
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
VOICE_CALL_MAX = 200
OUTBOUND_MAX = 100
DIALER_IMPORT_MAX = 1000
FINAL_FAIL = "FAILED"


class LegacyError(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        base = LEGACY_ERRORS[code]
        self.message = f"{base}: {detail}" if detail else base


class IoError(Exception):
    def __init__(self, code: str, message: str, data: Any, error: dict[str, str], status: int):
        super().__init__(code)
        self.code, self.message, self.data, self.error, self.status = (
            code,
            message,
            data,
            error,
            status,
        )


def _ok(data: Any = None, message: str = "OK", status: str = "200") -> JSONResponse:
    body: dict[str, Any] = {"status": status, "message": message}
    if data is not None:
        body["data"] = data
    return JSONResponse(body)


# Where a legacy key may travel, by the names of bot.kaleyra.models.KeyStyle.
KEY_PLACES = (
    ("x-api-key", "x-api-key header"),
    ("api-key", "api-key header"),  # kaleyra.io's
    ("api_key", "api_key header"),
)
KEY_PARAMETER = "api_key parameter"


def _key_from(
    request: Request, fields: dict[str, str], accepted: frozenset[str] | None = None
) -> tuple[str | None, str | None, str | None]:
    """(key, header that carried it, place); a place outside `accepted` is not looked at."""
    for header, place in KEY_PLACES:
        if request.headers.get(header) and (accepted is None or place in accepted):
            return request.headers[header], header, place
    if fields.get("api_key") and (accepted is None or KEY_PARAMETER in accepted):
        return fields["api_key"], "api_key", KEY_PARAMETER
    return None, None, None


def _numbers(text: str, field: str) -> list[str]:
    numbers = [n.strip() for n in text.split(",") if n.strip()]
    if not numbers:
        raise LegacyError("E103", field)
    bad = [n for n in numbers if not LEGACY_NUMBER.match(n)]
    if bad:
        raise LegacyError("E104", ", ".join(bad[:5]) + (" …" if len(bad) > 5 else ""))
    return numbers


def _require(form: dict[str, str], *names: str) -> None:
    missing = [n for n in names if not form.get(n, "").strip()]
    if missing:
        raise LegacyError("E103", ", ".join(missing))


def _int(form: dict[str, str], name: str, low: int, high: int) -> int | None:
    if name not in form or form[name] == "":
        return None
    try:
        value = int(form[name])
    except ValueError:
        raise LegacyError("E106", f"{name} must be a number") from None
    if not low <= value <= high:
        raise LegacyError("E106", f"{name} must be {low} to {high}")
    return value


def _legacy_date(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in ("%Y/%m/%d", "%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise LegacyError("E106", f'date "{text}" must be YYYY/MM/DD or DD/MM/YYYY')


class Sandbox:
    def __init__(self, state: SandboxState | None = None) -> None:
        self.state = state or SandboxState()
        self._tasks: set[asyncio.Task] = set()
        self.app = Starlette(
            lifespan=self._lifespan,
            routes=[
                Route("/v1/", self.legacy, methods=["POST"]),
                Route("/v1", self.legacy, methods=["POST"]),
                Route("/v1/{sid}/voice/outbound", self.outbound, methods=["POST"]),
                Route("/healthz", self.healthz, methods=["GET"]),
                Route("/_sandbox/requests", self.control_requests, methods=["GET", "DELETE"]),
                Route("/_sandbox/faults", self.control_faults, methods=["POST", "DELETE"]),
                Route("/_sandbox/incidents", self.control_incidents, methods=["POST"]),
                Route("/_sandbox/state", self.control_state, methods=["POST"]),
                Route(
                    "/_sandbox/incoming", self.control_incoming, methods=["GET", "POST", "DELETE"]
                ),
            ],
        )

    # ------------------------------------------------------------------ plumbing

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette):
        yield
        for task in list(self._tasks):  # pending callbacks die with the server
            task.cancel()

    async def _apply_fault(self, operation: str) -> Response | None:
        fault = self.state.fault_for(operation)
        if fault is None:
            return None
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.timeout:
            await asyncio.sleep(fault.hang_seconds)
        if fault.error_rate and self.state.rng.random() < fault.error_rate:
            if fault.api_error:
                code, message = fault.api_error
                return JSONResponse({"status": code, "message": message})
            return Response(fault.body, status_code=fault.http_status, media_type="text/html")
        return None

    async def legacy(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        query = dict(request.query_params)
        method = (form.get("method") or query.get("method") or "").strip()
        body: Any = None
        if method in {"voice.json", "autodial.import"}:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = None
        key, key_header, place = _key_from(request, {**query, **form}, self.state.key_styles)
        with self.state.lock:
            self.state.requests.append(
                _record("legacy", method, request, query, form, body, key_header, place)
            )
        fields = {**query, **form}
        answer = await self._legacy_answer(method, key, fields, body)
        # Every legacy method answers XML when asked, as the collection's XML examples show.
        if fields.get("format", "").strip().lower() == "xml" and isinstance(answer, JSONResponse):
            return _xml_response(method.lower(), json.loads(answer.body))
        return answer

    async def _legacy_answer(
        self, method: str, key: str | None, fields: dict[str, str], body: Any
    ) -> Response:
        if injected := await self._apply_fault(method):
            return injected
        try:
            if not key:
                raise LegacyError("E100")
            if self.state.api_key is not None and key != self.state.api_key:
                raise LegacyError("E101")
            handler = LEGACY_METHODS.get(method.lower())
            spelling = self.state.group_status_spelling
            if spelling and method.lower() == "voice.groupstatus" and method != spelling:
                handler = None  # an account that knows only the other spelling
            if handler is None:
                raise LegacyError("E102", method or "(none)")
            with self.state.lock:
                return handler(self, fields, body)
        except LegacyError as exc:
            return JSONResponse({"status": exc.code, "message": exc.message})

    # ------------------------------------------------------------------ click-to-call

    def click2call(self, form: dict[str, str], _body: Any) -> Response:
        _require(form, "caller", "receiver")
        caller = _numbers(form["caller"], "caller")[0]
        receiver = _numbers(form["receiver"], "receiver")[0]
        _int(form, "retry", 0, 2)
        _int(form, "delay", 0, 900)
        if form.get("caller_id"):
            _numbers(form["caller_id"], "caller_id")
        seq = self.state.next_seq()
        call = C2CRecord(
            id=f"c2c_{seq:014x}",
            caller=caller,
            receiver=receiver,
            created=self.state.now(),
            seq=seq,
            callback=form.get("callback") or None,
            custom=form.get("custom") or None,
            caller_id=form.get("caller_id") or None,
        )
        self.state.calls[call.id] = call
        if call.callback:
            self._spawn(self._fire_callbacks(call))
        if form.get("return") == "1":
            return _ok({"id": call.id})
        return _ok()

    def _c2c_row(self, call: C2CRecord) -> dict[str, Any]:
        state = self.state
        elapsed = (state.now() - call.created).total_seconds()
        step = state.step_seconds
        stage = 3 if step <= 0 else int(elapsed // step)
        first = "BLOCKED" if call.caller in state.blacklist else outcome_for(call.caller)
        second = "BLOCKED" if call.receiver in state.blacklist else outcome_for(call.receiver)
        duration = 20 + call.seq % 60
        row: dict[str, Any] = {
            "id": call.id,
            "callfrom": call.caller,
            "callto": call.receiver,
            "agent": "agent",
            "start_time": call.created.strftime("%Y-%m-%d %H:%M:%S"),
            "end_time": "",
            "duration": "0",
            "billsec": "0",
            "credits": "0.000",
            "status": "",
            "status2": "",
            "recording": "",
            "location": "KARNATAKA",
            "provider": "VODAFONE",
        }
        if stage >= 1:
            row["status"] = first
            if first != "ANSWER":
                row["end_time"] = (call.created + timedelta(seconds=step)).strftime(
                    "%Y-%m-%d %H:%M:%S"
                )
                return row
        if stage >= 2:
            row["status2"] = second
            end = call.created + timedelta(seconds=max(step * 2, duration))
            row["end_time"] = end.strftime("%Y-%m-%d %H:%M:%S")
            row["duration"] = str(duration if second == "ANSWER" else int(step))
            if second == "ANSWER":
                row["billsec"] = str(duration - 5)
                row["credits"] = f"{(duration // 60 + 1) * 0.6:.3f}"
                row["recording"] = f"//play.solutionsinfini.com/?id={call.seq:08d}"
        return row

    def c2cstatus(self, form: dict[str, str], _body: Any) -> Response:
        cutoff = self.state.now() - timedelta(days=3)  # only the last 3 days are kept
        if form.get("id"):
            call = self.state.calls.get(form["id"])
            if call is None or call.created < cutoff:
                raise LegacyError("E108", form["id"])
            return _ok([self._c2c_row(call)])
        calls = [c for c in self.state.calls.values() if c.created >= cutoff]
        calls = _filter_dates(calls, form, lambda c: c.created)
        if form.get("call to"):
            calls = [c for c in calls if c.receiver == form["call to"]]
        return _ok(_page([self._c2c_row(c) for c in calls], form))

    def dial(self, form: dict[str, str], _body: Any) -> Response:
        rows = _filter_dates(
            self.state.incoming,
            form,
            lambda r: datetime.strptime(r["start_time"], "%Y-%m-%d %H:%M:%S"),
        )
        if form.get("id"):
            rows = [r for r in rows if r["id"] == form["id"]]
            if not rows:
                raise LegacyError("E108", form["id"])
        if form.get("call to"):
            rows = [r for r in rows if r["callto"] == form["call to"]]
        return _ok(_page(rows, form))

    async def _fire_callbacks(self, call: C2CRecord) -> None:
        """GET the callback at first-leg answer and at the end, variables replaced."""
        step = max(self.state.step_seconds, 0)
        async with httpx.AsyncClient(timeout=5) as http:
            for stage in (1, 2):
                await asyncio.sleep(step)
                with self.state.lock:
                    row = self._c2c_row(call)
                if stage == 1 and row["status"] != "ANSWER":
                    stage = 2  # the call ended on the first leg
                if stage == 2 and not row["end_time"]:
                    await asyncio.sleep(step)
                    with self.state.lock:
                        row = self._c2c_row(call)
                url = _replace_vars(call.callback or "", row, call)
                with contextlib.suppress(httpx.HTTPError):
                    await http.get(url)
                if stage == 2:
                    return

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ blacklist

    def block(self, form: dict[str, str], _body: Any) -> Response:
        _require(form, "number")
        numbers = _numbers(form["number"], "number")
        if form.get("action", "").lower() == "delete":
            self.state.blacklist.difference_update(numbers)
        elif form.get("action"):
            raise LegacyError("E106", "action must be delete")
        else:
            self.state.blacklist.update(numbers)
        return _ok()

    # ------------------------------------------------------------------ follow-ups

    def followup(self, form: dict[str, str], _body: Any) -> Response:
        if form.get("action", "").lower() == "delete":
            _require(form, "id")
            if self.state.followups.pop(form["id"], None) is None:
                raise LegacyError("E108", form["id"])
            return _ok({"id": form["id"]}, "Follow-up deleted successfully")
        _require(form, "phone", "name", "follower", "ontime")
        phone = _numbers(form["phone"], "phone")[0]
        follower = _numbers(form["follower"], "follower")[0]
        try:
            ontime = datetime.strptime(form["ontime"], "%d-%m-%Y %H:%M")
        except ValueError:
            raise LegacyError("E106", "ontime must be dd-mm-yyyy hh:mm") from None
        if ontime.replace(tzinfo=self.state.tz) <= self.state.now():
            raise LegacyError("E107", "ontime is in the past")
        autocall = form.get("autocall", "0") == "1"
        if form.get("id"):
            if form["id"] not in self.state.followups:
                raise LegacyError("E108", form["id"])
            fid, message = form["id"], "Follow-up updated successfully"
        else:
            fid, message = self.state.next_followup_id(), "OK"
        self.state.followups[fid] = FollowupState(
            fid, phone, form["name"], follower, ontime, autocall, form.get("notes", "")
        )
        return _ok({"id": fid}, message)

    def followup_reports(self, form: dict[str, str], _body: Any) -> Response:
        items = list(self.state.followups.values())
        if form.get("follower"):
            items = [f for f in items if f.follower == form["follower"]]
        if form.get("number"):
            items = [f for f in items if f.phone == form["number"]]
        items = _filter_dates(items, form, lambda f: f.ontime)
        rows = [
            {
                "id": f.id,
                "phone": f.phone,
                "name": f.name,
                "follower": f.follower,
                "note": f.notes,
                "ontime": f.ontime.strftime("%d-%m-%Y %I:%M:%S %p"),
            }
            for f in sorted(items, key=lambda f: f.ontime)
        ]
        return _ok(rows)

    # ------------------------------------------------------------------ health

    def monitor(self, _form: dict[str, str], _body: Any) -> Response:
        if not self.state.monitor_subscribed:
            raise LegacyError("E542")
        if not self.state.incidents:
            return JSONResponse({"status": "E701", "message": "No incidents found"})
        return _ok({"incidents": self.state.incidents})

    # ------------------------------------------------------------------ progressive dialer

    def autodial_add(self, form: dict[str, str], _body: Any) -> Response:
        _require(form, "name", "number", "meta")
        number = _numbers(form["number"], "number")[0]
        try:
            meta = json.loads(form["meta"])
        except json.JSONDecodeError:
            raise LegacyError("E106", "meta must be JSON") from None
        self.state.dialer.setdefault(form["name"], []).append({"number": number, **meta})
        return _ok(
            status="OK ",
            message="Number(s) added Successfully, Total Records(s) - 1, Processed Records(s) - 1",
        )

    def autodial_import(self, form: dict[str, str], body: Any) -> Response:
        _require(form, "name")
        rows = body.get("data") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not rows:
            raise LegacyError("E103", "data")
        kept = rows[:DIALER_IMPORT_MAX]  # documented: only the first 1000 entries are considered
        valid = [
            r for r in kept if isinstance(r, dict) and LEGACY_NUMBER.match(str(r.get("number", "")))
        ]
        self.state.dialer.setdefault(form["name"], []).extend(valid)
        return _ok(
            status="OK ",
            message=(
                f"Number(s) added Successfully, Total Records(s) - {len(rows)}, "
                f"Processed Records(s) - {len(valid)}"
            ),
        )

    # ------------------------------------------------------------------ OBD

    def _check_play(self, play: str | None) -> None:
        if not play:
            return
        if m := re.fullmatch(r"(\d+)\.sound", play):
            if m.group(1) not in self.state.sounds:
                raise LegacyError("E109", play)
        elif m := re.fullmatch(r"ivr:([\w-]+)|([\w-]+)\.ivr", play):
            if (m.group(1) or m.group(2)) not in self.state.ivrs:
                raise LegacyError("E110", play)
        else:
            raise LegacyError("E106", "play must be 123.sound, ivr:1234 or 1234.ivr")

    def _schedule(self, text: str | None) -> datetime | None:
        if not text:
            return None
        now = self.state.now()
        when: datetime | None = None
        if text.isdigit():
            when = datetime.fromtimestamp(int(text), tz=self.state.tz)
        else:
            for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %I:%M %p"):
                try:
                    when = datetime.strptime(text, fmt).replace(tzinfo=self.state.tz)
                    break
                except ValueError:
                    continue
        if when is None:
            raise LegacyError("E107", f'"{text}" is not a date and time')
        if when < now + timedelta(minutes=15):
            raise LegacyError("E107", "must be at least 15 minutes from now")
        if when > now + timedelta(days=61):
            raise LegacyError("E107", "must be within 2 months")
        return when

    def _group_numbers(self, group: str) -> list[str]:
        numbers: list[str] = []
        for gid in (g.strip() for g in group.split(",")):
            if gid not in self.state.contact_groups:
                raise LegacyError("E111", gid)
            numbers.extend(self.state.contact_groups[gid])
        return numbers

    def _start_obd(
        self, numbers: list[str], scheduled: datetime | None, campaign: str | None
    ) -> tuple[str, list[dict[str, Any]]]:
        group_id = self.state.next_group_id()
        rows = []
        for index, mobile in enumerate(numbers, start=1):
            record = ObdRecord(
                f"{group_id}-{index}", group_id, mobile, self.state.now(), scheduled, campaign
            )
            self.state.obd[record.id] = record
            self.state.obd_groups.setdefault(group_id, []).append(record.id)
            rows.append({"id": record.id, "mobile": mobile, "status": self._obd_status(record)})
        return group_id, rows

    def _obd_status(self, record: ObdRecord) -> str:
        now = self.state.now()
        if record.scheduled and now < record.scheduled:
            return "SCHEDULED"
        start = record.scheduled or record.created
        if self.state.step_seconds > 0 and (now - start).total_seconds() < self.state.step_seconds:
            return "SENT"
        if record.mobile in self.state.blacklist:
            return "BLOCKED"
        outcome = outcome_for(record.mobile)
        return "COMPLETED" if outcome == "ANSWER" else outcome

    def voice_call(self, form: dict[str, str], _body: Any) -> Response:
        if not form.get("play") and not form.get("message"):
            raise LegacyError("E103", "play")
        if form.get("group"):
            numbers = self._group_numbers(form["group"])
        else:
            _require(form, "numbers")
            numbers = _numbers(form["numbers"], "numbers")
            if len(numbers) > VOICE_CALL_MAX:
                raise LegacyError("E105", f"{len(numbers)} given, at most {VOICE_CALL_MAX}")
        self._check_play(form.get("play"))
        _int(form, "retries", 0, 2)
        _int(form, "delay", 0, 900)
        scheduled = self._schedule(form.get("scheduletime"))
        group_id, rows = self._start_obd(numbers, scheduled, form.get("campaign"))
        self._read_out(form.get("message"), numbers)
        return _ok({**{str(i): r for i, r in enumerate(rows)}, "group_id": int(group_id)})

    def _read_out(self, text: str | None, numbers: list[str]) -> None:
        """A verification call is make-believe here: say what it would have read out."""
        code = verification_code(text)
        if code:
            to = ", ".join(_masked(n) for n in numbers[:3])
            self.state.announce(f"the verification call would read out: {code} (to {to})")

    def voice_json(self, _form: dict[str, str], body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("call"), list) or not body["call"]:
            raise LegacyError("E103", "call")
        scheduled = self._schedule(body.get("scheduletime"))
        planned: list[str] = []
        for entry in body["call"]:
            if not isinstance(entry, dict):
                raise LegacyError("E106", "each call must be an object")
            if not (
                entry.get("play") or entry.get("message") or body.get("play") or body.get("message")
            ):
                raise LegacyError("E103", "play")
            self._check_play(entry.get("play") or body.get("play"))
            if entry.get("group"):
                numbers = self._group_numbers(str(entry["group"]))
            else:
                numbers = _numbers(str(entry.get("to", "")), "to")
            planned.extend(numbers)
            self._read_out(str(entry.get("message") or body.get("message") or ""), numbers)
        group_id, rows = self._start_obd(planned, scheduled, body.get("campaign"))
        return _ok({**{str(i): r for i, r in enumerate(rows)}, "group_id": int(group_id)})

    def _obd_row(self, record: ObdRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "mobile": record.mobile,
            "status": self._obd_status(record),
            "senttime": record.created.strftime("%Y-%m-%d %H:%M:%S"),
        }

    def voice_status(self, form: dict[str, str], _body: Any) -> Response:
        _require(form, "id")
        record = self.state.obd.get(form["id"])
        if record is None or (form.get("mobile") and form["mobile"] != record.mobile):
            raise LegacyError("E108", form["id"])
        return _ok({"0": self._obd_row(record)})

    def voice_groupstatus(self, form: dict[str, str], _body: Any) -> Response:
        _require(form, "groupid")
        ids = self.state.obd_groups.get(form["groupid"])
        if ids is None:
            raise LegacyError("E108", form["groupid"])
        records = [self.state.obd[i] for i in ids]
        if form.get("campaign"):
            records = [r for r in records if r.campaign == form["campaign"]]
        return _ok({str(i): self._obd_row(r) for i, r in enumerate(records)})

    # ------------------------------------------------------------------ kaleyra.io

    async def outbound(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            try:
                raw = await request.json()
            except json.JSONDecodeError:
                raw = {}
            form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
        else:
            form = {k: str(v) for k, v in (await request.form()).items()}
        query = dict(request.query_params)
        key, key_header, place = _key_from(request, form)
        with self.state.lock:
            self.state.requests.append(
                _record("io", "outbound", request, query, form, None, key_header, place)
            )
        if injected := await self._apply_fault("outbound"):
            return injected
        try:
            if not key or (self.state.api_key is not None and key != self.state.api_key):
                raise IoError(
                    "RBC201", "API key does not exist", [], {"error": "API key does not exist"}, 401
                )
            sid = request.path_params["sid"]
            if self.state.sid is not None and sid != self.state.sid:
                raise IoError(
                    "RBC201", "API key does not exist", [], {"error": "SID does not match"}, 401
                )
            with self.state.lock:
                data = self._outbound(form)
            return JSONResponse(
                {"code": "RBC3007", "message": "Submitted Successfully", "data": data, "error": {}},
                status_code=202,
            )
        except IoError as exc:
            return JSONResponse(
                {"code": exc.code, "message": exc.message, "data": exc.data, "error": exc.error},
                status_code=exc.status,
            )

    def _outbound(self, form: dict[str, str]) -> dict[str, Any]:
        now = self.state.now()
        errors = {
            name: f"{name} field has to be filled"
            for name in ("to", "target")
            if not form.get(name, "").strip()
        }
        target: Any = None
        if form.get("target"):
            try:
                target = json.loads(form["target"])
            except json.JSONDecodeError:
                errors["target"] = "target must be a JSON array"
            else:
                if not isinstance(target, list) or not target:
                    errors["target"] = "target must be a JSON array"
        for name in ("delay", "interval"):  # out-of-range values are wrapped, as documented
            if form.get(name) and not form[name].lstrip("-").isdigit():
                errors[name] = f"{name} must be numeric"
        if form.get("custom") and len(form["custom"]) > 100:
            errors["custom"] = "custom may not be greater than 100 characters"
        if form.get("retry"):
            try:
                retry = json.loads(form["retry"])
            except json.JSONDecodeError:
                errors["retry"] = "retry must be a number or JSON"
            else:
                if isinstance(retry, int) and not 0 <= retry <= 2:
                    errors["retry"] = "retry must be between 0 and 2"
        if errors:
            raise IoError(
                "RBC3004",
                "Invalid Inputs, Validation Error.",
                [{"apiStartTime": now.timestamp()}],
                errors,
                400,
            )
        prefix = form.get("prefix", "").strip()
        to = [_with_prefix(n.strip(), prefix) for n in form["to"].split(",") if n.strip()]
        if len(to) > OUTBOUND_MAX:
            raise IoError(
                "RBC3004",
                "Invalid Inputs, Validation Error.",
                [{"apiStartTime": now.timestamp()}],
                {"to": f"to may not have more than {OUTBOUND_MAX} numbers"},
                400,
            )
        bad = [n for n in to if not E164.match(n)]
        if bad:
            raise IoError("RBC3109", "Invalid number", bad, {"scalar": "Invalid number"}, 400)
        echo: dict[str, Any] = {"to": ",".join(to), "target": target}
        if form.get("bridge"):
            bridge = _with_prefix(form["bridge"].strip(), prefix)
            echo["bridge"] = bridge
            if bridge not in self.state.dids:
                raise IoError(
                    "RBC3119",
                    "Bridge number not found",
                    [echo],
                    {"scalar": "Bridge number not found"},
                    400,
                )
        for element in target:
            if not isinstance(element, dict):
                raise IoError(
                    "RBC3004",
                    "Invalid Inputs, Validation Error.",
                    [],
                    {"target": "invalid target"},
                    400,
                )
            for ivr in element.get("ivr") or []:
                if str(ivr) not in self.state.ivrs and not str(ivr).startswith("SG_"):
                    raise IoError(
                        "RBC3115", "IVR not found", [echo], {"scalar": "IVR not found"}, 400
                    )
            sounds = element.get("sound") or []
            if any(str(s) not in self.state.sounds for s in sounds):
                raise IoError(
                    "RBC3114",
                    "Sound file(s) not found",
                    [echo],
                    {"scalar": "Sound file(s) not found"},
                    400,
                )
            message = element.get("message")
            if message is not None and not str((message or {}).get("text", "")).strip():
                raise IoError(
                    "RBC3004",
                    "Invalid Inputs, Validation Error.",
                    [],
                    {"target": "message text is required"},
                    400,
                )
        if form.get("time"):
            try:
                when = datetime.fromisoformat(form["time"])
            except ValueError:
                when = None
            if when is None or when.tzinfo is None:
                raise IoError(
                    "RBC3004",
                    "Invalid Inputs, Validation Error.",
                    [],
                    {"time": "time must be Y-m-d\\TH:i:sP"},
                    400,
                )
            echo["time"] = form["time"]
            if when < now + timedelta(minutes=15):
                raise IoError(
                    "RBC3108",
                    "Schedule time has to be 15 min greater from now",
                    [echo],
                    {"scalar": "Schedule time has to be 15 min greater from now"},
                    400,
                )
            if when > now + timedelta(days=90):
                raise IoError(
                    "RBC3108",
                    "Schedule time has to be within 90 days from now",
                    [echo],
                    {"scalar": "Schedule time has to be within 90 days from now"},
                    400,
                )
        for name in ("dlrurl", "retry", "custom", "callback", "timeout", "delay", "interval"):
            if form.get(name):
                echo[name] = form[name]
        if prefix:
            echo["prefix"] = prefix
        self.state.outbound_jobs.append(echo)
        for element in target:
            self._read_out(str((element.get("message") or {}).get("text", "")), to)
        return echo

    # ------------------------------------------------------------------ control (tests, bench)

    async def healthz(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok", "sandbox": True})

    async def control_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.state.clear_requests()
            return JSONResponse({"cleared": True})
        return JSONResponse([asdict(r) for r in self.state.recorded()])

    async def control_faults(self, request: Request) -> Response:
        payload = await request.json() if request.method == "POST" else {}
        operation = (
            payload.pop("operation", "*") if payload else request.query_params.get("operation", "*")
        )
        if request.method == "DELETE":
            self.state.set_fault(operation, None)
        else:
            if payload.get("api_error"):
                payload["api_error"] = tuple(payload["api_error"])
            self.state.set_fault(operation, Fault(**payload))
        return JSONResponse({"operation": operation})

    async def control_incidents(self, request: Request) -> Response:
        with self.state.lock:
            self.state.incidents = list(await request.json())
        return JSONResponse({"incidents": len(self.state.incidents)})

    async def control_incoming(self, request: Request) -> Response:
        """Incoming calls: POST {caller, agent, outcome: answered|missed, billsec, location}."""
        if request.method == "GET":
            with self.state.lock:
                return JSONResponse(list(self.state.incoming))
        if request.method == "DELETE":
            with self.state.lock:
                self.state.incoming.clear()
            return JSONResponse({"cleared": True})
        try:
            payload = await request.json()
            outcome = str(payload.get("outcome", "answered")).lower()
            if outcome not in {"answered", "missed"}:
                raise ValueError("outcome must be answered or missed")
            billsec = payload.get("billsec")
            row = self.state.add_incoming(
                str(payload.get("caller", "")),
                str(payload.get("agent", "")),
                answered=outcome == "answered",
                billsec=None if billsec in (None, "") else int(billsec),
                location=str(payload.get("location") or "KARNATAKA"),
            )
        except (ValueError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(row)

    async def control_state(self, request: Request) -> Response:
        payload = await request.json()
        with self.state.lock:
            for name in ("step_seconds", "monitor_subscribed", "group_status_spelling"):
                if name in payload:
                    setattr(self.state, name, payload[name])
            if "key_styles" in payload:
                styles = payload["key_styles"]
                self.state.key_styles = None if styles is None else frozenset(styles)
        return JSONResponse({"ok": True})


LEGACY_METHODS = {
    "dial.click2call": Sandbox.click2call,
    "dial.c2cstatus": Sandbox.c2cstatus,
    "dial": Sandbox.dial,
    "block": Sandbox.block,
    "followup": Sandbox.followup,
    "followup.reports": Sandbox.followup_reports,
    "monitor": Sandbox.monitor,
    "autodial.add": Sandbox.autodial_add,
    "autodial.import": Sandbox.autodial_import,
    "voice.call": Sandbox.voice_call,
    "voice.json": Sandbox.voice_json,
    "voice.status": Sandbox.voice_status,
    "voice.groupstatus": Sandbox.voice_groupstatus,
}


def _record(
    api: str,
    operation: str,
    request: Request,
    query: dict[str, str],
    form: dict[str, str],
    body: Any,
    key_header: str | None,
    key_place: str | None,
) -> Any:
    from bot.sandbox.state import RecordedRequest

    clean_form = {k: v for k, v in form.items() if k != "api_key"}
    clean_query = {k: v for k, v in query.items() if k != "api_key"}
    return RecordedRequest(
        api,
        operation,
        request.method,
        request.url.path,
        clean_query,
        clean_form,
        body,
        key_header,
        key_place,
    )


def _with_prefix(number: str, prefix: str) -> str:
    if not prefix or number.startswith("+"):
        return number
    code = prefix.lstrip("+")
    return number if number.startswith(code) and len(number) > 10 else f"+{code}{number}"


def _filter_dates(items: list, form: dict[str, str], when) -> list:
    start, end = _legacy_date(form.get("fromdate")), _legacy_date(form.get("todate"))
    out = []
    for item in items:
        day = when(item).replace(tzinfo=None)
        if start and day.date() < start.date():
            continue
        if end and day.date() > end.date():
            continue
        out.append(item)
    return out


def _page(rows: list[dict[str, Any]], form: dict[str, str]) -> list[dict[str, Any]]:
    limit = _int(form, "limit", 1, 500) or 50
    page = _int(form, "page", 1, 100000) or 1
    return rows[(page - 1) * limit : page * limit]


def _replace_vars(template: str, row: dict[str, Any], call: C2CRecord) -> str:
    values = {
        "caller": call.caller,
        "receiver": call.receiver,
        "starttime": str(int(call.created.timestamp())),
        "endtime": "",
        "duration": row["duration"],
        "billsec": row["billsec"],
        "status": row["status2"] or row["status"],
        "status1": row["status"],
        "status2": row["status2"],
        "recordpath": row["recording"],
        "callerid": call.caller_id or "",
        "id": call.id,
    }
    for name, value in values.items():
        template = template.replace("{" + name + "}", quote(str(value), safe=""))
    return template


def _masked(number: str) -> str:
    """98******10, from a 10-digit number or the last ten digits of a +91… one."""
    digits = re.sub(r"\D", "", number)[-10:]
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:] if len(digits) > 4 else "****"


# Each method's rows, as the collection's XML examples wrap them (`data` holds one tag a row).
XML_ROW_TAGS = {
    "dial.c2cstatus": "dial",
    "dial": "dial",
    "followup.reports": "followup",
    "monitor": "monitor",
    "voice.call": "voice",
    "voice.json": "voice",
    "voice.status": "voice",
    "voice.groupstatus": "voice",
}
_XML_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")


def _xml_fill(element: ElementTree.Element, value: Any, row_tag: str) -> None:
    if isinstance(value, dict):
        rows = [(k, v) for k, v in value.items() if str(k).isdigit()]
        for key, item in value.items():  # group_id and named fields first, as the examples do
            if not str(key).isdigit():
                name = str(key) if _XML_NAME.match(str(key)) else "item"
                _xml_fill(ElementTree.SubElement(element, name), item, row_tag)
        for _key, item in sorted(rows, key=lambda kv: int(kv[0])):
            _xml_fill(ElementTree.SubElement(element, row_tag), item, row_tag)
    elif isinstance(value, list):
        for item in value:
            _xml_fill(ElementTree.SubElement(element, row_tag), item, row_tag)
    elif value is not None:
        element.text = str(value)


def _xml_response(method: str, payload: dict[str, Any]) -> Response:
    """The legacy answer as `format=xml` gives it: <api><status/><message/><data/></api>."""
    root = ElementTree.Element("api")
    ElementTree.SubElement(root, "status").text = str(payload.get("status", ""))
    ElementTree.SubElement(root, "message").text = str(payload.get("message", ""))
    if payload.get("data") is not None:
        _xml_fill(
            ElementTree.SubElement(root, "data"), payload["data"], XML_ROW_TAGS.get(method, "item")
        )
    body = '<?xml version="1.0" encoding="UTF-8" ?>\n' + ElementTree.tostring(root, "unicode")
    return Response(body, media_type="application/xml")


def create_sandbox(state: SandboxState | None = None) -> Sandbox:
    return Sandbox(state)
