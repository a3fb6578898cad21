"""The yardstick: a bare Bolt AsyncApp that only acks, under uvicorn (argv: port slack_url secret)."""

import sys

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

port, slack_url, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
app = AsyncApp(
    client=AsyncWebClient(token="xoxb-bare", base_url=slack_url),
    signing_secret=secret,
    process_before_response=True,
)


@app.command("/c2c")
async def c2c(ack):
    await ack()


handler = AsyncSlackRequestHandler(app)


async def events(request):
    return await handler.handle(request)


async def healthz(_request):
    return JSONResponse({"status": "ok"})


asgi = Starlette(
    routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", healthz)]
)
uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False)
