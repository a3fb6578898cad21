"""The team phone line over the wire: the real Bolt app, the fake Slack, the sandbox's `dial`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.views import callfeed as views
from tests.support.harness import Harness, text_of

AGENT_A, AGENT_B, NEWCOMER = "U0AGENTA", "U0AGENTB", "U0NEW"
A_NUMBER, B_NUMBER = "9876543210", "9876500011"
CHANNEL = "C0CALLS"
CALLERS = ("9812345678", "9812345699")


@pytest.fixture
def line(sandbox, tmp_path, clock):
    harness = Harness(sandbox, tmp_path, clock, calls_channel=CHANNEL)
    harness.register(AGENT_A, A_NUMBER)
    harness.register(AGENT_B, B_NUMBER)
    harness.sandbox.state.clear_requests()
    yield harness
    harness.close()


def seed(sandbox) -> tuple[dict, dict]:
    """Two incoming calls through the sandbox's control endpoint, as an operator would."""
    url = f"{sandbox.url}/_sandbox/incoming"
    answered = httpx.post(
        url, json={"caller": CALLERS[0], "agent": A_NUMBER, "outcome": "answered", "billsec": 192}
    ).json()
    missed = httpx.post(
        url, json={"caller": CALLERS[1], "agent": B_NUMBER, "outcome": "missed"}
    ).json()
    return answered, missed


def poll(harness: Harness) -> int:
    posted = harness.run(harness.deps.callfeed.poll())
    harness.settle()
    return posted


def channel_posts(harness: Harness) -> list[dict[str, Any]]:
    return [p for p in harness.fake.of("chat.postMessage") if p.get("channel") == CHANNEL]


def channel_updates(harness: Harness) -> list[dict[str, Any]]:
    return [p for p in harness.fake.of("chat.update") if p.get("channel") == CHANNEL]


def click(harness: Harness, action_id: str, value: str, user_id: str) -> httpx.Response:
    response = harness.slack.block_action(action_id, value, user_id=user_id)
    harness.settle()
    return response


def last_reply(harness: Harness) -> str:
    return text_of(harness.replies()[-1])


def test_incoming_calls_are_posted_once_masked(line, sandbox) -> None:
    seed(sandbox)
    assert poll(line) == 2
    answered, missed = (text_of(p) for p in channel_posts(line))
    assert "Incoming call from *98******78* (KARNATAKA) answered by <@U0AGENTA>, 3 min 12 s" in (
        answered
    )
    assert "*Missed call* from *98******99* (KARNATAKA) to <@U0AGENTB>" in missed
    assert "Call back" in missed and "Call back" not in answered
    shown = json.dumps(channel_posts(line))
    for caller in CALLERS:
        assert caller not in shown and f"{caller[:5]} {caller[5:]}" not in shown
    for _ in range(3):
        assert poll(line) == 0
    assert len(channel_posts(line)) == 2


def test_call_back_claims_once_and_dials_from_the_agents_number(line, sandbox) -> None:
    _, missed = seed(sandbox)
    poll(line)
    assert click(line, views.CALL_BACK, missed["id"], AGENT_A).status_code == 200
    (dialled,) = sandbox.state.recorded("dial.click2call")
    assert (dialled.form["caller"], dialled.form["receiver"]) == (A_NUMBER, CALLERS[1])
    assert "You are calling back 98******99" in last_reply(line)
    assert ":telephone_receiver: <@U0AGENTA> is calling back" in text_of(channel_updates(line)[-1])
    click(line, views.CALL_BACK, missed["id"], AGENT_B)
    assert len(sandbox.state.recorded("dial.click2call")) == 1
    assert "<@U0AGENTA> is already calling back 98******99, so nothing was dialled." in (
        last_reply(line)
    )
    # A's card went to A's DM, with the full number for A alone.
    cards = [p for p in line.fake.of("chat.postMessage") if p.get("channel") == AGENT_A]
    assert cards and "98123 45699" in text_of(cards[-1])


def test_an_unregistered_agent_is_told_to_register(line, sandbox) -> None:
    _, missed = seed(sandbox)
    poll(line)
    click(line, views.CALL_BACK, missed["id"], NEWCOMER)
    assert "/c2c register" in last_reply(line)
    assert sandbox.state.recorded("dial.click2call") == []
    click(line, views.CALL_BACK, missed["id"], AGENT_B)  # still free for someone else
    assert len(sandbox.state.recorded("dial.click2call")) == 1


