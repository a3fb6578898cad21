"""Outbound broadcasts and dialer uploads: plan, confirm, send in chunks, follow the calls."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.grammar import UsageError
from bot.grammar.csvnumbers import CsvResult
from bot.grammar.obd import DialerUpload, ObdStart
from bot.kaleyra import BulkResult, ChunkOutcome, KaleyraAPIError, KaleyraError
from bot.kaleyra.client import DIALER_IMPORT_LIMIT, OUTBOUND_TO_LIMIT, VOICE_CALL_LIMIT, chunked
from bot.kaleyra.models import (
    FINAL_STATUSES,
    DialerRow,
    ObdJsonCall,
    ObdJsonRequest,
    ObdRequest,
    OutboundRequest,
    OutboundTarget,
)
from bot.phones import Phone, parse_number_list
from bot.views import obd as views
from bot.views.common import describe_kaleyra_error

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger("voicebot.obd")
JSON_CALL_GROUPS = 5  # call groups per voice.json request


class Broadcasts:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._last_update: dict[int, float] = {}
        self._message: dict[int, tuple[str, str]] = {}  # job id -> (channel, ts) of its progress

    @property
    def via_io(self) -> bool:
        return bool(self.deps.settings.kaleyra_sid)

    # ------------------------------------------------------------------ planning

    def _numbers(self, text: str) -> dict[str, Any]:
        parsed = parse_number_list(text, self.deps.settings.default_region)
        listed = self.deps.store.blacklisted(p.e164 for p in parsed.valid)
        keep = [p for p in parsed.valid if p.e164 not in listed]
        return {
            "numbers": [p.e164 for p in keep],
            "national": [p.national for p in keep],  # parsed once here, not again at the click
            "invalid": [str(b) for b in parsed.invalid],
            "duplicates": [str(b) for b in parsed.duplicates],
            "blacklisted": [Phone.known(n).pretty for n in sorted(listed)],
        }

    def _check_schedule(self, at: datetime | None) -> tuple[datetime | None, str | None]:
        settings = self.deps.settings
        now = self.deps.clock().astimezone(settings.tz)
        when = at.replace(tzinfo=settings.tz) if at else None
        if when is not None:
            if when < now + timedelta(minutes=15):
                raise UsageError(
                    f"The time {when:%Y-%m-%d %H:%M} must be at least 15 minutes from now ({now:%Y-%m-%d %H:%M} {settings.timezone})."
                )
            limit = timedelta(days=90) if self.via_io else timedelta(days=61)
            if when > now + limit:
                raise UsageError(
                    f"The time {when:%Y-%m-%d %H:%M} is too far ahead: at most {'90 days' if self.via_io else '2 months'}."
                )
        window = settings.calling_hours
        moment = when or now
        if window and not (window[0] <= moment.time().replace(second=0, microsecond=0) < window[1]):
            start, end = window
            next_day = moment.date() + timedelta(days=1 if moment.time() >= end else 0)
            suggestion = datetime.combine(next_day, start)
            if suggestion < now.replace(tzinfo=None) + timedelta(minutes=15):
                suggestion = (now + timedelta(minutes=20)).replace(
                    tzinfo=None, second=0, microsecond=0
                )
            which = f"{when:%H:%M} is" if when else f"It is {now:%H:%M} now,"
            raise UsageError(
                f"Broadcasts may only ring between {start:%H:%M} and {end:%H:%M} {settings.timezone}; {which} outside that. "
                f"Schedule it into the window: add `at {suggestion:%Y-%m-%d %H:%M}`."
            )
        return when, (f"{when:%Y-%m-%d %H:%M} {settings.timezone}" if when else None)

    def plan(self, start: ObdStart, numbers: dict[str, Any] | None = None) -> dict[str, Any]:
        if start.group and self.via_io:
            raise UsageError(
                "Contact groups work with the legacy Voice API only; list the numbers instead."
            )
        if self.via_io and not self.deps.settings.kaleyra_bridge:
            raise UsageError(
                "KALEYRA_SID is set but KALEYRA_BRIDGE is not: an admin must set the DID to call from."
            )
        payload: dict[str, Any] = {
            "kind": "obd",
            "group": start.group,
            "play": start.play,
            "say": start.say,
            "campaign": start.campaign,
            "retries": start.retries,
        }
        if start.group:
            payload.update(numbers=[], invalid=[], duplicates=[], blacklisted=[], requests=1)
        else:
            payload.update(numbers or self._numbers(start.numbers_text))
            if not payload["numbers"]:
                raise UsageError(
                    "No number is left to call: "
                    + "; ".join(
                        payload["invalid"][:5]
                        + payload["blacklisted"][:5]
                        + payload["duplicates"][:5]
                    )
                    + "."
                )
            size = OUTBOUND_TO_LIMIT if self.via_io else VOICE_CALL_LIMIT
            payload["requests"] = math.ceil(len(payload["numbers"]) / size)
        when, at_text = self._check_schedule(start.at)
        payload.update(
            at=when.isoformat() if when else None,
            at_text=at_text,
            api_name="kaleyra.io Outbound Calling" if self.via_io else "the Voice API (voice.call)",
        )
        return payload

    def plan_dialer(
        self, upload: DialerUpload, numbers: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "kind": "dialer",
            "campaign": upload.campaign,
            **(numbers or self._numbers(upload.numbers_text)),
        }
        if not payload["numbers"]:
            raise UsageError(
                "No number is left to upload: "
                + "; ".join(payload["invalid"][:5] + payload["blacklisted"][:5])
                + "."
            )
        count = len(payload["numbers"])
        payload["requests"] = 1 if count == 1 else math.ceil(count / DIALER_IMPORT_LIMIT)
        payload["api_name"] = "autodial.add" if count == 1 else "autodial.import"
        return payload

    def plan_rows(self, result: CsvResult, start: ObdStart, dialer: str | None) -> dict[str, Any]:
        """A plan from an uploaded CSV: every row called, skipped with its reason, or uploaded."""
        listed = self.deps.store.blacklisted(r.phone.e164 for r in result.rows)
        keep = [r for r in result.rows if r.phone.e164 not in listed]
        numbers = {
            "numbers": [r.phone.e164 for r in keep],
            "national": [r.phone.national for r in keep],
            "invalid": result.errors,
            "duplicates": result.duplicates,
            "blacklisted": [Phone.known(n).pretty for n in sorted(listed)],
        }
        if dialer:
            payload = self.plan_dialer(DialerUpload(dialer, ""), numbers)
            payload["fields"] = {r.phone.e164: r.fields for r in keep}
            return payload
        column = next((k for r in keep for k in r.fields if k.lower() == "message"), None)
        messages = {r.phone.e164: r.fields[column] for r in keep if column and r.fields.get(column)}
        if messages and self.via_io:
            raise UsageError(
                "A message per row needs the legacy Voice API (voice.json); KALEYRA_SID routes broadcasts to kaleyra.io."
            )
        if len(messages) < len(keep) and not (start.play or start.say):
            raise UsageError(
                f"{len(keep) - len(messages)} rows have no message: give a sound or a message for them in the form."
            )
        payload = self.plan(start, numbers)
        if messages:
            payload["messages"] = messages
            payload["requests"] = len(self._json_requests(payload))
            payload["api_name"] = "the Voice API (voice.json, a message per row)"
        return payload

    @staticmethod
    def _json_requests(payload: dict[str, Any]) -> list[ObdJsonRequest]:
        """Numbers grouped by message, 200 to a call group, five call groups to a request."""
        by_message: dict[str | None, list[str]] = {}
        for number in payload["numbers"]:
            by_message.setdefault(payload["messages"].get(number), []).append(
                Phone.known(number).national
            )
        calls = [
            ObdJsonCall(
                to=",".join(part),
                message=message or payload.get("say"),
                play=None if message else payload.get("play"),
            )
            for message, numbers in by_message.items()
            for part in chunked(numbers, VOICE_CALL_LIMIT)
        ]
        when = payload.get("at") and datetime.fromisoformat(payload["at"]).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        return [
            ObdJsonRequest(
                call=group,
                campaign=payload.get("campaign"),
                retries=payload.get("retries"),
                scheduletime=when or None,
            )
            for group in chunked(calls, JSON_CALL_GROUPS)
        ]

    async def _send_json(self, payload: dict[str, Any], on_chunk: Any) -> BulkResult:
        outcomes = []
        for index, request in enumerate(self._json_requests(payload)):
            numbers = [n for call in request.call for n in (call.to or "").split(",")]
            try:
                outcome = ChunkOutcome(
                    index, numbers, "accepted", result=await self.deps.kaleyra.obd_json(request)
                )
            except KaleyraError as exc:
                outcome = ChunkOutcome(
                    index, numbers, "unknown" if exc.outcome_unknown else "rejected", error=exc
                )
            await on_chunk(outcome)
            outcomes.append(outcome)
        return BulkResult(outcomes)

    # ------------------------------------------------------------------ running

    async def start(self, job_id: int, user_id: str) -> None:
        job = self.deps.store.get_job(job_id)
        assert job is not None
        payload = job["payload"]
        total = 1 if payload.get("group") else len(payload["numbers"])
        result = {
            "total": total,
            "accepted": 0,
            "rejected": 0,
            "unknown": 0,
            "chunks_done": 0,
            "chunks": payload["requests"],
            "errors": [],
            "group_ids": [],
        }
        await self._post(job_id, user_id, payload, result)

        async def on_chunk(outcome: ChunkOutcome) -> None:
            result["chunks_done"] += 1
            result[outcome.state] += len(outcome.numbers)
            if outcome.error is not None:
                result["errors"].append(
                    f"Request {outcome.index + 1}: {describe_kaleyra_error(outcome.error)}"
                )
            group_id = getattr(outcome.result, "group_id", None)
            if group_id:
                result["group_ids"].append(group_id)
            # Not awaited: a paced Slack update must not hold up the next chunk or the job's end.
            self.deps.background.spawn(
                self._update(job_id, payload, result), name=f"obd-progress-{job_id}"
            )

        try:
            bulk = await self._send(payload, on_chunk)
        except KaleyraError as exc:  # raised before any chunk was sent
            result["errors"].append(describe_kaleyra_error(exc))
            bulk = BulkResult([])
        result["finished"] = True
        if payload["kind"] == "obd" and result["accepted"] and not result["group_ids"]:
            result["note"] = (
                "Kaleyra accepted the job without call ids, so per-number statuses cannot be followed here."
            )
        if payload.get("at"):
            result["note"] = f"Scheduled for {payload['at_text']}."
        self._audit(job, result, bulk)
        # The record first: the Slack update below may wait for the channel's pacing slot.
        state = "tracking" if result["group_ids"] and not payload.get("at") else "done"
        self.deps.store.update_job(job_id, state=state, result=result)
        await self._update(job_id, payload, result, force=True)
        if state == "tracking" and self.deps.auto_track:
            self.deps.background.spawn(self.track(job_id), name=f"track-obd-{job_id}")

    async def _send(self, payload: dict[str, Any], on_chunk) -> BulkResult:
        kaleyra, settings = self.deps.kaleyra, self.deps.settings
        nationals = payload.get("national") or [Phone.known(n).national for n in payload["numbers"]]
        phones = [
            _Known(e164, national)
            for e164, national in zip(payload["numbers"], nationals, strict=True)
        ]
        when = datetime.fromisoformat(payload["at"]) if payload.get("at") else None
        if payload["kind"] == "dialer":
            if len(phones) == 1:
                try:
                    answer = await kaleyra.dialer_add(payload["campaign"], phones[0].national)
                    outcome = ChunkOutcome(0, [phones[0].national], "accepted", result=answer)
                except KaleyraError as exc:
                    outcome = ChunkOutcome(
                        0,
                        [phones[0].national],
                        "unknown" if exc.outcome_unknown else "rejected",
                        error=exc,
                    )
                await on_chunk(outcome)
                return BulkResult([outcome])
            fields = payload.get("fields") or {}
            rows = [
                DialerRow.model_validate({**fields.get(p.e164, {}), "number": p.national})
                for p in phones
            ]
            return await kaleyra.dialer_import(payload["campaign"], rows, on_chunk)
        if payload.get("messages"):
            return await self._send_json(payload, on_chunk)
        if self.via_io:
            target = (
                OutboundTarget.for_text(payload["say"])
                if payload.get("say")
                else _io_target(payload["play"])
            )
            request = OutboundRequest(
                to=[p.international for p in phones],
                target=[target],
                bridge=settings.kaleyra_bridge,
                time=when,
                retry=payload.get("retries"),
                custom=payload.get("campaign"),
            )
            return await kaleyra.outbound(request, on_chunk)
        request = ObdRequest(
            numbers=[p.national for p in phones],
            group=payload.get("group"),
            play=payload.get("play"),
            message=payload.get("say"),
            retries=payload.get("retries"),
            campaign=payload.get("campaign"),
            scheduletime=when.replace(tzinfo=None) if when else None,
        )
        return await kaleyra.obd_call(request, on_chunk)

    def _audit(self, job: dict[str, Any], result: dict[str, Any], bulk: BulkResult) -> None:
        codes = [c.error.code for c in bulk.chunks if isinstance(c.error, KaleyraAPIError)]
        self.deps.store.audit(
            user_id=job["user_id"],
            action=f"{job['kind']}.start",
            outcome=f"accepted {result['accepted']}, rejected {result['rejected']}, unknown {result['unknown']}",
            numbers=job["payload"]["numbers"][:50],
            kaleyra_ids=result["group_ids"],
            detail={"job": job["id"], "codes": codes, "total": result["total"]},
        )

    # ------------------------------------------------------------------ the progress message

    async def _post(
        self, job_id: int, user_id: str, payload: dict[str, Any], result: dict[str, Any]
    ) -> None:
        try:
            response = await self.deps.slack.chat_postMessage(
                channel=user_id,
                **views.progress_message(job_id, payload, result, sandbox=self.deps.uses_sandbox),
            )
        except SlackApiError as exc:
            log.warning("could not post progress of job %s: %s", job_id, exc.response.get("error"))
            return
        self.deps.store.update_job(job_id, channel=response["channel"], message_ts=response["ts"])
        self._message[job_id] = (response["channel"], response["ts"])

    async def _update(
        self, job_id: int, payload: dict[str, Any], result: dict[str, Any], force: bool = False
    ) -> None:
        now = time.monotonic()
        if not force and now - self._last_update.get(job_id, 0.0) < self.deps.progress_interval:
            return  # Slack allows about one update a second per message
        self._last_update[job_id] = now
        await self.deps.background.turn()  # twenty jobs' chunks finish together
        where = self._message.get(job_id)
        if where is None:  # after a restart: read it back from the store once
            job = self.deps.store.get_job(job_id)
            if not job or not job["channel"]:
                return
            where = self._message[job_id] = (job["channel"], job["message_ts"])
        try:
            await self.deps.slack.chat_update(
                channel=where[0],
                ts=where[1],
                **views.progress_message(job_id, payload, result, sandbox=self.deps.uses_sandbox),
            )
        except SlackApiError as exc:
            log.warning(
                "could not update progress of job %s: %s", job_id, exc.response.get("error")
            )

    # ------------------------------------------------------------------ following the calls

    async def poll_once(self, job_id: int) -> bool:
        """Read voice.groupstatus for every group of the job; True once every call is final."""
        job = self.deps.store.get_job(job_id)
        if not job or job["state"] != "tracking":
            return True
        result = job["result"]
        counts: Counter[str] = Counter()
        try:
            for group_id in result["group_ids"]:
                for call in await self.deps.kaleyra.obd_group_status(group_id):
                    counts[(call.status or "UNKNOWN").upper()] += 1
        except KaleyraError as exc:
            log.warning("status of job %s not read: %s", job_id, exc)
            return False
        result["statuses"] = dict(counts)
        final = bool(counts) and all(status in FINAL_STATUSES for status in counts)
        await self._update(job_id, job["payload"], result, force=True)
        self.deps.store.update_job(job_id, result=result, state="done" if final else "tracking")
        return final

    async def poll_tracking(self) -> None:
        """The scheduler's job: follow every broadcast whose calls are still in progress."""
        for job in self.deps.store.jobs_in_state("tracking"):
            await self.poll_once(job["id"])

    async def track(self, job_id: int, every: float = 15.0, limit: float = 3 * 3600) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            await asyncio.sleep(every)
            if await self.poll_once(job_id):
                return


def _io_target(play: str) -> OutboundTarget:
    if play.endswith(".sound"):
        return OutboundTarget.for_sounds(int(play.removesuffix(".sound")))
    return OutboundTarget.for_ivr(play.removeprefix("ivr:").removesuffix(".ivr"))


class _Known:
    """A number already validated at planning: its forms, without parsing it again."""

    __slots__ = ("e164", "national")

    def __init__(self, e164: str, national: str) -> None:
        self.e164, self.national = e164, national

    @property
    def international(self) -> str:
        return self.e164
