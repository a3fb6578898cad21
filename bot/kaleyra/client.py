"""The Kaleyra client: one private request path, one short method per operation."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx
from pydantic import ValidationError

from bot.kaleyra.errors import (
    KaleyraAPIError,
    KaleyraConnectionError,
    KaleyraError,
    KaleyraServerError,
    KaleyraTimeout,
)
from bot.kaleyra.models import (
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
from bot.runtime.metrics import KALEYRA_LATENCY, KALEYRA_REQUESTS

log = logging.getLogger("voicebot.kaleyra")

VOICE_CALL_LIMIT = 200
OUTBOUND_TO_LIMIT = 100
DIALER_IMPORT_LIMIT = 1000
NO_INCIDENTS = "E701"
OUTBOUND_SUBMITTED = "RBC3007"

T = TypeVar("T")
OnChunk = Callable[["ChunkOutcome"], Awaitable[None]]
ChunkState = Literal["accepted", "rejected", "unknown"]


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """In order, remainder last: 450 by 200 gives 200, 200, 50."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass
class ChunkOutcome:
    index: int
    numbers: list[str]
    state: ChunkState
    result: Any = None
    error: KaleyraError | None = None


@dataclass
class BulkResult:
    """Every number of a chunked job, accounted for chunk by chunk."""

    chunks: list[ChunkOutcome] = field(default_factory=list)

    def numbers_in(self, state: ChunkState) -> list[str]:
        return [n for c in self.chunks if c.state == state for n in c.numbers]

    @property
    def accepted(self) -> list[str]:
        return self.numbers_in("accepted")

    @property
    def rejected(self) -> list[str]:
        return self.numbers_in("rejected")

    @property
    def unknown(self) -> list[str]:
        return self.numbers_in("unknown")

    @property
    def total(self) -> int:
        return sum(len(c.numbers) for c in self.chunks)


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
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._api_key = api_key
        self.voice_url = voice_url if voice_url.endswith("/") else voice_url + "/"
        self.io_url = io_url if io_url.endswith("/") else io_url + "/"
        self.sid = sid
        self.read_retries = read_retries
        self.backoff_seconds = backoff_seconds
        self.chunk_concurrency = max(1, chunk_concurrency)
        self._sleep = sleep
        # Waiting here is O(1); thousands of requests queued inside httpx's pool are not.
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            transport=transport,
        )

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
            url, headers = self.voice_url, {"x-api-key": self._api_key}
            if body is None:
                form = {"method": operation, "format": "json", **(form or {})}
            else:
                params = {"method": operation, **(params or {}), "format": "json"}
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
            async with self._in_flight:
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
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            if response.status_code >= 500:
                raise KaleyraServerError(
                    f"Kaleyra answered HTTP {response.status_code}.",
                    http_status=response.status_code,
                    outcome_unknown=places_call,
                )
            raise KaleyraServerError(
                f"Kaleyra answered HTTP {response.status_code} with something that is not JSON.",
                http_status=response.status_code,
                outcome_unknown=places_call,
            )
        try:
            if api == "io":
                result = OutboundResult.model_validate(payload)
                if result.code != OUTBOUND_SUBMITTED:
                    raise KaleyraAPIError(
                        result.code,
                        result.message or "request refused",
                        field_errors=_field_errors(result.error),
                        http_status=response.status_code,
                    )
                return result
            envelope = LegacyEnvelope.model_validate(payload)
        except ValidationError:
            raise KaleyraServerError(
                f"Kaleyra's answer to {operation} was not in the expected shape.",
                http_status=response.status_code,
                outcome_unknown=places_call,
            ) from None
        if not envelope.ok and not (operation == "monitor" and envelope.status == NO_INCIDENTS):
            raise KaleyraAPIError(
                envelope.status,
                envelope.message or "request refused",
                http_status=response.status_code,
            )
        return envelope

    async def _legacy(self, operation: str, form: dict[str, str] | None = None, **kw: Any):
        envelope = await self._request(operation, form=form, **kw)
        assert isinstance(envelope, LegacyEnvelope)
        return envelope

    async def _in_chunks(
        self,
        numbers: Sequence[str],
        size: int,
        send: Callable[[list[str]], Awaitable[Any]],
        on_chunk: OnChunk | None = None,
    ) -> BulkResult:
        """Send each chunk once, a few at a time, and record every chunk's outcome in order."""
        gate = asyncio.Semaphore(self.chunk_concurrency)

        async def one(index: int, part: list[str]) -> ChunkOutcome:
            async with gate:
                try:
                    outcome = ChunkOutcome(index, part, "accepted", result=await send(part))
                except KaleyraError as exc:
                    state: ChunkState = "unknown" if exc.outcome_unknown else "rejected"
                    outcome = ChunkOutcome(index, part, state, error=exc)
            if on_chunk is not None:
                await on_chunk(outcome)
            return outcome

        parts = chunked(list(numbers), size)
        return BulkResult(list(await asyncio.gather(*(one(i, p) for i, p in enumerate(parts)))))

    # ------------------------------------------------------------------ click-to-call

    async def click_to_call(self, request: ClickToCallRequest) -> ClickToCallResult:
        env = await self._legacy("dial.click2call", request.to_form(), places_call=True)
        data = env.data if isinstance(env.data, dict) else {}
        return ClickToCallResult(id=data.get("id"), message=env.message)

    async def c2c_status(self, call_id: str) -> C2CCall | None:
        calls = await self.c2c_log(LogQuery(id=call_id))
        return next((c for c in calls if c.id == call_id), calls[0] if calls else None)

    async def c2c_log(self, query: LogQuery | None = None) -> list[C2CCall]:
        env = await self._legacy("dial.c2cstatus", (query or LogQuery()).to_form(), idempotent=True)
        rows, _ = rows_from_keyed(env.data)
        return [C2CCall.model_validate(r) for r in rows]

    async def call_details(self, query: LogQuery | None = None) -> list[CallDetail]:
        env = await self._legacy("dial", (query or LogQuery()).to_form(), idempotent=True)
        rows, _ = rows_from_keyed(env.data)
        return [CallDetail.model_validate(r) for r in rows]

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
        return str((env.data or {}).get("id", ""))

    async def followup_edit(self, followup_id: str, request: FollowupRequest) -> str:
        env = await self._legacy("followup", {**request.to_form(), "id": followup_id})
        return str((env.data or {}).get("id", followup_id))

    async def followup_delete(self, followup_id: str) -> str:
        form = {"id": followup_id, "action": "delete"}
        return (await self._legacy("followup", form)).message

    async def followup_report(self, query: FollowupQuery | None = None) -> list[FollowupRecord]:
        form = (query or FollowupQuery()).to_form()
        env = await self._legacy("followup.reports", form, idempotent=True)
        rows, _ = rows_from_keyed(env.data)
        return [FollowupRecord.model_validate(r) for r in rows]

    # ------------------------------------------------------------------ health

    async def health(self) -> HealthReport:
        env = await self._legacy("monitor", idempotent=True)
        if env.status == NO_INCIDENTS:
            return HealthReport(incidents=[], message=env.message or "No incidents found")
        data = env.data if isinstance(env.data, dict) else {}
        incidents = data.get("incidents") or []
        return HealthReport(incidents=[Incident.model_validate(i) for i in incidents])

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
            return ObdResult.from_data(env.data, env.message)

        if request.group:
            return await self._in_chunks([f"group:{request.group}"], 1, send, on_chunk)
        return await self._in_chunks(request.numbers, VOICE_CALL_LIMIT, send, on_chunk)

    async def obd_json(self, request: ObdJsonRequest) -> ObdResult:
        env = await self._request("voice.json", body=request.to_body(), places_call=True)
        return ObdResult.from_data(env.data, env.message)

    async def obd_status(self, call_id: str, mobile: str | None = None) -> list[ObdCall]:
        form = {"id": call_id, **({"mobile": mobile} if mobile else {})}
        env = await self._legacy("voice.status", form, idempotent=True)
        return ObdResult.from_data(env.data).calls

    async def obd_group_status(self, group_id: str, campaign: str | None = None) -> list[ObdCall]:
        form = {"groupid": group_id, **({"campaign": campaign} if campaign else {})}
        env = await self._legacy("voice.groupstatus", form, idempotent=True)
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


def _field_errors(error: Any) -> dict[str, str]:
    if isinstance(error, dict):
        return {str(k): str(v) for k, v in error.items()}
    return {}
