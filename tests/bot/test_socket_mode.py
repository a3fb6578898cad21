"""Socket Mode: the same handlers, reached over Slack's WebSocket instead of HTTP."""

from __future__ import annotations

import asyncio

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Tuning, build_deps
from bot.kaleyra import KaleyraClient
from bot.local.fakeslack import FakeSlack
from bot.local.serverthread import ServerThread
from bot.runtime.metrics import REGISTRY
from bot.server import create_asgi
from bot.settings import Settings
from bot.slack.app import build_app
from bot.store import Store


async def test_slash_command_over_socket_mode(sandbox, tmp_path) -> None:
    fake = FakeSlack()
    with ServerThread(fake.app) as slack_server:
        settings = Settings(
            _env_file=None,
            slack_bot_token="xoxb-test",
            slack_app_token="xapp-test",
            slack_api_url=slack_server.url + "/api/",
            kaleyra_api_key="k",
            database_path=str(tmp_path / "v.db"),
        )
        assert settings.socket_mode and settings.slack_configured
        deps = build_deps(
            settings,
            kaleyra=KaleyraClient(api_key="k", voice_url=sandbox.voice_url),
            store=Store(settings.database_path),
            slack=AsyncWebClient(token="xoxb-test", base_url=settings.slack_api_url),
            tuning=Tuning(auto_track=False),
        )
        with ServerThread(create_asgi(deps, slack_routes=False)) as app_server:

            def run(coro):
                return asyncio.run_coroutine_threadsafe(coro, app_server.loop).result(10)

            async def connect() -> AsyncSocketModeHandler:
                # As in `voicebot serve`: the handler's aiohttp session needs the running loop.
                handler = AsyncSocketModeHandler(build_app(deps), "xapp-test")
                await handler.connect_async()
                return handler

            def counted() -> float:
                labels = {"name": "/c2c", "outcome": "ok"}
                return REGISTRY.get_sample_value("voicebot_commands_total", labels) or 0.0

            before = counted()
            handler = run(connect())
            assert fake.socket_connected.wait(10)
            assert fake.of("apps.connections.open")  # went to SLACK_API_URL, not slack.com
            envelope = {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": "T0VOICE",
                    "user_id": "U0AGENT",
                    "channel_id": "C0SALES",
                    "command": "/c2c",
                    "text": "register 9876543210",
                    "api_app_id": "A0VOICE",
                    "response_url": slack_server.url + "/response/1",
                    "trigger_id": "1.t",
                },
            }
            asyncio.run_coroutine_threadsafe(fake.push(envelope), slack_server.loop).result(5)
            assert fake.socket_replies["env-1"].wait(10)
            [ack] = fake.of("socket_ack")
            assert ack["envelope_id"] == "env-1"
            assert "now calls from +91 98765 43210" in ack["payload"]["text"]
            assert (await deps.store.get_agent("U0AGENT")).number == "+919876543210"
            assert counted() == before + 1  # /metrics counts Socket Mode requests too
            run(handler.close_async())
        await deps.store.aclose()
