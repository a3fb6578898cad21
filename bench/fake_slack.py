"""The fake Slack Web API with a read-back route for benchmarks (argv: port), 127.0.0.1 only.

GET /_bench/calls?method=…&since=N returns the calls recorded from the N-th on (method,
payload, monotonic time); GET /_bench/count how many there are.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from bot.local.fakeslack import FakeSlack

port = int(sys.argv[1])
fake = FakeSlack()
fake.base_url = f"http://127.0.0.1:{port}"


async def calls(request: Request) -> JSONResponse:
    method = request.query_params.get("method")
    since = int(request.query_params.get("since", "0"))
    with fake.lock:
        recorded = fake.calls[since:]
    return JSONResponse(
        [
            {"method": c.method, "payload": c.payload, "at": c.at}
            for c in recorded
            if method in (None, c.method)
        ]
    )


async def count(_request: Request) -> JSONResponse:
    with fake.lock:
        return JSONResponse({"count": len(fake.calls)})


app = Starlette(
    routes=[
        Route("/_bench/calls", calls),
        Route("/_bench/count", count),
        Mount("/", app=fake.app),
    ]
)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
