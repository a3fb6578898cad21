"""A shift's first burst under Slack's published rate limits (issue 20), over the wire.

100 agents dial within two seconds and every call ends two seconds later, while the fake Slack
answers 429 past each method's tier (chat.update 50 a minute, views.publish 100, posts about one
a second per channel). One injected clock drives the sandbox, the fake Slack's limits and the
bot's Slack budget, so minutes of Slack time pass without waiting: the test moves the clock a
second at a time, runs the call tracker and lets the budget send what is due.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.deps import Tuning
from bot.local.ratelimits import RateLimits
from bot.models import CallRow
from bot.slack.client import SLACK_CONNECTIONS
from tests.support.harness import ADMIN, Harness, text_of

AGENTS = 100
CALL_METHODS = ("chat.postMessage", "chat.update", "views.publish")


@dataclass
class Burst:
    bot: Harness
    limits: RateLimits
    users: list[str]
    calls_ended_at: float | None = None
    cards_final_at: float | None = None


@pytest.fixture
async def burst(sandbox, tmp_path, clock):
    sandbox.state.step_seconds = 1.0  # ringing; 1 s: the agent answers; 2 s: the call ends
    slack_time = lambda: clock.now.timestamp()  # noqa: E731
    tuning = Tuning(
        auto_track=False,  # the test runs the tracker, a second at a time
        progress_interval=0.0,
        freeze_heap=False,
        slack_clock=slack_time,
        slack_dispatch=False,  # nothing waits on its own: the test pumps the budget
    )
    bot = Harness(sandbox, tmp_path, clock, tuning=tuning)
    store = bot.deps.store
    users = [f"U0AG{n:04d}" for n in range(AGENTS)]
    for n, user in enumerate(users):
        number = f"+9198765{n + 10:05d}"
        await store.register_agent(user, number)
        await store.set_verified(user, number, by=ADMIN)
    limits = RateLimits(clock=slack_time)
    bot.fake.rate_limits = limits
    bot.fake.clear()
    yield Burst(bot, limits, users)
    refused = list(bot.fake.invalid)
    bot.close()
    assert not refused, refused


def shown_card(bot: Harness, call: CallRow) -> str:
    """The card as its agent sees it now: the last update of the message, else the post."""
    updates = [
        p
        for p in bot.fake.of("chat.update")
        if (p["channel"], p["ts"]) == (call.channel, call.message_ts)
    ]
    if updates:
        return text_of(updates[-1])
    [posted] = [p for p in bot.fake.of("chat.postMessage") if p["channel"] == call.user_id]
    return text_of(posted)


async def final_cards(run: Burst) -> int:
    bot = run.bot
    shown = 0
    for user in run.users:
        [call] = await bot.deps.store.recent_calls(user, limit=1)
        if call.state == "final" and shown_card(bot, call) == text_of(bot.deps.c2c.card(call)):
            shown += 1
    return shown


async def test_100_agents_dial_within_2_s_and_every_card_reaches_its_final_status(burst, clock):
    bot, budget = burst.bot, burst.bot.deps.notify.budget
    started = clock.now.timestamp()
    for n, user in enumerate(burst.users):
        response = bot.slack.command("/c2c", f"91234{n + 10:05d}", user_id=user)
        assert "Dialling" in text_of(response.json())
        clock.advance(seconds=0.02)  # 100 dials in 2 s
    bot.settle()
    assert len(bot.sandbox.state.recorded("dial.click2call")) == AGENTS

    async def pump() -> None:
        budget.pump()

    for _second in range(240):
        clock.advance(seconds=1)
        bot.run(bot.deps.c2c.poll_open())
        bot.run(pump())
        bot.settle()
        now = clock.now.timestamp()
        if burst.calls_ended_at is None and not await bot.deps.store.open_calls():
            burst.calls_ended_at = now
        if burst.calls_ended_at is not None and await final_cards(burst) == AGENTS:
            burst.cards_final_at = now
            break
    while budget.next_due() is not None:  # what is still queued (Home tabs) goes too
        clock.advance(seconds=1)
        bot.run(pump())
        bot.settle()

    calls = {m: len(bot.fake.of(m)) for m in CALL_METHODS}
    per_dial = sum(calls.values()) / AGENTS
    print(
        f"\nburst: calls ended {burst.calls_ended_at - started:.0f} s after the first dial;"
        f" all {AGENTS} cards final {burst.cards_final_at - burst.calls_ended_at:.0f} s later;"
        f" Slack calls {calls} = {per_dial:.2f} per dial; 429s: {dict(burst.limits.refused)};"
        f" states replaced by newer ones: {dict(budget.replaced)};"
        f" connections to Slack: {len(bot.fake.peers)}"
    )
    assert burst.cards_final_at is not None, f"{await final_cards(burst)} of {AGENTS} cards final"
    assert burst.cards_final_at - burst.calls_ended_at <= 90
    assert sum(burst.limits.refused.values()) == 0 and sum(budget.limited.values()) == 0
    assert calls["chat.postMessage"] == AGENTS  # one card each
    assert per_dial <= 3
    assert len(bot.fake.peers) <= SLACK_CONNECTIONS  # one keep-alive pool, not a connection a call
    for user in burst.users:  # every Home tab shows the latest state
        published = [p for p in bot.fake.of("views.publish") if p["user_id"] == user]
        assert published and text_of(published[-1]["view"]) == text_of(
            await bot.deps.home.view(user)
        )
