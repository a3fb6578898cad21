"""The Kaleyra sandbox with arrival stamps (argv: port step_seconds), on 127.0.0.1 only.

The sandbox is another helper's code; this wrapper stays on the bench side. Every legacy request
is stamped when it arrives (headers and body read) and when its answer has gone, on the
machine's monotonic clock, which every process here shares, so a stamp can be compared with the
load generator's send times. GET /_bench/stamps[?operation=…] returns them.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from bot.sandbox import Sandbox, SandboxState

port, step_seconds = int(sys.argv[1]), float(sys.argv[2])
sandbox = Sandbox(SandboxState(step_seconds=step_seconds))
stamps: list[dict[str, Any]] = []


def _summary(body: bytes, query: bytes) -> dict[str, Any]:
    form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
    form.update({k: v[0] for k, v in parse_qs(query.decode()).items() if k == "method"})
    numbers = form.get("numbers", "")
    return {
        "operation": form.get("method", ""),
        "receiver": form.get("receiver"),
        "numbers": numbers.count(",") + 1 if numbers else 0,
    }


async def _json(send: Any, data: Any) -> None:
    raw = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": raw})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        await sandbox.app(scope, receive, send)
        return
    path = scope["path"]
    if path == "/_bench/stamps":
        wanted = parse_qs(scope["query_string"].decode()).get("operation", [None])[0]
        await _json(send, [s for s in stamps if wanted in (None, s["operation"])])
        return
    if path not in {"/v1/", "/v1"} or scope["method"] != "POST":
        await sandbox.app(scope, receive, send)
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    arrived = time.monotonic()
    body = b"".join(chunks)
    stamp = {**_summary(body, scope["query_string"]), "arrived": arrived, "done": None}
    stamps.append(stamp)  # on arrival; "done" is filled in once the answer has gone
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    await sandbox.app(scope, replay, send)
    stamp["done"] = time.monotonic()


uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
