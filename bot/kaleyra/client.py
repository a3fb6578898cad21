"""The Kaleyra client: one private request path, one short method per operation."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.kaleyra.bulk import (
    DIALER_IMPORT_LIMIT,
    OUTBOUND_TO_LIMIT,
    VOICE_CALL_LIMIT,
    BulkResult,
    ChunkOutcome,
    OnChunk,
    chunked,
    send_in_chunks,
)
from bot.kaleyra.errors import (
    KaleyraAPIError,
    KaleyraBadAnswer,
    KaleyraConnectionError,
    KaleyraError,
    KaleyraServerError,
    KaleyraTimeout,
)
from bot.kaleyra.models import (
    GROUP_STATUS_METHODS,
    C2CCall,
    CallDetail,
    ClickToCallRequest,
    ClickToCallResult,
    DialerResult,
    DialerRow,
    FollowupQuery,
    FollowupRecord,
    FollowupRequest,
    HealthReport,
    Incident,
    KeyStyle,
    LegacyEnvelope,
    LogQuery,
    ObdCall,
    ObdJsonRequest,
    ObdRequest,
    ObdResult,
    OutboundRequest,
    OutboundResult,
    rows_from_keyed,
)
from bot.kaleyra.transport import AiohttpTransport
from bot.runtime.metrics import KALEYRA_LATENCY, KALEYRA_REQUESTS

if TYPE_CHECKING:
    from bot.models import KaleyraAccount

log = logging.getLogger("voicebot.kaleyra")

NO_INCIDENTS = "E701"
OUTBOUND_SUBMITTED = "RBC3007"
M = TypeVar("M", bound=BaseModel)

# Kept importable from here while callers move to bot.kaleyra.bulk.
__all__ = [
    "DIALER_IMPORT_LIMIT",
    "OUTBOUND_TO_LIMIT",
    "VOICE_CALL_LIMIT",
    "BulkResult",
    "ChunkOutcome",
    "KaleyraClient",
    "OnChunk",
    "chunked",
]


@contextmanager
def decoding(operation: str, *, places_call: bool = False) -> Iterator[None]:
    """Turn any failure to read a 200 answer into KaleyraBadAnswer, never a stray exception."""
    try:
        yield
    except ValidationError as exc:
        problem = _validation_problem(exc)
        log.warning("kaleyra %s answer not understood: %s", operation, problem)
        raise KaleyraBadAnswer(operation, problem, outcome_unknown=places_call) from None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        log.warning("kaleyra %s answer not understood: %s", operation, type(exc).__name__)
        raise KaleyraBadAnswer(
            operation, f"unexpected {type(exc).__name__}", outcome_unknown=places_call
        ) from None


def _validation_problem(exc: ValidationError) -> str:
    """Where and what, never the value (answers carry phone numbers)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "answer"
    more = exc.error_count() - 1
    return f"{where}: {first['msg'].lower()}" + (f", and {more} more" if more > 0 else "")


