"""One sandbox server per test session on loopback; each test gets fresh state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.local.serverthread import ServerThread
from bot.sandbox import Sandbox, SandboxState

IST = ZoneInfo("Asia/Kolkata")


class FrozenClock:
    """An injectable clock: tests move time, nobody sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)


class RunningSandbox:
    def __init__(self) -> None:
        self.sandbox = Sandbox(SandboxState())
        self.server = ServerThread(self.sandbox.app)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def voice_url(self) -> str:
        return self.server.url + "/v1/"

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    def reset(self, **state: object) -> SandboxState:
        self.sandbox.state = SandboxState(**state)
        return self.sandbox.state


def start_sandbox() -> Iterator[RunningSandbox]:
    running = RunningSandbox()
    running.server.start()
    try:
        yield running
    finally:
        running.server.stop()


def default_clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 23, 11, 0, tzinfo=IST))
