"""HTTP mode (uvicorn + Starlette) and Socket Mode; /healthz and the Kaleyra callback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncBoltRequest
from slack_bolt.request.async_internals import build_async_context
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.deps import Deps, build_deps
from bot.lifecycle import Lifecycle
from bot.runtime.leader import DatabaseInUse, SingleProcessLock
from bot.runtime.logs import REQUEST_ID, configure_logging
from bot.runtime.metrics import COMMANDS, CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from bot.runtime.recent import RecentKeys
from bot.runtime.replica import REPLICA_ID
from bot.settings import Settings
from bot.slack.app import build_app

log = logging.getLogger("voicebot.server")
REPLAY_WINDOW_SECONDS = 360
MAX_BODY_BYTES = 1024 * 1024  # Slack's largest payloads (a full modal's state) are far below
SIGNATURE_MAX_AGE_SECONDS = 300  # Slack's own rule: refuse requests signed 5 minutes ago or more
MAX_TOKEN_LENGTH = 200
MAX_CALLBACK_QUERY = 8192
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, read as it arrives and abandoned once past `limit` (with or without a length)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


class SlackSignature:
    """Slack's request signing (v0 HMAC-SHA256 over `v0:{timestamp}:{raw body}`), over raw bytes.

    Checked before anything is remembered or parsed, so an unsigned request costs one HMAC and
    leaves nothing behind. Malformed headers are refused without computing anything.
    """

    def __init__(self, secret: str | None, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret.encode() if secret else None
        self._clock = clock

    def valid(self, body: bytes, timestamp: str, signature: str) -> bool:
        if self._secret is None or not _SIGNATURE.fullmatch(signature):
            return False
        if not _TIMESTAMP.fullmatch(timestamp):
            return False
        if abs(self._clock() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
            return False
        expected = hmac.new(
            self._secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(signature, "v0=" + expected)


def parse_slack_body(text: str, content_type: str | None) -> dict[str, Any]:
    """What Slack sent, as Bolt reads it, minus Bolt's slip: a form whose text merely contains
    the word "payload" (a command typed in #payload-team) is read as a form, not as empty.

    ValueError for anything that is not a JSON object or a form.
    """
    if not text:
        return {}
    if content_type == "application/json" or text.startswith("{"):
        parsed: Any = json.loads(text)
    else:
        form = dict(parse_qsl(text, keep_blank_values=True))
        parsed = json.loads(form["payload"]) if "payload" in form else form
    if not isinstance(parsed, dict):
        raise ValueError("the body is not a JSON object")
    return parsed


def to_bolt_request(request: Request, text: str) -> AsyncBoltRequest:
    """Bolt's request for a verified body; ValueError when the body is not a Slack payload."""
    content_type = request.headers.get("content-type", "").split(";")[0]  # as Bolt reads it
    try:
        body = parse_slack_body(text, content_type or None)
    except RecursionError:  # JSON nested deeper than Python's stack
        raise ValueError("the body is nested too deeply") from None
    bolt_request = AsyncBoltRequest(
        body=text,
        query=request.query_params,  # type: ignore[arg-type]
        headers=request.headers,  # type: ignore[arg-type]
    )
    if body != bolt_request.body:
        bolt_request.body = body
        bolt_request.context = build_async_context(AsyncBoltContext({}), body)
    return bolt_request


def delivery_identity(body: dict[str, Any]) -> str | None:
    """What makes a Slack delivery the same delivery again: an Events API event's `event_id`,
    a slash command's or an interaction's `trigger_id`. None for what has neither."""
    if body.get("type") == "event_callback":
        event_id = body.get("event_id")
        return f"event:{event_id}" if isinstance(event_id, str) and event_id else None
    trigger = body.get("trigger_id")
    if not isinstance(trigger, str) or not trigger or len(trigger) > 200:
        return None
    kind = "command" if "command" in body else str(body.get("type") or "interaction")[:40]
    return f"{kind}:{trigger}"


def create_asgi(deps: Deps, app: AsyncApp | None = None, *, slack_routes: bool = True) -> Starlette:
    bolt = app or build_app(deps)
    secret = deps.settings.slack_signing_secret
    signing = SlackSignature(secret.get_secret_value() if secret else None)
    # Bolt refuses timestamps older than 5 minutes, so remembering a signature for 6 covers
    # every replay Bolt would accept. In memory: a SQLite write per request was the largest
    # cost of an ack. Only signatures that verified are remembered.
    replays = RecentKeys(REPLAY_WINDOW_SECONDS, time.monotonic)
    lifecycle = Lifecycle(deps)

    async def slack_events(request: Request) -> Response:
        # Work spawned by the listener copies this context, so its logs keep the request id
        # (as random as uuid4's first 12 hex digits, at a fifth of the cost).
        REQUEST_ID.set(os.urandom(6).hex())
        try:
            raw = await read_capped(request, MAX_BODY_BYTES)
        except BodyTooLarge:
            COMMANDS.labels("too_large", "rejected").inc()
            return PlainTextResponse("request body too large", status_code=413)
        signature = request.headers.get("x-slack-signature", "")
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        if not signing.valid(raw, timestamp, signature):
            COMMANDS.labels("unverified", "rejected").inc()
            return JSONResponse({"error": "invalid request"}, status_code=401)
        if not replays.first_time(signature):
            # The same signed request again (a replay inside Slack's 5-minute window): no effect.
            COMMANDS.labels("replayed", "rejected").inc()
            return PlainTextResponse("", status_code=200)
        try:
            bolt_request = to_bolt_request(request, raw.decode("utf-8"))
        except ValueError:  # not UTF-8, not JSON, not an object (UnicodeDecodeError included)
            COMMANDS.labels("undecodable", "rejected").inc()
            return PlainTextResponse("the body is not a Slack payload", status_code=400)
        # Slack re-sends (X-Slack-Retry-Num) what it thinks failed: the delivery is taken once
        # by its own identity, in the store every replica shares, so a retry of work done does
        # nothing and a retry of a delivery that never arrived (or did nothing) is done once.
        identity = delivery_identity(bolt_request.body)
        if identity is not None and not await deps.deliveries.first(identity):
            retry = bool(request.headers.get("x-slack-retry-num"))
            COMMANDS.labels("retry" if retry else "duplicate", "ignored").inc()
            return PlainTextResponse("", status_code=200)
        try:
            response = await bolt.async_dispatch(bolt_request)  # counted there
        except BaseException:
            if identity is not None:
                await deps.deliveries.forget(identity)
            raise
        if identity is not None and response.status >= 500:
            await deps.deliveries.forget(identity)
        return to_starlette_response(response)

    async def healthz(_request: Request) -> Response:
        if not lifecycle.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        database = await deps.store.ping()
        return JSONResponse(
            {
                "status": "ok" if database else "degraded",
                "kaleyra": "sandbox" if deps.uses_sandbox else "live",
                "mode": "socket" if deps.settings.socket_mode else "http",
                "database": "ok" if database else "not answering",
                "scheduler": lifecycle.scheduler_role,
                "replica": REPLICA_ID,
            },
            status_code=200 if database else 503,
        )

    async def kaleyra_callback(request: Request) -> Response:
        token = request.path_params["token"]
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return PlainTextResponse("not found", status_code=404)
        if len(request.url.query) > MAX_CALLBACK_QUERY:  # Kaleyra's dozen variables fit in 2 KB
            return PlainTextResponse("query too long", status_code=414)
        try:
            call = await deps.c2c.call_for_token(token)
            if call is None:
                return PlainTextResponse("not found", status_code=404)
            work = deps.c2c.on_callback(call, dict(request.query_params))
        except Exception:  # whatever a forged token trips over, the answer is "no such call"
            log.warning("Kaleyra callback refused: the token could not be checked", exc_info=True)
            return PlainTextResponse("not found", status_code=404)
        deps.background.spawn(work, name="c2c-callback")
        return PlainTextResponse("ok")

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await lifecycle.start()
        yield
        await lifecycle.stop()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/kaleyra/callback/{token}", kaleyra_callback, methods=["GET"]),
    ]
    if slack_routes:
        routes.insert(0, Route("/slack/events", slack_events, methods=["POST"]))
    asgi = Starlette(routes=routes, lifespan=lifespan)
    asgi.state.replays = replays  # for tests: what unauthenticated requests cannot grow
    return asgi


