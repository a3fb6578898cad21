"""The Slack budget on an injected clock: rates kept, newest state per key, priorities, 429s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.slack.budget import MINUTE, PUMP_BATCH, Priority, SlackBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Slack:
    """Records what was sent; answers 429 to the next `limited` calls."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.limited = 0

    def send(self, method: str, what: Any):
        async def call() -> Any:
            if self.limited:
                self.limited -= 1
                raise SlackApiError("ratelimited", _Response(429, {"Retry-After": "7"}))
            self.sent.append((method, what))
            return {"ok": True, "what": what}

        return call


class _Response:
    def __init__(self, status_code: int, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.headers = headers

    def get(self, key: str, default: Any = None) -> Any:
        return {"error": "ratelimited"}.get(key, default)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack() -> Slack:
    return Slack()


@pytest.fixture
def budget(clock) -> SlackBudget:
    return SlackBudget(clock=clock, dispatch=False)


async def turns() -> None:
    """Let the sends the budget started run (they await nothing real)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_method_spends_its_tier_and_then_waits_for_the_window(budget, slack, clock):
    for n in range(60):
        budget.submit("chat.update", slack.send("chat.update", n), key=("m", n))
    await turns()
    assert len(slack.sent) == 50  # Tier 3: 50 in any minute, a burst of them at once is fine
    assert budget.waiting == 10 and budget.next_due() == clock.now + MINUTE
    clock.now += MINUTE - 0.5
    assert budget.pump() is False
    clock.now += 0.5
    budget.pump()
    await turns()
    assert [what for _m, what in slack.sent] == list(range(60))  # in the order asked
    assert budget.waiting == 0 and budget.next_due() is None


async def test_a_newer_state_replaces_the_queued_one_and_answers_its_waiters(budget, slack, clock):
    for n in range(50):
        budget.submit("chat.update", slack.send("chat.update", n), key=("m", n))
    first = budget.submit("chat.update", slack.send("chat.update", "ringing"), key="card")
    second = budget.submit("chat.update", slack.send("chat.update", "answered"), key="card")
    last = budget.submit("chat.update", slack.send("chat.update", "completed"), key="card")
    assert not (first.went or second.went or last.went) and budget.waiting == 1
    clock.now += MINUTE
    budget.pump()
    await turns()
    assert [what for _m, what in slack.sent[50:]] == ["completed"]  # straight to the final state
    assert budget.replaced["chat.update"] == 2
    for submitted in (first, second, last):
        assert (await submitted.result)["what"] == "completed"


async def test_final_states_go_before_progress_ticks_which_leave_room_for_them(
    budget, slack, clock
):
    for n in range(30):
        budget.submit(
            "chat.update", slack.send("chat.update", f"tick {n}"), key=n, priority=Priority.PROGRESS
        )
    await turns()
    assert len(slack.sent) == 25  # ticks fill at most half the window
    for n in range(30, 60):
        budget.submit(
            "chat.update", slack.send("chat.update", f"final {n}"), key=n, priority=Priority.URGENT
        )
    await turns()
    assert [w for _m, w in slack.sent[25:]] == [f"final {n}" for n in range(30, 55)]
    clock.now += MINUTE
    budget.pump()
    await turns()
    # When room comes back, the finals still waiting go first, then the ticks.
    assert [w for _m, w in slack.sent[50:55]] == [f"final {n}" for n in range(55, 60)]
    assert [w for _m, w in slack.sent[55:]] == [f"tick {n}" for n in range(25, 30)]


async def test_a_429_is_honoured_and_the_refused_state_is_sent_after_retry_after(
    budget, slack, clock
):
    slack.limited = 1
    refused = budget.submit("chat.update", slack.send("chat.update", "final"), key="card")
    await turns()
    assert slack.sent == [] and budget.limited["chat.update"] == 1
    assert budget.next_due() == clock.now + 7  # Retry-After: 7
    other = budget.submit("chat.update", slack.send("chat.update", "other card"), key="other")
    assert other.went is False  # the whole method waits, not only the refused call
    clock.now += 7
    budget.pump()
    await turns()
    assert [w for _m, w in slack.sent] == ["final", "other card"]  # nothing lost
    assert (await refused.result)["what"] == "final"


async def test_a_newer_state_that_came_during_the_wait_is_the_one_sent(budget, slack, clock):
    slack.limited = 1
    budget.submit("chat.update", slack.send("chat.update", "answered"), key="card")
    await turns()
    budget.submit("chat.update", slack.send("chat.update", "completed"), key="card")
    clock.now += 7
    budget.pump()
    await turns()
    assert [w for _m, w in slack.sent] == ["completed"]


async def test_a_progress_tick_held_back_is_replaced_by_the_final_state(budget, slack, clock):
    budget.submit(
        "chat.update",
        slack.send("chat.update", "answered"),
        key="card",
        delay=2.0,
        priority=Priority.PROGRESS,
    )
    clock.now += 1
    budget.pump()
    await turns()
    assert slack.sent == []
    final = budget.submit(
        "chat.update",
        slack.send("chat.update", "completed"),
        key="card",
        priority=Priority.URGENT,
    )
    await turns()
    assert final.went and [w for _m, w in slack.sent] == ["completed"]


async def test_posts_are_paced_per_channel(budget, slack, clock):
    for n in range(3):
        budget.submit("chat.postMessage", slack.send("post", ("D1", n)), channel="D1")
    budget.submit("chat.postMessage", slack.send("post", ("D2", 0)), channel="D2")
    await turns()
    assert [w for _m, w in slack.sent] == [("D1", 0), ("D2", 0)]  # other channels don't wait
    clock.now += 1.05
    budget.pump()
    await turns()
    assert [w for _m, w in slack.sent][2:] == [("D1", 1)]  # posts are never replaced


async def test_one_call_per_key_in_flight_in_order(budget, clock):
    sent: list[str] = []
    gate = asyncio.Event()

    async def slow() -> None:
        await gate.wait()
        sent.append("first")

    async def fast() -> None:
        sent.append("second")

    budget.submit("chat.update", slow, key="card")
    await turns()
    queued = budget.submit("chat.update", fast, key="card")
    assert queued.went is False and budget.next_due() is None  # behind the call in flight
    gate.set()
    await turns()
    assert sent == ["first", "second"]


async def test_spacing_per_key(budget, slack, clock):
    budget.submit("views.publish", slack.send("publish", 1), key="U1", spacing=5.0)
    budget.submit("views.publish", slack.send("publish", 2), key="U2", spacing=5.0)
    await turns()
    again = budget.submit("views.publish", slack.send("publish", 3), key="U1", spacing=5.0)
    assert again.went is False and budget.next_due() == clock.now + 5.0
    clock.now += 5.0
    budget.pump()
    await turns()
    assert [w for _m, w in slack.sent] == [1, 2, 3]


async def test_a_failure_reaches_the_caller_and_the_budget_goes_on(budget, clock):
    async def broken() -> None:
        raise SlackApiError("channel_not_found", _Response(200, {}))

    with pytest.raises(SlackApiError):
        await budget.call("chat.postMessage", broken, channel="C404")
    assert budget.waiting == 0 and budget.limited["chat.postMessage"] == 0


async def test_a_long_queue_starts_a_batch_per_turn_of_the_loop(budget, slack, clock):
    for n in range(PUMP_BATCH + 10):
        budget.submit("views.publish", slack.send("publish", n), key=n, delay=1.0)
    clock.now += 1
    assert budget.pump() is True
    assert budget.sent["views.publish"] == PUMP_BATCH  # the loop is free for the acks between
    await asyncio.sleep(0)
    assert budget.sent["views.publish"] == PUMP_BATCH + 10


async def test_a_newer_state_of_a_method_without_a_budget_waits_out_the_429_too(
    budget, slack, clock
):
    slack.limited = 1
    budget.submit("users.info", slack.send("users.info", "first"), key="U1")
    await turns()
    budget.submit("users.info", slack.send("users.info", "second"), key="U1")
    assert budget.pump() is False and budget.next_due() == clock.now + 7
    clock.now += 7
    budget.pump()
    await turns()
    assert [w for _m, w in slack.sent] == ["second"]
