"""The fake Slack's rate-limit mode: 429 and Retry-After past each method's published tier."""

from __future__ import annotations

import httpx

from bot.local.fakeslack import FakeSlack
from bot.local.ratelimits import RateLimits
from bot.local.serverthread import ServerThread


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_tier_3_takes_50_a_minute_then_says_when_to_come_back() -> None:
    clock = Clock()
    limits = RateLimits(clock)
    assert [limits.retry_after("chat.update", {}) for _ in range(50)] == [None] * 50
    clock.now = 20.5
    assert limits.retry_after("chat.update", {}) == 40  # the first of the 50 leaves at 60 s
    assert limits.retry_after("views.publish", {}) is None  # every method has its own window
    clock.now = 60.0
    assert limits.retry_after("chat.update", {}) is None
    assert (limits.accepted["chat.update"], limits.refused["chat.update"]) == (51, 1)


def test_posts_burst_a_little_then_one_a_second_per_channel() -> None:
    clock = Clock()
    limits = RateLimits(clock)
    answers = [limits.retry_after("chat.postMessage", {"channel": "D1"}) for _ in range(4)]
    assert answers == [None, None, None, 1]
    assert limits.retry_after("chat.postMessage", {"channel": "D2"}) is None
    clock.now = 1.0
    assert limits.retry_after("chat.postMessage", {"channel": "D1"}) is None


def test_over_the_wire_a_refused_call_is_an_http_429_with_retry_after() -> None:
    fake = FakeSlack()
    clock = Clock()
    fake.rate_limits = RateLimits(clock)
    with ServerThread(fake.app) as server, httpx.Client() as http:
        answers = [
            http.post(f"{server.url}/api/chat.update", json={"channel": "D1", "ts": "1.2"})
            for _ in range(51)
        ]
    assert {a.status_code for a in answers[:50]} == {200}
    assert answers[50].status_code == 429 and answers[50].headers["retry-after"] == "60"
    assert answers[50].json() == {"ok": False, "error": "ratelimited"}
    assert fake.rate_limits.refused == {"chat.update": 1}
