"""The fake Slack Web API with a read-back route for benchmarks (argv: port), 127.0.0.1 only.

GET /_bench/calls?method=…&since=N returns the calls recorded from the N-th on (method,
payload, monotonic time); GET /_bench/count how many there are; PUT /_bench/files/{id}?name=…
puts a file where a form's file_input would have it (the payload's file object comes back);
GET /_bench/uploaded?title=… reads back what the bot uploaded (files_upload_v2); GET
/_bench/invalid lists the payloads Slack would have refused (Block Kit limits).
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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


async def put_file(request: Request) -> JSONResponse:
    name = request.query_params.get("name", "numbers.csv")
    return JSONResponse(fake.upload(request.path_params["file_id"], await request.body(), name))


async def uploaded(request: Request) -> Response:
    content = fake.uploaded_file(request.query_params.get("title", ""))
    if content is None:
        return Response(status_code=404)
    return Response(content, media_type="text/csv")


async def invalid(_request: Request) -> JSONResponse:
    return JSONResponse(fake.invalid)


app = Starlette(
    routes=[
        Route("/_bench/calls", calls),
        Route("/_bench/count", count),
        Route("/_bench/files/{file_id}", put_file, methods=["PUT"]),
        Route("/_bench/uploaded", uploaded),
        Route("/_bench/invalid", invalid),
        Mount("/", app=fake.app),
    ]
)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