class KaleyraClient:
    def __init__(
        self,
        *,
        api_key: str,
        voice_url: str = "https://api-voice.kaleyra.com/v1/",
        io_url: str = "https://api.kaleyra.io/v1/",
        sid: str | None = None,
        timeout: float = 10.0,
        read_retries: int = 2,
        backoff_seconds: float = 0.25,
        chunk_concurrency: int = 4,
        max_in_flight: int = 50,
        calls_in_flight: int = 200,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        key_style: KeyStyle = KeyStyle.X_API_KEY_HEADER,
        group_status_method: str = GROUP_STATUS_METHODS[0],
    ) -> None:
        self._api_key = api_key
        # How this account takes the key and spells voice.groupstatus: `voicebot doctor`
        # finds out, the store keeps it, bot/deps.py passes it here.
        self.key_style = key_style
        self.group_status_method = group_status_method
        self.voice_url = voice_url if voice_url.endswith("/") else voice_url + "/"
        self.io_url = io_url if io_url.endswith("/") else io_url + "/"
        self.sid = sid
        self.read_retries = read_retries
        self.backoff_seconds = backoff_seconds
        self.chunk_concurrency = max(1, chunk_concurrency)
        self._sleep = sleep
        self._skipped: set[tuple[str, str]] = set()  # log rows already reported as unreadable
        # Waiting here is O(1); thousands of requests queued inside httpx's pool are not.
        # Call-placing requests have their own budget, so a person's dial never queues behind
        # hundreds of status reads (and reads never starve behind a burst of dials).
        self._in_flight = asyncio.Semaphore(max(1, max_in_flight))
        self._calls_in_flight = asyncio.Semaphore(max(1, calls_in_flight))
        connections = max(1, max_in_flight) + max(1, calls_in_flight)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            # Sockets from aiohttp (see bot/kaleyra/transport.py); tests and the embedded
            # sandbox pass a transport of their own.
            transport=transport or AiohttpTransport(connections=connections),
        )

    def adapt(self, account: KaleyraAccount | None) -> None:
        """Talk to the account as `voicebot doctor` found it does (None: not checked yet)."""
        if account is not None:
            self.key_style = account.key_style
            self.group_status_method = account.group_status_method

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ the request path

    async def _request(
        self,
        operation: str,
        *,
        form: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: Any = None,
        places_call: bool = False,
        idempotent: bool = False,
        api: Literal["legacy", "io"] = "legacy",
    ) -> LegacyEnvelope | OutboundResult:
        """Send once (or, for idempotent reads, retry with backoff), decode, map errors."""
        attempts = 1 + (self.read_retries if idempotent and not places_call else 0)
        for attempt in range(1, attempts + 1):
            try:
                return await self._send_once(operation, form, params, body, places_call, api)
            except (KaleyraConnectionError, KaleyraServerError, KaleyraTimeout) as exc:
                if attempt == attempts:
                    raise
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                log.warning(
                    "kaleyra %s failed (%s); retry %d in %.2fs", operation, exc, attempt, delay
                )
                await self._sleep(delay)
        raise AssertionError("unreachable")

    async def _send_once(
        self,
        operation: str,
        form: dict[str, str] | None,
        params: dict[str, str] | None,
        body: Any,
        places_call: bool,
        api: Literal["legacy", "io"],
    ) -> LegacyEnvelope | OutboundResult:
        if api == "legacy":
            url, headers = self.voice_url, self._key_headers()
            if body is None:
                form = {"method": operation, "format": "json", **(form or {}), **self._key_field()}
            else:
                params = {"method": operation, **(params or {}), "format": "json"}
                params.update(self._key_field())  # beside `method`, where a JSON body allows
        else:
            if not self.sid:
                raise KaleyraError("KALEYRA_SID is not set, so kaleyra.io cannot be used.")
            url, headers = f"{self.io_url}{self.sid}/voice/outbound", {"api-key": self._api_key}
        started = time.perf_counter()
        try:
            return await self._send_timed(
                operation, url, headers, form, params, body, places_call, api, started
            )
        except KaleyraAPIError as exc:
            KALEYRA_REQUESTS.labels(operation, exc.code).inc()
            raise
        except KaleyraTimeout:
            KALEYRA_REQUESTS.labels(operation, "timeout").inc()
            raise
        except KaleyraConnectionError:
            KALEYRA_REQUESTS.labels(operation, "connect_error").inc()
            raise
        except KaleyraServerError as exc:
            KALEYRA_REQUESTS.labels(operation, str(exc.http_status or "bad_response")).inc()
            raise
        finally:
            KALEYRA_LATENCY.labels(operation).observe(time.perf_counter() - started)

    def _key_headers(self) -> dict[str, str]:
        match self.key_style:
            case KeyStyle.X_API_KEY_HEADER:
                return {"x-api-key": self._api_key}
            case KeyStyle.API_KEY_HEADER:
                return {"api_key": self._api_key}
            case _:
                return {}

    def _key_field(self) -> dict[str, str]:
        if self.key_style is KeyStyle.API_KEY_PARAMETER:
            return {"api_key": self._api_key}
        return {}

    async def _send_timed(
        self,
        operation: str,
        url: str,
        headers: dict[str, str],
        form: dict[str, str] | None,
        params: dict[str, str] | None,
        body: Any,
        places_call: bool,
        api: Literal["legacy", "io"],
        started: float,
    ) -> LegacyEnvelope | OutboundResult:
        try:
            async with self._calls_in_flight if places_call else self._in_flight:
                response = await self._http.post(
                    url, data=form, params=params, json=body, headers=headers
                )
        except httpx.ConnectError as exc:
            raise KaleyraConnectionError(
                f"Could not connect to Kaleyra ({type(exc).__name__}). Nothing was sent."
            ) from None
        except httpx.TimeoutException as exc:
            # A connect or pool timeout means nothing left this machine.
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            raise KaleyraTimeout(
                "Kaleyra did not answer in time.", outcome_unknown=places_call and sent
            ) from None
        except httpx.TransportError as exc:
            raise KaleyraConnectionError(
                f"The connection to Kaleyra broke ({type(exc).__name__}).",
                outcome_unknown=places_call,
            ) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info(
            "kaleyra %s -> HTTP %d in %.0f ms",
            operation,
            response.status_code,
            elapsed_ms,
            extra={"kaleyra_operation": operation, "latency_ms": round(elapsed_ms, 1)},
        )
        result = self._decode(operation, response, api, places_call)
        KALEYRA_REQUESTS.labels(operation, "ok").inc()
        return result

    @staticmethod
    def _decode(
        operation: str, response: httpx.Response, api: str, places_call: bool
    ) -> LegacyEnvelope | OutboundResult:
        status = response.status_code
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            if status >= 500:
                raise KaleyraServerError(
                    f"Kaleyra answered HTTP {status}.",
                    http_status=status,
                    outcome_unknown=places_call,
                )
            if 200 <= status < 300:
                raise KaleyraBadAnswer(
                    operation, "not JSON", http_status=status, outcome_unknown=places_call
                )
            raise KaleyraServerError(
                f"Kaleyra answered HTTP {status} with something that is not JSON.",
                http_status=status,
                outcome_unknown=places_call,
            )
        with decoding(operation, places_call=places_call):
            if api == "io":
                result = OutboundResult.model_validate(payload)
                if result.code != OUTBOUND_SUBMITTED:
                    raise KaleyraAPIError(
                        result.code,
                        result.message or "request refused",
                        field_errors=_field_errors(result.error),
                        http_status=status,
                    )
                return result
            envelope = LegacyEnvelope.model_validate(payload)
        if not envelope.ok and not (operation == "monitor" and envelope.status == NO_INCIDENTS):
            raise KaleyraAPIError(
                envelope.status,
                envelope.message or "request refused",
                http_status=status,
            )
        return envelope

    async def _legacy(self, operation: str, form: dict[str, str] | None = None, **kw: Any):
        envelope = await self._request(operation, form=form, **kw)
        assert isinstance(envelope, LegacyEnvelope)
        return envelope

    @staticmethod
    def _rows(operation: str, data: Any, model: type[M]) -> list[M]:
        """Rows keyed "0", "1", … or listed, each validated; any bad row is a KaleyraBadAnswer."""
        with decoding(operation):
            rows, _ = rows_from_keyed(data)
            return [model.model_validate(r) for r in rows]

    def _log_rows(self, operation: str, data: Any, model: type[M]) -> list[M]:
        """Log rows (`dial`, `dial.c2cstatus`): a row that cannot be read is skipped and logged
        once, and the others are kept. Only an answer with no readable row at all fails."""
        with decoding(operation):
            rows, _ = rows_from_keyed(data)
        kept: list[M] = []
        first_error: ValidationError | None = None
        for row in rows:
            try:
                kept.append(model.model_validate(row))
            except ValidationError as exc:
                first_error = first_error or exc
                self._skipped_once(operation, row, exc)
        if first_error is not None and not kept:
            with decoding(operation):
                raise first_error
        return kept

    def _skipped_once(self, operation: str, row: dict[str, Any], exc: ValidationError) -> None:
        ident = row.get("id") if isinstance(row.get("id"), (str, int)) else None
        key = (operation, str(ident) if ident is not None else _validation_problem(exc))
        if key in self._skipped:
            return
        if len(self._skipped) > 10_000:  # a bound, not a history
            self._skipped.clear()
        self._skipped.add(key)
        log.warning(
            "kaleyra %s: a row could not be read and was skipped: %s",
            operation,
            _validation_problem(exc),
        )

    async def _in_chunks(
        self,
        numbers: Sequence[str],
        size: int,
        send: Callable[[list[str]], Awaitable[Any]],
        on_chunk: OnChunk | None = None,
    ) -> BulkResult:
        return await send_in_chunks(
            numbers, size, send, concurrency=self.chunk_concurrency, on_chunk=on_chunk
        )

    # ------------------------------------------------------------------ click-to-call

    async def click_to_call(self, request: ClickToCallRequest) -> ClickToCallResult:
        """A 200 without a call id means Kaleyra took it but it cannot be followed: unknown."""
        operation = "dial.click2call"
        env = await self._legacy(operation, request.to_form(), places_call=True)
        with decoding(operation, places_call=True):
            rows, _ = rows_from_keyed(env.data)
            result = ClickToCallResult.model_validate(
                {"id": rows[0].get("id") if rows else None, "message": env.message}
            )
        if not result.id:
            log.warning("kaleyra %s answered 200 without a call id", operation)
            raise KaleyraBadAnswer(operation, "no call id", outcome_unknown=True)
        return result

    async def c2c_status(self, call_id: str) -> C2CCall | None:
        calls = await self.c2c_log(LogQuery(id=call_id))
        return next((c for c in calls if c.id == call_id), calls[0] if calls else None)

    async def c2c_log(self, query: LogQuery | None = None) -> list[C2CCall]:
        env = await self._legacy("dial.c2cstatus", (query or LogQuery()).to_form(), idempotent=True)
        return self._log_rows("dial.c2cstatus", env.data, C2CCall)

    async def call_details(self, query: LogQuery | None = None) -> list[CallDetail]:
        env = await self._legacy("dial", (query or LogQuery()).to_form(), idempotent=True)
        return self._log_rows("dial", env.data, CallDetail)

    # ------------------------------------------------------------------ blacklist

    async def blacklist_add(self, numbers: Sequence[str]) -> str:
        env = await self._legacy("block", {"number": ",".join(numbers)}, idempotent=True)
        return env.message

    async def blacklist_remove(self, numbers: Sequence[str]) -> str:
        form = {"number": ",".join(numbers), "action": "delete"}
        return (await self._legacy("block", form, idempotent=True)).message

    # ------------------------------------------------------------------ follow-ups

    async def followup_create(self, request: FollowupRequest) -> str:
        env = await self._legacy("followup", request.to_form())
        followup_id = _answer_id("followup", env.data)
        if not followup_id:
            raise KaleyraBadAnswer("followup", "no follow-up id")
        return followup_id

    async def followup_edit(self, followup_id: str, request: FollowupRequest) -> str:
        env = await self._legacy("followup", {**request.to_form(), "id": followup_id})
        return _answer_id("followup", env.data) or followup_id

    async def followup_delete(self, followup_id: str) -> str:
        form = {"id": followup_id, "action": "delete"}
        return (await self._legacy("followup", form)).message

    async def followup_report(self, query: FollowupQuery | None = None) -> list[FollowupRecord]:
        form = (query or FollowupQuery()).to_form()
        env = await self._legacy("followup.reports", form, idempotent=True)
        return self._rows("followup.reports", env.data, FollowupRecord)

    # ------------------------------------------------------------------ health

    async def health(self) -> HealthReport:
        env = await self._legacy("monitor", idempotent=True)
        if env.status == NO_INCIDENTS:
            return HealthReport(incidents=[], message=env.message or "No incidents found")
        data = env.data if isinstance(env.data, dict) else {}
        incidents = self._rows("monitor", data.get("incidents"), Incident)
        return HealthReport(incidents=incidents)

    # ------------------------------------------------------------------ progressive dialer

    async def dialer_add(self, name: str, number: str, meta: dict[str, Any] | None = None):
        form = {"name": name, "number": number, "meta": json.dumps(meta or {})}
        env = await self._legacy("autodial.add", form)
        return DialerResult.from_message(env.message)

    async def dialer_import(
        self, name: str, rows: Sequence[DialerRow], on_chunk: OnChunk | None = None
    ) -> BulkResult:
        by_number = {r.number: r for r in rows}

        async def send(numbers: list[str]) -> DialerResult:
            body = {"data": [by_number[n].model_dump() for n in numbers]}
            env = await self._request("autodial.import", params={"name": name}, body=body)
            return DialerResult.from_message(env.message)

        numbers = [r.number for r in rows]
        return await self._in_chunks(numbers, DIALER_IMPORT_LIMIT, send, on_chunk)

    # ------------------------------------------------------------------ OBD (legacy)

    async def obd_call(self, request: ObdRequest, on_chunk: OnChunk | None = None) -> BulkResult:
        """voice.call, 200 numbers a request; a group goes in one request."""

        async def send(numbers: list[str]) -> ObdResult:
            env = await self._legacy("voice.call", request.to_form(numbers), places_call=True)
            with decoding("voice.call", places_call=True):
                return ObdResult.from_data(env.data, env.message)

        if request.group:
            return await self._in_chunks([f"group:{request.group}"], 1, send, on_chunk)
        return await self._in_chunks(request.numbers, VOICE_CALL_LIMIT, send, on_chunk)

    async def obd_json(self, request: ObdJsonRequest) -> ObdResult:
        env = await self._request("voice.json", body=request.to_body(), places_call=True)
        with decoding("voice.json", places_call=True):
            return ObdResult.from_data(env.data, env.message)

    async def obd_status(self, call_id: str, mobile: str | None = None) -> list[ObdCall]:
        form = {"id": call_id, **({"mobile": mobile} if mobile else {})}
        env = await self._legacy("voice.status", form, idempotent=True)
        with decoding("voice.status"):
            return ObdResult.from_data(env.data).calls

    async def obd_group_status(self, group_id: str, campaign: str | None = None) -> list[ObdCall]:
        form = {"groupid": group_id, **({"campaign": campaign} if campaign else {})}
        operation = self.group_status_method
        env = await self._legacy(operation, form, idempotent=True)
        with decoding(operation):
            return ObdResult.from_data(env.data).calls

    # ------------------------------------------------------------------ kaleyra.io outbound

    async def outbound(
        self, request: OutboundRequest, on_chunk: OnChunk | None = None
    ) -> BulkResult:
        """kaleyra.io Outbound Calling, 100 numbers a request."""

        async def send(numbers: list[str]) -> OutboundResult:
            result = await self._request(
                "outbound", form=request.to_form(numbers), places_call=True, api="io"
            )
            assert isinstance(result, OutboundResult)
            return result

        return await self._in_chunks(request.to, OUTBOUND_TO_LIMIT, send, on_chunk)


def _answer_id(operation: str, data: Any) -> str | None:
    """The `id` of a one-row answer (`data: {"id": …}` or `[{"id": …}]`), as text."""
    with decoding(operation):
        rows, _ = rows_from_keyed(data)
        value = rows[0].get("id") if rows else None
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def _field_errors(error: Any) -> dict[str, str]:
    if isinstance(error, dict):
        return {str(k): str(v) for k, v in error.items()}
    return {}
