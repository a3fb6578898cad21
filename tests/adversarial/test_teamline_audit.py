"""The team line's second audit over the wire (issue 18, items 1, 3, 4, 6, 7, 8, 13, 15, 17).

Each case drives the real Bolt app with Slack-signed requests, against the fake Slack and the
Kaleyra sandbox, and asserts what the user saw and what reached Kaleyra (nothing, where
nothing should). Every one of them failed before its fix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.models import Redial
from bot.sandbox import Fault
from bot.views import c2c as c2c_views
from bot.views import callfeed as feed_views
from bot.views import shortcut as shortcut_views
from bot.views.followup import FOLLOWUP_CALL
from tests.adversarial.test_c2c_safety import add_followup, code_call, dials, dms, press, said
from tests.handlers.test_callfeed import outcome_values
from tests.support.harness import ADMIN, AGENT, OTHER, Harness, text_of

# The same rules over the wire on both databases (PostgreSQL when TEST_DATABASE_URL is set).
BOTH_DATABASES = True

AGENT_B = "U0AGENTB"
A_NUMBER, B_NUMBER, ADMIN_NUMBER = "9876543210", "9876500011", "9000000001"
CHANNEL = "C0CALLS"
CALLER = "9812345699"  # a missed caller, Indian mobile
CUSTOMER = "9123456789"


@pytest.fixture
def line(sandbox, tmp_path, clock) -> Iterator[Harness]:
    """The app with a calls channel, agents A and B and the admin registered and proven."""
    harness = Harness(sandbox, tmp_path, clock, calls_channel=CHANNEL, call_retention_days=1)
    harness.register(AGENT, A_NUMBER)
    harness.register(AGENT_B, B_NUMBER)
    harness.register(ADMIN, ADMIN_NUMBER)
    sandbox.state.clear_requests()
    yield harness
    refused = list(harness.fake.invalid)
    harness.close()
    assert not refused, f"payloads Slack would refuse: {refused[:3]}"


async def call_row(bot: Harness, call_id: int) -> dict[str, Any] | None:
    return await bot.deps.store._one("SELECT * FROM calls WHERE id = ?", [call_id])


def poll(bot: Harness) -> int:
    posted = bot.run(bot.deps.callfeed.poll())
    bot.settle()
    return posted


def missed_call(bot: Harness, caller: str = CALLER, agent: str = B_NUMBER) -> dict[str, Any]:
    return bot.sandbox.state.add_incoming(caller, agent, answered=False)


def posts(bot: Harness) -> list[dict[str, Any]]:
    return [p for p in bot.fake.of("chat.postMessage") if p.get("channel") == CHANNEL]


def updates(bot: Harness) -> list[dict[str, Any]]:
    return [p for p in bot.fake.of("chat.update") if p.get("channel") == CHANNEL]


def action_ids(payload: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "button":
                found.append(node.get("action_id", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload.get("blocks", []))
    return found


def button_value(payload: dict[str, Any], action_id: str) -> str:
    for block in payload.get("blocks", []):
        for element in block.get("elements", []) or [block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return element["value"]
    raise AssertionError(f"no {action_id} button in {text_of(payload)!r}")


def call_back(bot: Harness, key: str, user_id: str = AGENT) -> str:
    """Call back clicked on the channel message; the private answer the clicker read."""
    press(bot, feed_views.CALL_BACK, key, user_id=user_id, message_ts="1700000001.000100")
    return text_of(bot.replies()[-1])


async def blacklist(bot: Harness, number: str, by: str = OTHER) -> None:
    reply = said(bot.command("/blacklist", f"add {number} because asked not to call", user_id=by))
    assert "Traceback" not in reply
    assert await bot.deps.store.blacklisted([f"+91{number}"])


def refusal_of(text: str) -> None:
    """The blacklist refusal: who, when and why, and that nothing was dialled."""
    assert "is on the bot's blacklist" in text, text
    assert f"<@{OTHER}> added it on" in text and "because “asked not to call”" in text
    assert "Nothing was dialled" in text


# ============================================================================ item 1


FOREIGN = "number; the Voice API calls only India numbers (+91)"
FOREIGN_CALLERS = [
    ("+447911123456", FOREIGN, "7911123456"),
    ("+12025550123", "a United States " + FOREIGN, "2025550123"),
    ("+441900123456", "a United Kingdom " + FOREIGN, "1900123456"),
    ("00447911123456", FOREIGN, "7911123456"),
    ("Anonymous", "contains letters", None),
]


@pytest.mark.parametrize(("caller", "why", "cut"), FOREIGN_CALLERS)
async def test_a_caller_of_another_country_gets_no_call_back_and_is_never_dialled_cut(
    line, caller: str, why: str, cut: str | None
) -> None:
    row = missed_call(line)
    row["callfrom"] = caller  # as Kaleyra's `dial` reports it
    assert poll(line) == 1
    (post,) = posts(line)
    assert feed_views.CALL_BACK not in action_ids(post)  # no Call back to click…
    assert "No Call back: " in text_of(post) and why in text_of(post)
    if cut:
        assert cut not in json.dumps(post)  # …and the channel still never shows it in full
    # A Call back clicked anyway (an old message, a forged payload) dials nothing.
    answer = call_back(line, row["id"])
    assert "cannot be called back from here" in answer and why in answer
    assert dials(line) == []
    assert (await line.deps.store.feed_call(row["id"])).claimed_by is None


def test_a_dial_again_payload_with_a_foreign_number_is_refused_not_cut(line) -> None:
    forged = Redial(f"+91{A_NUMBER}", "+447911123456", None, None, "f" * 16).encode()
    press(line, c2c_views.REDIAL_CONFIRM, forged)
    assert FOREIGN in text_of(line.replies()[-1])
    assert dials(line) == []


# ============================================================================ item 3


async def test_c2c_refuses_a_blacklisted_number_saying_who_when_and_why(bot) -> None:
    bot.register()
    await blacklist(bot, CUSTOMER)
    refusal_of(said(bot.command("/c2c", CUSTOMER)))
    assert dials(bot) == []
    (entry,) = await bot.deps.store.audit_entries(action="c2c.dial.refused")
    assert entry.outcome == "blacklisted" and entry.user_id == AGENT


async def test_the_dial_form_refuses_a_blacklisted_number(bot) -> None:
    bot.register()
    await blacklist(bot, CUSTOMER)
    bot.command("/c2c", "")
    view = bot.fake.of("views.open")[-1]["view"]
    values = {
        c2c_views.AGENT_BLOCK: {c2c_views.AGENT_INPUT: {"type": "x", "value": A_NUMBER}},
        c2c_views.CUSTOMER_BLOCK: {c2c_views.CUSTOMER_INPUT: {"type": "x", "value": CUSTOMER}},
    }
    bot.slack.view_submission(view, values)
    bot.settle()
    refusal_of(dms(bot)[-1])
    assert dials(bot) == []


async def test_dial_again_after_the_number_was_blacklisted_dials_nothing(bot) -> None:
    bot.register()
    bot.command("/c2c", CUSTOMER)
    value = button_value(bot.command("/c2c", CUSTOMER).json(), c2c_views.REDIAL_CONFIRM)
    await blacklist(bot, CUSTOMER)
    press(bot, c2c_views.REDIAL_CONFIRM, value)
    refusal_of(text_of(bot.replies()[-1]))
    assert len(dials(bot)) == 1  # the call before the blacklist, nothing after


async def test_the_shortcut_refuses_a_blacklisted_number(bot) -> None:
    bot.register()
    await blacklist(bot, CUSTOMER)
    bot.slack.message_shortcut(shortcut_views.CALL_SHORTCUT, f"please call {CUSTOMER}")
    bot.settle()
    value = button_value(bot.replies()[-1], shortcut_views.CALL_CONFIRM)
    press(bot, shortcut_views.CALL_CONFIRM, value)
    refusal_of(text_of(bot.replies()[-1]))
    assert dials(bot) == []


async def test_follow_up_call_now_refuses_a_blacklisted_customer(bot) -> None:
    bot.register()
    followup_id = add_followup(bot)  # customer 8712345678
    await blacklist(bot, "8712345678")
    press(bot, FOLLOWUP_CALL, followup_id)
    refusal_of(dms(bot)[-1])
    assert dials(bot) == []


async def test_call_back_refuses_a_caller_blacklisted_after_their_missed_call(line) -> None:
    row = missed_call(line)
    poll(line)
    await blacklist(line, CALLER)
    answer = call_back(line, row["id"])
    refusal_of(answer)
    assert CALLER not in answer and "98******99" in answer  # masked, as in the channel
    assert dials(line) == []
    assert (await line.deps.store.feed_call(row["id"])).claimed_by is None  # nothing held


async def test_an_admin_may_call_a_blacklisted_number_after_confirming_and_it_is_audited(
    line,
) -> None:
    await blacklist(line, CUSTOMER)
    asked = line.command("/c2c", CUSTOMER, user_id=ADMIN).json()
    refusal_of(text_of(asked))
    assert dials(line) == []
    value = button_value(asked, c2c_views.BLACKLIST_OVERRIDE)
    press(line, c2c_views.BLACKLIST_OVERRIDE, value, user_id=ADMIN)
    press(line, c2c_views.BLACKLIST_OVERRIDE, value, user_id=ADMIN, message_ts="1700000000.9")
    (sent,) = dials(line)  # once, however often it is clicked
    assert (sent.form["caller"], sent.form["receiver"]) == (ADMIN_NUMBER, CUSTOMER)
    (audited,) = await line.deps.store.audit_entries(action="c2c.dial.blacklist_override")
    assert audited.user_id == ADMIN and audited.outcome == "ok"


async def test_an_agent_cannot_use_an_override_payload(line) -> None:
    await blacklist(line, CUSTOMER)
    forged = {"a": f"+91{A_NUMBER}", "c": f"+91{CUSTOMER}", "r": None, "d": None, "n": "o" * 16}
    press(line, c2c_views.REDIAL_CONFIRM, json.dumps({**forged, "o": 1}))
    answer = text_of(line.replies()[-1])
    refusal_of(answer)
    assert "Call anyway" not in answer  # agents get no override
    assert dials(line) == []
    assert await line.deps.store.audit_entries(action="c2c.dial.blacklist_override") == []


# ============================================================================ item 4


def _asked_while_calling_back(line, clock) -> tuple[dict[str, Any], str]:
    """A called the caller a minute ago, then clicks Call back: asked "Dial again?"."""
    row = missed_call(line)
    poll(line)
    line.command("/c2c", CALLER)  # A's own call, a few seconds before
    clock.advance(seconds=5)
    call_back(line, row["id"])
    return row, button_value(line.replies()[-1], c2c_views.REDIAL_CONFIRM)


def test_a_stale_dial_again_of_a_call_back_does_not_ring_the_customer_twice(line, clock) -> None:
    row, value = _asked_while_calling_back(line, clock)
    clock.advance(minutes=16)
    poll(line)  # A placed no call: the claim is released and Call back returns
    assert "Call back" in text_of(updates(line)[-1])
    call_back(line, row["id"], user_id=AGENT_B)  # B calls back
    assert [d.form["caller"] for d in dials(line)] == [A_NUMBER, B_NUMBER]
    clock.advance(minutes=2)
    press(line, c2c_views.REDIAL_CONFIRM, value)  # A's old button, within its hour
    assert f"<@{AGENT_B}> is calling back 98******99 now, so nothing was dialled." in text_of(
        line.replies()[-1]
    )
    assert len(dials(line)) == 2


async def test_a_dial_again_of_a_released_call_back_asks_to_claim_it_again(line, clock) -> None:
    row, value = _asked_while_calling_back(line, clock)
    clock.advance(minutes=16)
    poll(line)
    press(line, c2c_views.REDIAL_CONFIRM, value)
    assert "was released, so nothing was dialled" in text_of(line.replies()[-1])
    assert len(dials(line)) == 1
    assert (await line.deps.store.feed_call(row["id"])).claimed_by is None


async def test_a_dial_again_still_holding_its_claim_dials(line, clock) -> None:
    row, value = _asked_while_calling_back(line, clock)
    press(line, c2c_views.REDIAL_CONFIRM, value)
    assert len(dials(line)) == 2
    assert (await line.deps.store.feed_call(row["id"])).claimed_by == AGENT


def test_a_plain_dial_again_of_a_caller_someone_is_calling_back_dials_nothing(line) -> None:
    row = missed_call(line)
    poll(line)
    line.command("/c2c", CALLER)
    value = button_value(line.command("/c2c", CALLER).json(), c2c_views.REDIAL_CONFIRM)
    call_back(line, row["id"], user_id=AGENT_B)
    press(line, c2c_views.REDIAL_CONFIRM, value)
    assert f"<@{AGENT_B}> is calling back" in text_of(line.replies()[-1])
    assert [d.form["caller"] for d in dials(line)] == [A_NUMBER, B_NUMBER]


# ============================================================================ item 6


async def _final_call(bot: Harness, user_id: str, customer: str, clock) -> int:
    bot.command("/c2c", customer, user_id=user_id)
    clock.advance(seconds=120)
    bot.run(bot.deps.c2c.poll_open())
    bot.settle()
    (call,) = await bot.deps.store.recent_calls(user_id, limit=1)
    assert call.state == "final"
    return call.id


async def test_a_pruned_calls_id_outcome_and_note_never_attach_to_a_new_call(line, clock) -> None:
    a_call = await _final_call(line, AGENT, CUSTOMER, clock)
    press(line, feed_views.LOG_OUTCOME, str(a_call))
    form = line.fake.of("views.open")[-1]["view"]
    line.slack.view_submission(form, outcome_values("interested", "A's private note"))
    line.settle()
    a_token = (await line.deps.store.get_call(a_call)).callback_token
    clock.advance(days=2)  # past CALL_RETENTION_DAYS=1
    assert line.run(line.deps.retention.prune()) > 0
    assert await call_row(line, a_call) is None
    assert await line.deps.store.get_outcome(a_call) is None  # the outcome went with its call

    b_call = await _final_call(line, AGENT_B, "9000000099", clock)
    assert b_call != a_call
    assert (await line.deps.store.get_call(b_call)).callback_token != a_token
    press(line, feed_views.LOG_OUTCOME, str(b_call), user_id=AGENT_B)
    b_form = line.fake.of("views.open")[-1]["view"]
    assert "A's private note" not in json.dumps(b_form)
    history = said(line.command("/c2c", "history", user_id=AGENT_B))
    assert "interested" not in history and "private note" not in history


# ============================================================================ item 7


async def test_a_call_back_whose_outcome_is_unknown_is_shown_so_and_released_with_a_note(
    line, clock
) -> None:
    row = missed_call(line)
    poll(line)
    line.sandbox.state.set_fault("dial.click2call", Fault(error_rate=1.0, http_status=502))
    call_back(line, row["id"])
    line.sandbox.state.set_fault("dial.click2call", None)
    poll(line)
    assert f"<@{AGENT}> called back: outcome unknown" in text_of(updates(line)[-1])
    assert await line.deps.callfeed.missed_waiting() == []
    clock.advance(minutes=61)
    poll(line)
    released = updates(line)[-1]
    assert "no known outcome" in text_of(released) and "check `/c2c log`" in text_of(released)
    assert feed_views.CALL_BACK in action_ids(released)  # waiting again…
    assert [f.key for f in await line.deps.callfeed.missed_waiting()] == [row["id"]]  # …and in Home
    call_back(line, row["id"], user_id=AGENT_B)
    assert dials(line)[-1].form["caller"] == B_NUMBER


async def test_retention_keeps_an_open_claims_call_and_the_poll_goes_on(line, clock) -> None:
    first = missed_call(line)
    poll(line)
    line.sandbox.state.set_fault("dial.click2call", Fault(error_rate=1.0, http_status=502))
    call_back(line, first["id"])  # outcome unknown: the claim stays open for now
    line.sandbox.state.set_fault("dial.click2call", None)
    (a_call,) = await line.deps.store.recent_calls(AGENT, limit=1)
    clock.advance(days=2)
    line.run(line.deps.retention.prune())
    assert await call_row(line, a_call.id) is not None  # the open claim needs it
    poll(line)  # the claim is released (unknown too long), without a traceback
    assert (await line.deps.store.feed_call(first["id"])).claimed_by is None

    second = missed_call(line, "9812345611")
    poll(line)
    call_back(line, second["id"], user_id=AGENT_B)
    clock.advance(seconds=120)
    line.run(line.deps.c2c.poll_open())
    poll(line)
    assert f"<@{AGENT_B}> called back: connected" in text_of(updates(line)[-1])


async def test_a_claims_call_missing_from_the_store_is_skipped_and_the_poll_goes_on(
    line, clock
) -> None:
    first, second = missed_call(line), missed_call(line, "9812345611")
    poll(line)
    call_back(line, first["id"])
    poll(line)  # the claim finds its call
    (a_call,) = await line.deps.store.recent_calls(AGENT, limit=1)
    assert (await line.deps.store.feed_call(first["id"])).callback_call_id == a_call.id
    await line.deps.store._write("DELETE FROM calls WHERE id = ?", [a_call.id])  # lost, however
    call_back(line, second["id"], user_id=AGENT_B)
    clock.advance(seconds=120)
    line.run(line.deps.c2c.poll_open())
    poll(line)
    poll(line)
    assert any(f"<@{AGENT_B}> called back: connected" in text_of(u) for u in updates(line))
    assert f"<@{AGENT}> called back: outcome unknown" in text_of(
        next(u for u in reversed(updates(line)) if f"<@{AGENT}>" in text_of(u))
    )


# ============================================================================ item 8


def test_odd_dial_rows_are_kept_with_what_could_be_read_and_the_rest_are_posted(line) -> None:
    state = line.sandbox.state
    minutes = state.add_incoming("9812345601", A_NUMBER, answered=True, billsec=57)
    minutes.update(duration="00:01:05", billsec="00:00:57")
    unreadable = state.add_incoming("9812345602", A_NUMBER, answered=True, billsec=30)
    unreadable.update(billsec="N/A", duration="N/A")
    missed_call(line, "9812345603")
    with state.lock:
        idless = {k: v for k, v in state.incoming[0].items() if k != "id"}
        state.incoming.append({**idless, "callfrom": "9812345604"})  # no id at all
    assert poll(line) == 3
    shown = [text_of(p) for p in posts(line)]
    assert not any("cannot be read from Kaleyra" in t for t in shown)  # no outage notice
    assert "answered by <@U0AGENT>, 57 s" in shown[0]
    assert "98******02" in shown[1] and "answered by <@U0AGENT> ·" in shown[1]
    assert "*Missed call* from *98******03*" in shown[2]
    assert poll(line) == 0  # each posted once
    line.command("/c2c", "calls", user_id=ADMIN)
    listed = text_of(line.replies()[-1])
    assert "9812345601" in listed.replace(" ", "") and "9812345603" in listed.replace(" ", "")


# ============================================================================ item 13


async def test_a_crash_between_posting_and_recording_updates_the_one_message(
    line, monkeypatch
) -> None:
    row = missed_call(line)
    store = line.deps.store

    def crash(*_args: Any) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(store, "mark_feed_posted", crash)
    with pytest.raises(RuntimeError):
        line.run(line.deps.callfeed.poll())
    monkeypatch.undo()
    (landed,) = line.fake.messages[CHANNEL]
    poll(line)
    poll(line)
    assert len(posts(line)) == 1  # never a second message
    assert (await store.feed_call(row["id"])).message_ts == landed["ts"]
    assert [u["ts"] for u in updates(line)] == [landed["ts"]]  # the one message, updated
    call_back(line, row["id"])
    assert updates(line)[-1]["ts"] == landed["ts"]
    assert f"<@{AGENT}> is calling back" in text_of(updates(line)[-1])


async def test_when_the_channel_cannot_be_read_nothing_is_posted_twice(line, monkeypatch) -> None:
    row = missed_call(line)
    monkeypatch.setattr(
        line.deps.store,
        "mark_feed_posted",
        lambda *_a: (_ for _ in ()).throw(RuntimeError("died")),
    )
    with pytest.raises(RuntimeError):
        line.run(line.deps.callfeed.poll())
    monkeypatch.undo()
    line.fake.fail("conversations.history", "missing_scope", times=3)
    poll(line)
    poll(line)
    assert len(posts(line)) == 1
    assert (await line.deps.store.feed_call(row["id"])).state == "posting"


def test_a_post_slack_refused_is_posted_on_the_next_poll(line) -> None:
    missed_call(line)
    line.fake.fail("chat.postMessage", "channel_not_found")
    assert poll(line) == 0
    assert poll(line) == 1
    assert len(line.fake.messages[CHANNEL]) == 1


# ============================================================================ item 15


def test_a_squatters_live_claim_does_not_keep_the_holder_from_proving_it(bot) -> None:
    bot.command("/c2c", f"register {A_NUMBER}", user_id=OTHER)  # a colleague squats it
    squat_code = code_call(bot, A_NUMBER)
    reply = said(bot.command("/c2c", f"register {A_NUMBER}"))  # the holder, seconds later
    assert "already registered" not in reply and "once it is verified" in reply
    holder_code = code_call(bot, A_NUMBER)
    assert "Verified" in said(bot.command("/c2c", f"verify {holder_code}"))
    bot.sandbox.state.clear_requests()
    bot.command("/c2c", CUSTOMER)
    (sent,) = dials(bot)
    assert sent.form["caller"] == A_NUMBER
    assert "No verification is waiting" in said(
        bot.command("/c2c", f"verify {squat_code}", user_id=OTHER)
    )
    bot.command("/c2c", CUSTOMER, user_id=OTHER)
    assert len(dials(bot)) == 1  # the squatter rings nobody


def test_an_admin_assigns_a_number_someone_else_claimed_but_never_proved(bot) -> None:
    bot.command("/c2c", f"register {A_NUMBER}", user_id=OTHER)
    reply = said(bot.command("/c2c", f"register <@{AGENT}> {A_NUMBER}", user_id=ADMIN))
    assert f"<@{AGENT}> now calls from +91 98765 43210." in reply
    bot.sandbox.state.clear_requests()
    bot.command("/c2c", CUSTOMER)
    (sent,) = dials(bot)
    assert sent.form["caller"] == A_NUMBER
    assert "no agent number" in said(bot.command("/c2c", "whoami", user_id=OTHER)).lower() or (
        A_NUMBER not in said(bot.command("/c2c", "whoami", user_id=OTHER)).replace(" ", "")
    )


def test_the_squatter_proving_first_is_not_undone_by_a_later_claim(bot) -> None:
    """Whoever proves first holds it: here the holder proves, then the squatter's
    re-registration is refused as for any proven number."""
    bot.command("/c2c", f"register {A_NUMBER}", user_id=OTHER)
    bot.command("/c2c", f"register {A_NUMBER}")
    bot.command("/c2c", f"verify {code_call(bot, A_NUMBER)}")
    again = said(bot.command("/c2c", f"register {A_NUMBER}", user_id=OTHER))
    assert "already registered to another Slack user" in again


# ============================================================================ item 17


def _event_body(event_id: str, user_id: str = AGENT) -> str:
    return json.dumps(
        {
            "token": "x",
            "team_id": "T0VOICE",
            "api_app_id": "A0VOICE",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user_id, "channel": "D0X", "tab": "home"},
        }
    )


def _deliver(bot: Harness, body: str, retry: int | None, age: int = 0):
    headers = (
        {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_error"} if retry else {}
    )
    response = bot.slack.post(
        body, "application/json", headers=headers, timestamp=int(time.time()) - age
    )
    bot.settle()
    return response


def publishes(bot: Harness, user_id: str = AGENT) -> int:
    return sum(1 for p in bot.fake.of("views.publish") if p.get("user_id") == user_id)


async def test_a_retry_whose_first_delivery_never_arrived_is_processed_once(bot) -> None:
    body = _event_body("Ev0RETRY0001")
    assert _deliver(bot, body, retry=1).status_code == 200
    assert publishes(bot) == 1  # the Home tab is shown: the event was not lost
    assert _deliver(bot, body, retry=2, age=1).status_code == 200
    assert publishes(bot) == 1  # and only once
    stored = await bot.deps.store._one(
        "SELECT id FROM slack_deliveries WHERE id = ?", ["event:Ev0RETRY0001"]
    )
    assert stored is not None  # in the store every replica shares


def test_a_retry_of_a_delivery_already_handled_does_nothing(bot) -> None:
    body = _event_body("Ev0RETRY0002")
    _deliver(bot, body, retry=None)
    _deliver(bot, body, retry=1, age=1)
    _deliver(bot, body, retry=2, age=2)
    assert publishes(bot) == 1


def test_a_retried_command_dials_once(bot) -> None:
    bot.register()
    body = bot.slack.command_body("/c2c", CUSTOMER)
    kind = "application/x-www-form-urlencoded"
    bot.slack.post(body, kind, headers={"x-slack-retry-num": "1"})
    bot.slack.post(body, kind, headers={"x-slack-retry-num": "2"}, timestamp=int(time.time()) - 1)
    bot.settle()
    assert len(dials(bot)) == 1


async def test_delivery_memory_is_pruned(bot, clock) -> None:
    _deliver(bot, _event_body("Ev0OLD"), retry=None)
    clock.advance(hours=2)
    bot.deps.store._last_prune.clear()  # the next request prunes
    _deliver(bot, _event_body("Ev0NEW"), retry=None)
    kept = {r["id"] for r in await bot.deps.store._all("SELECT id FROM slack_deliveries")}
    assert "event:Ev0OLD" not in kept and "event:Ev0NEW" in kept
    assert timedelta(hours=1)  # DELIVERY_KEEP, documented in the README
