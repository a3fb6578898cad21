"""The Slack Web API client voicebot uses: honours 429 Retry-After and paces posts per channel."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

PACED_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})


class PacedWebClient(AsyncWebClient):
    """Slack allows about one message a second per channel: keep to it instead of meeting 429s.

    A 429 that happens anyway is retried after the Retry-After Slack sends (slack_sdk's handler).
    """

    def __init__(self, *args: Any, pace_seconds: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault(
            "retry_handlers",
            [
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            ],
        )
        super().__init__(*args, **kwargs)
        self.pace_seconds = pace_seconds
        self._next_slot: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> Any:
        channel = (kwargs.get("json") or kwargs.get("params") or kwargs.get("data") or {}).get(
            "channel"
        )
        if api_method not in PACED_METHODS or not channel or self.pace_seconds <= 0:
            return await super().api_call(api_method, *args, **kwargs)
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._next_slot.get(channel, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_slot[channel] = time.monotonic() + self.pace_seconds
        return await super().api_call(api_method, *args, **kwargs)