def serve(settings: Settings) -> int:
    configure_logging(settings)
    deps = build_deps(settings)
    if deps.store.dialect == "sqlite" and deps.store.path != ":memory:":
        # With SQLite one process is the whole deployment: a second one on the same file would
        # ring customers twice. Several replicas need PostgreSQL (DATABASE_URL).
        try:
            SingleProcessLock(deps.store.path).acquire()
        except DatabaseInUse as exc:
            print(f"voicebot: {exc}", file=sys.stderr)
            return 2
    if deps.uses_sandbox:
        log.warning(
            "KALEYRA_API_KEY is not set: using the embedded sandbox, no real calls are placed"
        )
    bolt = build_app(deps)  # one Bolt app, behind HTTP or Socket Mode
    config = uvicorn.Config(
        create_asgi(deps, bolt, slack_routes=not settings.socket_mode),
        host="0.0.0.0",
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    if not settings.socket_mode:
        log.info("HTTP mode on port %d: POST /slack/events", settings.port)
        server.run()
        return 0
    asyncio.run(_serve_socket_mode(deps, bolt, server))
    return 0


def socket_mode_handler(deps: Deps, bolt: AsyncApp, app_token: str) -> Any:
    """Bolt's Socket Mode handler with the HTTP path's rule: a delivery Slack sends again (to
    this connection or to another replica's; Slack gives each envelope to one of up to 10) is
    taken once, by its identity in the shared store; a delivery that failed may come again."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_sdk.socket_mode.response import SocketModeResponse

    class OnceSocketModeHandler(AsyncSocketModeHandler):
        async def handle(self, client: Any, req: Any) -> None:
            body = req.payload if isinstance(req.payload, dict) else {}
            identity = delivery_identity(body)
            if identity is not None and not await deps.deliveries.first(identity):
                COMMANDS.labels("retry", "ignored").inc()
                await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))
                return
            try:
                await super().handle(client, req)
            except BaseException:
                if identity is not None:
                    await deps.deliveries.forget(identity)
                raise

    return OnceSocketModeHandler(bolt, app_token)


async def _serve_socket_mode(deps: Deps, bolt: AsyncApp, server: uvicorn.Server) -> None:
    assert deps.settings.slack_app_token is not None
    socket = socket_mode_handler(deps, bolt, deps.settings.slack_app_token.get_secret_value())
    log.info("Socket Mode; /healthz and callbacks on port %d", deps.settings.port)
    await socket.connect_async()
    try:
        await server.serve()
    finally:
        await socket.close_async()
