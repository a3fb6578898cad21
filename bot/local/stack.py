"""The whole bot on loopback: a recording fake Slack, the real app over HTTP, a signed driver.

The console, the end-to-end tests and the benchmarks share it. Servers are long-lived and
switchable: a test session starts two uvicorn threads once and mounts each test's fresh app on
them (with its lifespan, as uvicorn would run it), so a test pays for its own state only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.local.fakeslack import FakeSlack, SlackDriver
from bot.local.serverthread import ServerThread

Asgi = Callable[
    [dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class Switch:
    """An ASGI app forwarding HTTP and WebSocket traffic to whichever app is mounted now."""

    def __init__(self) -> None:
        self.target: Asgi | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the host's own lifespan: nothing to start
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if self.target is None:
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b"nothing mounted"})
            return
        await self.target(scope, receive, send)


class Lifespan:
    """Runs an ASGI app's lifespan (startup now, shutdown later) on the running loop."""

    def __init__(self, app: Asgi) -> None:
        self.app = app
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.get_running_loop().create_task(
            self.app(scope, self._inbox.get, self._outbox.put)
        )
        await self._inbox.put({"type": "lifespan.startup"})
        answer = await self._outbox.get()
        if answer["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"app did not start: {answer}")

    async def shutdown(self) -> None:
        if self._task is None:
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._outbox.get()
        await self._task


class Host:
    """A uvicorn thread on 127.0.0.1 serving a Switch; mount and unmount apps on its loop."""

    def __init__(self) -> None:
        self.switch = Switch()
        self.server = ServerThread(self.switch).start()
        self._lifespan: Lifespan | None = None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self.server.loop is not None
        return self.server.loop

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        """Run a coroutine on the host's loop (where the mounted app's clients live)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def mount(self, app: Asgi, *, lifespan: bool = True) -> None:
        self.unmount()
        if lifespan:
            self._lifespan = Lifespan(app)
            self.run(self._lifespan.startup())
        self.switch.target = app

    def unmount(self) -> None:
        self.switch.target = None
        if self._lifespan is not None:
            lifespan, self._lifespan = self._lifespan, None
            self.run(lifespan.shutdown())

    def stop(self) -> None:
        self.unmount()
        self.server.stop()


class SlackHost(Host):
    """The fake Slack Web API, a fresh recorder mounted per use."""

    def fresh(self) -> FakeSlack:
        fake = FakeSlack()
        fake.base_url = self.url
        self.mount(fake.app, lifespan=False)
        return fake


class Stack:
    """Fake Slack + the app + a signed driver, on two hosts (given, or started here)."""

    def __init__(
        self,
        signing_secret: str,
        *,
        slack_host: SlackHost | None = None,
        app_host: Host | None = None,
    ) -> None:
        self._own = slack_host is None
        self.slack_host = slack_host or SlackHost()
        self.app_host = app_host or Host()
        self.fake = self.slack_host.fresh()
        self.signing_secret = signing_secret
        self.driver = SlackDriver(self.app_host.url, signing_secret, self.slack_host.url)

    @property
    def slack_api_url(self) -> str:
        return self.slack_host.url + "/api/"

    def mount(self, app: Asgi) -> None:
        self.app_host.mount(app)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return self.app_host.run(coro, timeout)

    def close(self) -> None:
        self.app_host.unmount()
        self.driver.close()
        if self._own:
            self.app_host.stop()
            self.slack_host.stop()
