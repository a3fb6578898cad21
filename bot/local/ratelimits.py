"""Slack's published Web API rate limits, as the fake Slack enforces them in its rate-limit mode.

Slack limits each method per app per workspace by tier (docs: "Rate limits"): Tier 1 1+ a
minute, Tier 2 20+, Tier 3 50+, Tier 4 100+, "with bursts"; chat.postMessage is special: about
one message a second per channel, short bursts allowed. Past that it answers HTTP 429 with
`Retry-After` (seconds). Here a tier is the strictest reading of those words: at most `limit`
calls accepted in any `per`-second window (a burst of the whole minute's allowance at once is
fine, a 51st chat.update within 60 s is not); a posting channel is a token bucket of `burst`
refilled once a second. Refused calls do not count, as at Slack.

The clock is injected, so a test can run minutes of Slack time without waiting for them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

TIER_1, TIER_2, TIER_3, TIER_4 = 1, 20, 50, 100

# The methods voicebot calls, by their published tier (per method, per workspace).
TIERS: dict[str, int] = {
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "conversations.open": TIER_3,
    "views.publish": TIER_4,
    "views.open": TIER_4,
    "views.update": TIER_4,
    "views.push": TIER_4,
    "chat.postEphemeral": TIER_4,
    "users.info": TIER_4,
    "files.info": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "auth.test": TIER_4,  # "special": generous; Bolt calls it once
    "apps.connections.open": TIER_1,
}
PER_CHANNEL = frozenset({"chat.postMessage"})  # about one a second per channel, short bursts
CHANNEL_BURST = 3


@dataclass
class Window:
    """At most `limit` accepted calls in any `per` seconds."""

    limit: int
    per: float = 60.0

    def __post_init__(self) -> None:
        self.accepted: deque[float] = deque()

    def try_take(self, now: float) -> float:
        """0 when the call is accepted now, else how many seconds until it would be."""
        while self.accepted and self.accepted[0] <= now - self.per:
            self.accepted.popleft()
        if len(self.accepted) < self.limit:
            self.accepted.append(now)
            return 0.0
        return self.accepted[0] + self.per - now


@dataclass
class Bucket:
    """A token bucket: `burst` at once, then `rate` a second."""

    burst: float
    rate: float = 1.0
    tokens: float = -1.0
    at: float = 0.0

    def try_take(self, now: float) -> float:
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimits:
    """Decides, call by call, whether Slack would take it; counts what it refused per method."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.refused: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self._windows: dict[str, Window] = {}
        self._channels: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def retry_after(self, method: str, payload: dict) -> int | None:
        """None when Slack takes the call; else the Retry-After it answers (whole seconds, ≥ 1)."""
        with self._lock:
            now = self.clock()
            if method in PER_CHANNEL:
                channel = str(payload.get("channel") or "")
                bucket = self._channels.setdefault(channel, Bucket(CHANNEL_BURST))
                wait = bucket.try_take(now)
            elif method in TIERS:
                window = self._windows.setdefault(method, Window(TIERS[method]))
                wait = window.try_take(now)
            else:
                wait = 0.0
            if wait <= 0:
                self.accepted[method] += 1
                return None
            self.refused[method] += 1
            return max(1, math.ceil(wait))
