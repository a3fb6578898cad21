"""The real Bolt app over HTTP on 127.0.0.1, a recording fake Slack, and the sandbox."""

from __future__ import annotations

import atexit
import re
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bot.deps import Tuning, build_deps
from bot.kaleyra import KaleyraClient
from bot.local.stack import Host, SlackHost, Stack
from bot.server import create_asgi
from bot.settings import Settings
from bot.slack.client import PacedWebClient
from bot.store import Store

SIGNING_SECRET = "test-signing-secret"
AGENT, ADMIN, OTHER = "U0AGENT", "U0ADMIN", "U0OTHER"
VERIFICATION_CODE = re.compile(r"code is ((?:\d ){5}\d)")


_HOSTS: tuple[SlackHost, Host] | None = None


def shared_hosts() -> tuple[SlackHost, Host]:
    """One fake-Slack server and one app server for the whole test process (started lazily)."""
    global _HOSTS
    if _HOSTS is None:
        _HOSTS = (SlackHost(), Host())
        atexit.register(lambda: [host.stop() for host in _HOSTS or ()])
    return _HOSTS


class Harness:
    """The real Bolt app over HTTP on 127.0.0.1, a recording fake Slack, and the sandbox.

    The two servers are shared by every test in the process; each Harness mounts a fresh app
    (its own store, clients and lifespan) and a fresh fake-Slack recorder on them.
    """

    def __init__(
        self,
        sandbox: Any,
        tmp_path: Path,
        clock: Any,
        *,
        tuning: Tuning | None = None,
        database_url: str | None = None,
        **settings: Any,
    ) -> None:
        self.sandbox = sandbox
        self.stack = Stack(SIGNING_SECRET, slack_host=shared_hosts()[0], app_host=shared_hosts()[1])
        self.fake = self.stack.fake
        self.slack_server = self.stack.slack_host
        self.settings = Settings(
            _env_file=None,
            slack_bot_token="xoxb-test-token",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=self.stack.slack_api_url,
            kaleyra_api_key="test-key",
            kaleyra_voice_url=sandbox.voice_url,
            kaleyra_io_url=sandbox.url + "/v1/",
            database_path=str(tmp_path / "voicebot.db"),
            database_url=database_url,
            admin_user_ids=ADMIN,
            scheduler_enabled=False,
            **settings,
        )
        self.deps = build_deps(
            self.settings,
            kaleyra=KaleyraClient(
                api_key="test-key",
                voice_url=sandbox.voice_url,
                io_url=sandbox.url + "/v1/",
                sid=self.settings.kaleyra_sid,
                timeout=3.0,
                backoff_seconds=0,
            ),
            store=Store(self.settings.database, clock=lambda: clock.now),
            slack=PacedWebClient(
                token="xoxb-test-token", base_url=self.settings.slack_api_url, pace_seconds=0
            ),
            clock=lambda: clock.now,
            tuning=tuning
            or Tuning(
                auto_track=False,
                progress_interval=0.0,
                freeze_heap=False,
                progress_hold=0.0,
                home_quiet=0.0,
                home_spacing=0.0,
                slack_limits=False,
            ),
        )
        self.app_server = self.stack.app_host
        self.stack.mount(create_asgi(self.deps))
        self.slack = self.stack.driver

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        """Run a coroutine on the app's own event loop (where its clients live)."""
        return self.stack.run(coro, timeout)

    def settle(self) -> None:
        """Wait until the work that followed the acks is done: no sleeping, no guessing."""
        self.run(self.deps.background.drain())

    def command(self, command: str, text: str = "", user_id: str = AGENT, **kw: Any):
        response = self.slack.command(command, text, user_id=user_id, **kw)
        self.settle()
        return response

    def replies(self) -> list[dict[str, Any]]:
        return self.fake.of("response_url")

    def register(self, user_id: str = AGENT, number: str = "9876543210") -> None:
        """Register `number` for `user_id` and prove it, as a person would: `/c2c register`,
        the bot rings the number and reads out a code (recorded by the sandbox), the code is
        typed back.

        The verification call is taken out of the sandbox's record, so tests see only the
        Kaleyra requests of what they do after registering.
        """
        state = self.sandbox.state
        seen = len(state.recorded())
        response = self.command("/c2c", f"register {number}", user_id=user_id)
        assert response.status_code == 200
        if "already calls from" in text_of(response.json()):
            return
        with state.lock:
            calls = [
                r
                for r in state.requests[seen:]
                if r.operation in {"voice.call", "outbound"}
                and VERIFICATION_CODE.search(r.form.get("message") or r.form.get("target") or "")
            ]
            assert calls, f"no verification call: {text_of(response.json())}"
            call = calls[-1]
            state.requests.remove(call)
        spoken = VERIFICATION_CODE.search(call.form.get("message") or call.form.get("target") or "")
        assert spoken is not None
        code = spoken.group(1).replace(" ", "")

        async def verify() -> None:
            # As `/c2c verify <code>` does (tested over the wire in test_c2c_safety), without a
            # second command: tests counting commands see one registration as one command.
            await self.deps.c2c.verify(user_id, code)

        self.run(verify())
        self.settle()

    def close(self) -> None:
        self.stack.close()
        self.run(self.deps.aclose())


def text_of(message: dict[str, Any]) -> str:
    """All the visible text of a message or view payload, for asserting what a user reads."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in {"mrkdwn", "plain_text"} and "text" in node:
                parts.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks", []))
    return "\n".join(parts) or str(message.get("text", ""))
