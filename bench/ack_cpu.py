"""CPU per ack, in-process: voicebot's /c2c listener path against a bare ack-only Bolt app.

Both ASGI apps are called directly (no sockets, no load generator), so the difference is the
work each does per request. Dials are queued but not placed (no Kaleyra behind them here).
Run: cd bench && ../.venv/bin/python ack_cpu.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from support import SECRET, command_body, signed

from bot.local.fakeslack import FakeSlack
from bot.local.serverthread import ServerThread
from bot.settings import Settings

USERS = 50


def bare_app(slack_url: str) -> Starlette:
    bolt = AsyncApp(
        client=AsyncWebClient(token="xoxb-bare", base_url=slack_url),
        signing_secret=SECRET,
        process_before_response=True,
    )

    async def c2c(ack: Any) -> None:
        await ack()

    bolt.command("/c2c")(c2c)
    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Any:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


async def call(app: Starlette, body: str, verifier: SignatureVerifier) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/slack/events",
        "raw_path": b"/slack/events",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in signed(body, verifier).items()],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
    }
    messages = [{"type": "http.request", "body": body.encode(), "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(_message: dict[str, Any]) -> None:
        return None

    await app(scope, receive, send)


async def main(requests: int) -> None:
    from bot.deps import build_deps
    from bot.server import create_asgi

    fake = FakeSlack()
    slack = ServerThread(fake.app).start()
    fake.base_url = slack.url
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            slack_bot_token="xoxb-bench",
            slack_signing_secret=SECRET,
            slack_api_url=slack.url + "/api/",
            kaleyra_api_key="bench-key",
            kaleyra_voice_url="http://127.0.0.1:9/v1/",
            database_path=os.path.join(tmp, "bench.db"),
            scheduler_enabled=False,
            log_level="CRITICAL",
        )
        deps = build_deps(settings)
        deps.c2c.dial = lambda *_a, **_k: None  # measure the ack, not the calls behind it
        users = [f"U{n:08d}" for n in range(USERS)]
        for n, user in enumerate(users):
            deps.store.register_agent(user, f"+9198{n:08d}")
        verifier = SignatureVerifier(SECRET)
        results = {}
        for name, app in (
            ("bare AsyncApp ack-only", bare_app(slack.url + "/api/")),
            ("voicebot /c2c dial", create_asgi(deps)),
        ):
            warm = [command_body("/c2c", "help", users[0], n) for n in range(100)]
            for body in warm:
                await call(app, body, verifier)
            bodies = [
                command_body("/c2c", f"91{n:08d}", users[n % USERS], 10_000 + n)
                for n in range(requests)
            ]
            started = time.thread_time()
            for body in bodies:
                await call(app, body, verifier)
            results[name] = (time.thread_time() - started) / requests * 1e6
        slack.stop()
    print(f"\n{requests} signed /c2c commands each, called in-process\n")
    print("| what | CPU µs per request |")
    print("|---|---|")
    for name, micros in results.items():
        print(f"| {name} | {micros:.0f} |")
    bare, ours = results.values()
    print(f"\nratio voicebot / bare: {ours / bare:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    asyncio.run(main(parser.parse_args().requests))
