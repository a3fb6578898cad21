"""The Slack Web API client voicebot uses: honours 429 Retry-After and paces posts per channel."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.budget import BUDGETED

PACED_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
# Keep-alive connections to the Web API: a burst of calls waits for one of these instead of
# opening (in production: a TLS handshake each) as many connections as calls in flight.
SLACK_CONNECTIONS = 16


def slack_session() -> aiohttp.ClientSession:
    """The process's one pooled session for the Slack Web API (made on the running loop)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=SLACK_CONNECTIONS))


class UnbudgetedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's retry after a 429, for calls the budget did not send: the budget handles its
    own (it blocks the method for Retry-After and keeps the newest state queued)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if BUDGETED.get():
            return False
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


class PacedWebClient(AsyncWebClient):
    """Slack allows about one message a second per channel: keep to it instead of meeting 429s.

    Calls sent by the budget (bot/slack/budget.py) are already paced, and their 429s are its to
    handle; any other 429 is retried after the Retry-After Slack sends (slack_sdk's handler).
    The session (one keep-alive pool per process) is set by bot/lifecycle.py.
    """

    def __init__(self, *args: Any, pace_seconds: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault(
            "retry_handlers",
            [
                AsyncConnectionErrorRetryHandler(),
                UnbudgetedRateLimitRetry(max_retry_count=2),
            ],
        )
        super().__init__(*args, **kwargs)
        self.pace_seconds = pace_seconds
        self._next_slot: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> Any:
        if self.session is None or self.session.closed:
            # Started without bot/lifecycle.py (an in-process bench): still one pooled session,
            # never slack_sdk's session per call.
            self.session = slack_session()
        channel = (kwargs.get("json") or kwargs.get("params") or kwargs.get("data") or {}).get(
            "channel"
        )
        budgeted = BUDGETED.get()
        if budgeted or api_method not in PACED_METHODS or not channel or self.pace_seconds <= 0:
            return await super().api_call(api_method, *args, **kwargs)
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._next_slot.get(channel, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_slot[channel] = time.monotonic() + self.pace_seconds
        return await super().api_call(api_method, *args, **kwargs)

    async def aclose(self) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.close()
