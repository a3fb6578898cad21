"""HTTP mode (uvicorn + Starlette) and Socket Mode; /healthz and the Kaleyra callback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.app import build_app
from bot.deps import Deps, build_deps
from bot.logs import configure_logging
from bot.settings import Settings

log = logging.getLogger("voicebot.server")


def create_asgi(deps: Deps, app: AsyncApp | None = None, *, slack_routes: bool = True) -> Starlette:
    bolt = app or build_app(deps)
    handler = AsyncSlackRequestHandler(bolt)
    ready = {"value": False}

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_request: Request) -> Response:
        if not ready["value"]:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "kaleyra": "sandbox" if deps.uses_sandbox else "live",
                "mode": "socket" if deps.settings.socket_mode else "http",
            }
        )

    async def kaleyra_callback(request: Request) -> Response:
        call = deps.calls.call_for_token(request.path_params["token"])
        if call is None:
            return PlainTextResponse("not found", status_code=404)
        deps.background.spawn(
            deps.calls.on_callback(call, dict(request.query_params)), name="c2c-callback"
        )
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # One pooled session for every Web API call; without it slack_sdk opens one per call.
        deps.slack.session = aiohttp.ClientSession()
        if deps.settings.scheduler_enabled:
            deps.scheduler.start()
        resumed = deps.calls.resume_tracking()
        if resumed:
            log.info("resumed tracking %d calls", resumed)
        ready["value"] = True
        yield
        ready["value"] = False
        deps.scheduler.shutdown()
        await deps.background.cancel_all()
        await deps.slack.session.close()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
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
    config = uvicorn.Config(
        create_asgi(deps, slack_routes=not settings.socket_mode),
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
    asyncio.run(_serve_socket_mode(deps, server))
    return 0


async def _serve_socket_mode(deps: Deps, server: uvicorn.Server) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert deps.settings.slack_app_token is not None
    socket = AsyncSocketModeHandler(
        build_app(deps), deps.settings.slack_app_token.get_secret_value()
    )
    log.info("Socket Mode; /healthz and callbacks on port %d", deps.settings.port)
    await socket.connect_async()
    try:
        await server.serve()
    finally:
        await socket.close_async()