def test_the_call_back_outcome_reaches_the_channel(line, sandbox, clock) -> None:
    _, missed = seed(sandbox)
    poll(line)
    click(line, views.CALL_BACK, missed["id"], AGENT_A)
    clock.advance(seconds=120)  # the sandbox's call has ended
    line.run(line.deps.c2c.poll_open())
    poll(line)
    assert "<@U0AGENTA> called back: connected" in text_of(channel_updates(line)[-1])


# ------------------------------------------------------------------ outcome form


async def place_call(line: Harness, clock) -> int:
    line.command("/c2c", "9123456789", user_id=AGENT_A)
    clock.advance(seconds=120)
    line.run(line.deps.c2c.poll_open())
    line.settle()
    (call,) = await line.deps.store.recent_calls(AGENT_A, limit=1)
    return call.id


def outcome_values(outcome: str, note: str = "", at: int | None = None) -> dict[str, Any]:
    return {
        views.OUTCOME_BLOCK: {
            views.OUTCOME_INPUT: {
                "type": "static_select",
                "selected_option": {"value": outcome} if outcome else None,
            }
        },
        views.NOTE_BLOCK: {views.NOTE_INPUT: {"type": "plain_text_input", "value": note}},
        views.FOLLOWUP_BLOCK: {
            views.FOLLOWUP_INPUT: {"type": "datetimepicker", "selected_date_time": at}
        },
    }


async def test_the_outcome_form_stores_its_values_and_books_one_followup(
    line, sandbox, clock
) -> None:
    call_id = await place_call(line, clock)
    click(line, views.LOG_OUTCOME, str(call_id), AGENT_A)
    (opened,) = line.fake.of("views.open")
    form = opened["view"]
    assert form["callback_id"] == views.OUTCOME_MODAL and form["private_metadata"] == str(call_id)
    refused = line.slack.view_submission(form, outcome_values("call_back"), user_id=AGENT_A)
    assert refused.json()["errors"] == {views.FOLLOWUP_BLOCK: "Pick when to call back."}
    when = int((clock.now + timedelta(days=1)).replace(hour=15, minute=30).timestamp())
    values = outcome_values("call_back", "Wants a quote <!channel>", when)
    saved = line.slack.view_submission(form, values, user_id=AGENT_A)
    line.settle()
    assert saved.status_code == 200 and not saved.content
    stored = await line.deps.store.get_outcome(call_id)
    assert (stored.outcome, stored.note, stored.user_id) == (
        "call_back",
        "Wants a quote <!channel>",
        AGENT_A,
    )
    (followup,) = sandbox.state.recorded("followup")
    assert followup.form["ontime"] == "24-11-2026 15:30"
    assert (followup.form["phone"], followup.form["follower"]) == ("9123456789", A_NUMBER)
    assert (await line.deps.store.get_outcome(call_id)).followup_id == followup_id(sandbox)
    dms = [p for p in line.fake.of("chat.postMessage") if p.get("channel") == AGENT_A]
    assert "Follow-up" in text_of(dms[-1])


def followup_id(sandbox) -> str:
    (only,) = sandbox.state.followups
    return only


async def test_only_the_caller_opens_the_outcome_form(line, clock) -> None:
    call_id = await place_call(line, clock)
    click(line, views.LOG_OUTCOME, str(call_id), AGENT_B)
    assert line.fake.of("views.open") == []
    assert "Only the person who placed a call" in last_reply(line)


def test_the_activity_digest_is_posted_with_the_counts(line, sandbox, clock) -> None:
    _, missed = seed(sandbox)
    poll(line)
    click(line, views.CALL_BACK, missed["id"], AGENT_B)
    clock.advance(seconds=120)
    line.run(line.deps.c2c.poll_open())
    poll(line)
    assert line.run(line.deps.callfeed.post_digest()) is True
    text = text_of(channel_posts(line)[-1])
    assert "Team activity" in text
    assert "<@U0AGENTB>: 1 placed, 100% answered" in text
    assert "1 answered, 1 missed; 1 of the missed called back within an hour, 0 still waiting" in (
        text
    )
    assert CALLERS[1] not in text
    assert line.run(line.deps.callfeed.post_digest()) is False
