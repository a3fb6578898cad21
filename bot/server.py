"""HTTP mode (uvicorn + Starlette) and Socket Mode; /healthz and the Kaleyra callback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator

import uvicorn
from slack_bolt.adapter.starlette.async_handler import (
    to_async_bolt_request,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.deps import Deps, build_deps
from bot.lifecycle import Lifecycle
from bot.runtime.logs import REQUEST_ID, configure_logging
from bot.runtime.metrics import COMMANDS, CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from bot.runtime.recent import RecentKeys
from bot.settings import Settings
from bot.slack.app import build_app

log = logging.getLogger("voicebot.server")
REPLAY_WINDOW_SECONDS = 360


def create_asgi(deps: Deps, app: AsyncApp | None = None, *, slack_routes: bool = True) -> Starlette:
    bolt = app or build_app(deps)
    # Bolt refuses timestamps older than 5 minutes, so remembering a signature for 6 covers
    # every replay Bolt would accept. In memory: a SQLite write per request was the largest
    # cost of an ack.
    replays = RecentKeys(REPLAY_WINDOW_SECONDS, time.monotonic)
    lifecycle = Lifecycle(deps)

    async def slack_events(request: Request) -> Response:
        # Work spawned by the listener copies this context, so its logs keep the request id
        # (as random as uuid4's first 12 hex digits, at a fifth of the cost).
        REQUEST_ID.set(os.urandom(6).hex())
        signature = request.headers.get("x-slack-signature", "")
        if signature and not replays.first_time(signature):
            # The same signed request again (a replay inside Slack's 5-minute window): no effect.
            COMMANDS.labels("replayed", "rejected").inc()
            return PlainTextResponse("", status_code=200)
        if request.headers.get("x-slack-retry-num"):
            # Slack re-sends what it thinks timed out. The first delivery did the work.
            COMMANDS.labels("retry", "ignored").inc()
            return PlainTextResponse("", status_code=200)
        bolt_request = to_async_bolt_request(request, await request.body())
        return to_starlette_response(await bolt.async_dispatch(bolt_request))  # counted there

    async def healthz(_request: Request) -> Response:
        if not lifecycle.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "kaleyra": "sandbox" if deps.uses_sandbox else "live",
                "mode": "socket" if deps.settings.socket_mode else "http",
            }
        )

    async def kaleyra_callback(request: Request) -> Response:
        call = deps.c2c.call_for_token(request.path_params["token"])
        if call is None:
            return PlainTextResponse("not found", status_code=404)
        deps.background.spawn(
            deps.c2c.on_callback(call, dict(request.query_params)), name="c2c-callback"
        )
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
    return Starlette(routes=routes, lifespan=lifespan)


def serve(settings: Settings) -> int:
    configure_logging(settings)
    deps = build_deps(settings)
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


async def _serve_socket_mode(deps: Deps, bolt: AsyncApp, server: uvicorn.Server) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert deps.settings.slack_app_token is not None
    socket = AsyncSocketModeHandler(bolt, deps.settings.slack_app_token.get_secret_value())
    log.info("Socket Mode; /healthz and callbacks on port %d", deps.settings.port)
    await socket.connect_async()
    try:
        await server.serve()
    finally:
        await socket.close_async()
