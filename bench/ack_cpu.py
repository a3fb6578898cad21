"""CPU per ack, in-process: voicebot's /c2c listener path against a bare ack-only Bolt app.

Both ASGI apps are called directly (no sockets, no load generator), so the difference is the
work each does per request. The bot is wired through `build_deps` like every entry point, with
a Kaleyra client whose transport answers at once (httpx.MockTransport): the ack is measured
first, then the work each dial causes after it (record, place, card, Home), drained.
Run: .venv/bin/python bench/ack_cpu.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from support import ADMIN, SECRET, signed

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


RESPONSE = {"url": "http://127.0.0.1:9"}  # the fake Slack's, once it runs


def command_body(command: str, text: str, user_id: str, n: int) -> str:
    return urlencode(
        {
            "team_id": "T0VOICE",
            "channel_id": "C0BENCH",
            "user_id": user_id,
            "command": command,
            "text": text,
            "api_app_id": "A0VOICE",
            "response_url": f"{RESPONSE['url']}/response/{n}",
            "trigger_id": f"{n}.t",
        }
    )


async def call(app: Starlette, body: str, verifier: SignatureVerifier) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/slack/events",
        "raw_path": b"/slack/events",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in signed(body).items()],
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


def placed(request: httpx.Request) -> httpx.Response:
    """Kaleyra answering every dial at once (and every status read with nothing yet)."""
    if b"dial.click2call" in request.content:
        return httpx.Response(200, json={"status": "200", "message": "OK", "data": {"id": "c2c_1"}})
    return httpx.Response(200, json={"status": "200", "message": "OK", "data": []})


async def main(requests: int) -> None:
    from bot.deps import Tuning, build_deps
    from bot.kaleyra import KaleyraClient
    from bot.server import create_asgi

    verifier = SignatureVerifier(SECRET)

    fake = FakeSlack()
    slack = ServerThread(fake.app).start()
    fake.base_url = RESPONSE["url"] = slack.url
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
            admin_user_ids=ADMIN,
            log_level="CRITICAL",
        )
        kaleyra = KaleyraClient(api_key="k", transport=httpx.MockTransport(placed))
        deps = build_deps(settings, kaleyra=kaleyra, tuning=Tuning(auto_track=False))
        users = [f"U{n:08d}" for n in range(USERS)]
        bot = create_asgi(deps)
        for n, user in enumerate(users):  # admin-assigned: no verification call needed
            text = f"register <@{user}> 98{n:08d}"
            await call(bot, command_body("/c2c", text, ADMIN, 900_000 + n), verifier)
        await deps.background.drain()
        results = {}
        for name, app in (
            ("bare AsyncApp ack-only", bare_app(slack.url + "/api/")),
            ("voicebot /c2c dial, the ack", bot),
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
        started = time.thread_time()
        await deps.background.drain(timeout=120)
        results["voicebot /c2c dial, its work after the ack"] = (
            (time.thread_time() - started) / requests * 1e6
        )
        await kaleyra.aclose()
        slack.stop()
    print(f"\n{requests} signed /c2c commands each, called in-process\n")
    print("| what | CPU µs per request |")
    print("|---|---|")
    for name, micros in results.items():
        print(f"| {name} | {micros:.0f} |")
    bare, ours, _after = results.values()
    print(f"\nratio of the acks, voicebot / bare: {ours / bare:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    asyncio.run(main(parser.parse_args().requests))
