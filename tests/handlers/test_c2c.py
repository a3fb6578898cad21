"""/c2c over the wire: signed requests in, the sandbox and a fake Slack behind the real app."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from bot.sandbox import Fault
from bot.views import c2c as views
from tests.support.harness import ADMIN, AGENT, OTHER, text_of


def card_updates(bot) -> list[str]:
    """The call card as the user saw it: first posted, then each update, in order."""
    return [
        text_of(c.payload)
        for c in bot.fake.calls
        if c.method in {"chat.postMessage", "chat.update"}
    ]


async def test_register_stores_the_mapping(bot) -> None:
    response = bot.command("/c2c", "register 098765 43210")
    assert response.status_code == 200
    assert "now calls from +91 98765 43210" in text_of(response.json())
    agent = await bot.deps.store.get_agent(AGENT)
    assert (agent.number, agent.role) == ("+919876543210", "agent")


async def test_one_number_per_user_and_one_user_per_number(bot) -> None:
    bot.register(AGENT, "9876543210")
    response = bot.command("/c2c", "register 9876543210", user_id=OTHER)
    assert "already registered to another Slack user" in text_of(response.json())
    assert await bot.deps.store.get_agent(OTHER) is None


async def test_dial_places_one_bridge_and_follows_it_to_the_end(bot, clock) -> None:
    bot.register()
    response = bot.command("/c2c", "+91 91234 56789")
    assert response.status_code == 200
    assert "Dialling +91 91234 56789" in text_of(response.json())

    [sent] = bot.sandbox.state.recorded("dial.click2call")
    assert sent.form == {
        "method": "dial.click2call",
        "format": "json",
        "caller": "9876543210",  # the agent, first leg, 10-digit national
        "receiver": "9123456789",
        "custom": "voicebot-1",
        "return": "1",
    }
    [posted] = bot.fake.of("chat.postMessage")
    assert posted["channel"] == AGENT  # the card is private: the user's DM with the app
    assert "Call in progress" in text_of(posted) and "*Agent* +91 98765 43210: ringing" in text_of(
        posted
    )
    assert bot.fake.of("chat.update") == []

    call = (await bot.deps.store.recent_calls(AGENT))[0]
    assert call.state == "placed" and call.kaleyra_id.startswith("c2c_")
    assert call.channel == "D0AGENT" and call.message_ts

    clock.advance(seconds=2)
    assert bot.run(bot.deps.c2c.poll_once(call.id)) is False
    assert "*Agent* +91 98765 43210: answered" in card_updates(bot)[-1]
    updates_before = len(card_updates(bot))
    bot.run(bot.deps.c2c.poll_once(call.id))
    assert len(card_updates(bot)) == updates_before  # nothing changed, nothing re-posted

    clock.advance(seconds=60)
    assert bot.run(bot.deps.c2c.poll_once(call.id)) is True
    final = card_updates(bot)[-1]
    assert "Call completed" in final and "*Customer* +91 91234 56789: answered" in final
    assert "*Duration* 21 s, talk time 16 s" in final
    assert "<https://play.solutionsinfini.com/?id=00000001|listen>" in final
    every_update = bot.fake.of("chat.update")
    assert {(u["channel"], u["ts"]) for u in every_update} == {(call.channel, call.message_ts)}
    row = await bot.deps.store.get_call(call.id)
    assert (row.state, row.status1, row.status2, row.duration, row.billsec) == (
        "final",
        "ANSWER",
        "ANSWER",
        21,
        16,
    )
    actions = [a.action for a in await bot.deps.store.audit_entries()]
    assert actions[:2] == ["c2c.final", "c2c.dial"]


async def test_customer_busy_renders_in_words(bot, clock) -> None:
    bot.register()
    bot.command("/c2c", "9123456700")  # the sandbox makes numbers ending 00 busy
    call = (await bot.deps.store.recent_calls(AGENT))[0]
    clock.advance(seconds=90)
    bot.run(bot.deps.c2c.poll_once(call.id))
    final = card_updates(bot)[-1]
    assert "Call did not connect" in final and "*Customer* +91 91234 56700: busy" in final


def test_unregistered_user_is_told_how_to_register(bot) -> None:
    response = bot.command("/c2c", "9123456789", user_id=OTHER)
    assert "/c2c register 9876543210" in text_of(response.json())
    assert bot.sandbox.state.recorded() == []


async def test_explicit_first_leg_is_for_admins(bot) -> None:
    bot.register(AGENT)
    response = bot.command("/c2c", "9000012345 9123456789", user_id=AGENT)
    assert "Only admins can choose the first leg" in text_of(response.json())
    assert bot.sandbox.state.recorded() == []
    assert (await bot.deps.store.audit_entries())[0].action == "c2c.refused"

    chosen = bot.command("/c2c", "9000012345 9123456789", user_id=ADMIN)
    assert "the agent phone +91 90000 12345 (not yours) rings first" in text_of(chosen.json())
    [sent] = bot.sandbox.state.recorded("dial.click2call")
    assert (sent.form["caller"], sent.form["receiver"]) == ("9000012345", "9123456789")


def test_repeat_within_a_minute_asks_first_and_double_click_dials_once(bot) -> None:
    bot.register()
    bot.command("/c2c", "9123456789")
    again = bot.command("/c2c", "09123456789")
    assert "less than a minute ago. Dial again?" in text_of(again.json())
    assert len(bot.sandbox.state.recorded("dial.click2call")) == 1

    button = again.json()["blocks"][1]["elements"][0]
    assert button["action_id"] == views.REDIAL_CONFIRM
    for _ in range(2):  # a double click: same action_ts twice
        bot.slack.block_action(views.REDIAL_CONFIRM, button["value"], action_ts="1700000000.1")
        bot.settle()
    assert len(bot.sandbox.state.recorded("dial.click2call")) == 2
    assert "Dialling again" in text_of(bot.replies()[-1])


def test_repeat_check_survives_a_restart_and_ends_after_a_minute(bot, clock) -> None:
    from bot.deps import _c2c

    bot.register()
    bot.command("/c2c", "9123456789")
    bot.deps.c2c = _c2c(bot.deps)  # a restart: nothing in memory, the store has it
    assert "Dial again?" in text_of(bot.command("/c2c", "9123456789").json())
    clock.advance(seconds=61)
    assert "Dialling" in text_of(bot.command("/c2c", "9123456789").json())
    assert len(bot.sandbox.state.recorded("dial.click2call")) == 2


async def test_a_call_kaleyra_refused_can_be_dialled_again_at_once(bot) -> None:
    bot.register()
    bot.sandbox.state.set_fault(
        "dial.click2call", Fault(error_rate=1.0, api_error=("E104", "Invalid number"))
    )
    bot.command("/c2c", "9123456789")
    assert (await bot.deps.store.recent_calls(AGENT, limit=1))[0].state == "failed"
    bot.sandbox.state.set_fault("dial.click2call", None)
    assert "Dialling" in text_of(bot.command("/c2c", "9123456789").json())


def test_slack_retry_is_answered_without_a_second_side_effect(bot) -> None:
    bot.register()
    body = bot.slack.command_body("/c2c", "9123456789")
    bot.slack.post(body, "application/x-www-form-urlencoded")
    response = bot.slack.post(
        body,
        "application/x-www-form-urlencoded",
        headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"},
        timestamp=int(time.time()) - 1,  # re-signed, as Slack does: not a replay
    )
    bot.settle()
    assert response.status_code == 200 and response.text == ""
    assert len(bot.sandbox.state.recorded("dial.click2call")) == 1


@pytest.mark.parametrize("problem", ["bad signature", "stale timestamp"])
async def test_forged_or_stale_requests_get_401_and_reach_no_handler(bot, problem: str) -> None:
    body = bot.slack.command_body("/c2c", "register 9876543210")
    if problem == "bad signature":
        headers = bot.slack.signed_headers(body, "application/x-www-form-urlencoded")
        headers["x-slack-signature"] = "v0=" + "0" * 64
    else:
        headers = bot.slack.signed_headers(
            body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 301
        )
    response = httpx.post(f"{bot.app_server.url}/slack/events", content=body, headers=headers)
    bot.settle()
    assert response.status_code == 401
    assert await bot.deps.store.get_agent(AGENT) is None
    assert bot.fake.calls == [] and bot.sandbox.state.recorded() == []


def test_modal_opens_prefilled_and_validates_inline(bot) -> None:
    bot.register()
    bot.command("/c2c", "")
    [opened] = bot.fake.of("views.open")
    assert opened["trigger_id"].endswith(".trigger")
    view = opened["view"]
    assert view["callback_id"] == views.C2C_MODAL
    agent_block = next(b for b in view["blocks"] if b["block_id"] == views.AGENT_BLOCK)
    assert agent_block["element"]["initial_value"] == "+919876543210"

    def values(agent: str, customer: str) -> dict:
        return {
            views.AGENT_BLOCK: {views.AGENT_INPUT: {"type": "plain_text_input", "value": agent}},
            views.CUSTOMER_BLOCK: {
                views.CUSTOMER_INPUT: {"type": "plain_text_input", "value": customer}
            },
            views.RETRY_BLOCK: {
                views.RETRY_INPUT: {"type": "static_select", "selected_option": {"value": "2"}}
            },
            views.DELAY_BLOCK: {views.DELAY_INPUT: {"type": "number_input", "value": "30"}},
        }

    bad = bot.slack.view_submission(view, values("+919876543210", "12345"))
    assert bad.json() == {
        "response_action": "errors",
        "errors": {views.CUSTOMER_BLOCK: 'The customer number "12345" is too short.'},
    }
    not_mine = bot.slack.view_submission(view, values("9000012345", "9123456789"))
    assert "Only admins" in not_mine.json()["errors"][views.AGENT_BLOCK]
    assert bot.sandbox.state.recorded() == []

    good = bot.slack.view_submission(view, values("+919876543210", "91234 56789"))
    bot.settle()
    assert good.status_code == 200 and good.text == ""
    [sent] = bot.sandbox.state.recorded("dial.click2call")
    assert (sent.form["receiver"], sent.form["retry"], sent.form["delay"]) == (
        "9123456789",
        "2",
        "30",
    )


def test_expired_trigger_falls_back_to_the_text_grammar(bot) -> None:
    bot.fake.fail("views.open", "expired_trigger_id")
    bot.command("/c2c", "")
    assert "Type it instead: `/c2c 9876543210`" in text_of(bot.replies()[-1])


async def test_status_of_one_call(bot, clock) -> None:
    bot.register()
    bot.command("/c2c", "9123456789")
    call_id = (await bot.deps.store.recent_calls(AGENT))[0].kaleyra_id
    clock.advance(seconds=90)
    bot.command("/c2c", f"status {call_id}", user_id=OTHER)  # read-only: anyone may look
    reply = text_of(bot.replies()[-1])
    assert f"`{call_id}`" in reply and "*Customer* 9123456789: answered" in reply
    assert bot.sandbox.state.recorded("dial.c2cstatus")[-1].form["id"] == call_id
    bot.command("/c2c", "status c2c_unknown")
    assert "Kaleyra refused it: Invalid ID" in text_of(bot.replies()[-1])


def test_log_pages_long_results_and_says_so(bot, clock) -> None:
    bot.register(ADMIN, "9000012345")
    for i in range(23):
        bot.command("/c2c", f"9000012345 91234567{i + 10}", user_id=ADMIN)
    bot.command("/c2c", "log", user_id=ADMIN)  # admins see every number in full
    reply = bot.replies()[-1]
    sent = bot.sandbox.state.recorded("dial.c2cstatus")[-1].form
    assert (sent["fromdate"], sent["todate"], sent["limit"]) == ("2026/11/21", "2026/11/23", "21")
    assert text_of(reply).count("9000012345 → ") == 20
    assert "More calls not shown" in text_of(reply)
    assert len(reply["blocks"]) <= 50


def test_calls_forwarded_to_agents(bot) -> None:
    bot.sandbox.state.incoming.append(
        {
            "id": "in1",
            "callfrom": "9512345678",
            "callto": "9912345678",
            "start_time": "2026-11-23 10:00:00",
            "duration": "30",
            "status": "ANSWER",
            "location": "<!channel>",
        }
    )
    bot.command("/c2c", "calls 2026-11-23", user_id=ADMIN)  # admins see every number in full
    assert (
        "`in1` <!date^1795408200^{date_short_pretty} {time}|2026-11-23 04:30 UTC>"
        " 9512345678 → 9912345678: answered, 30 s"
    ) in text_of(bot.replies()[-1])
    assert bot.sandbox.state.recorded("dial")[-1].form["fromdate"] == "2026/11/23"


async def test_bad_key_is_shown_on_the_card(bot) -> None:
    bot.register()
    bot.sandbox.state.api_key = "another-key"
    bot.command("/c2c", "9123456789")
    text = card_updates(bot)[-1]
    assert (
        "Call not placed" in text
        and "Invalid API key [code E101]" in text
        and "KALEYRA_API_KEY" in text
    )
    assert "test-key" not in json.dumps(bot.fake.calls, default=str)
    assert (await bot.deps.store.recent_calls(AGENT))[0].state == "failed"


async def test_timeout_is_sent_once_and_shown_as_unknown(bot) -> None:
    bot.register()
    bot.sandbox.state.set_fault("dial.click2call", Fault(timeout=True, hang_seconds=5))
    bot.command("/c2c", "9123456789")
    assert len(bot.sandbox.state.recorded("dial.click2call")) == 1
    text = card_updates(bot)[-1]
    assert "Outcome unknown" in text and "was *not* sent again" in text and "/c2c log" in text
    assert (await bot.deps.store.audit_entries())[0].outcome == "unknown"


def test_usage_errors_are_clear(bot) -> None:
    response = bot.command("/c2c", "call my mum please")
    assert "I could not read `call my mum please`" in text_of(response.json())
    response = bot.command("/c2c", "log 23/13/2026")
    assert '"23/13/2026" is not a date' in text_of(response.json())


async def test_whoami_and_unregister(bot) -> None:
    bot.register()
    assert "agent number *+91 98765 43210*, role *agent*" in text_of(
        bot.command("/c2c", "whoami").json()
    )
    assert "role *admin*" in text_of(bot.command("/c2c", "whoami", user_id=ADMIN).json())
    refused = bot.command("/c2c", f"unregister <@{ADMIN}>", user_id=AGENT)
    assert "Only admins" in text_of(refused.json())
    bot.command("/c2c", f"unregister <@{AGENT}|agent>", user_id=ADMIN)
    assert await bot.deps.store.get_agent(AGENT) is None


def test_help(bot) -> None:
    assert "/c2c register 9876543210" in text_of(bot.command("/c2c", "help").json())


class TestCallbacks:
    @pytest.fixture
    def bot(self, sandbox, tmp_path, clock):
        from tests.support.harness import Harness

        harness = Harness(sandbox, tmp_path, clock, public_url="https://voicebot.example.com")
        yield harness
        harness.close()

    async def test_callback_url_carries_an_hmac_token_and_updates_the_card(self, bot) -> None:
        bot.register()
        bot.command("/c2c", "9123456789")
        [sent] = bot.sandbox.state.recorded("dial.click2call")
        call = (await bot.deps.store.recent_calls(AGENT))[0]
        assert sent.form["callback"] == (
            f"https://voicebot.example.com/kaleyra/callback/{call.callback_token}"
            "?status1={status1}&status2={status2}&duration={duration}&billsec={billsec}&recordpath={recordpath}"
        )
        url = f"{bot.app_server.url}/kaleyra/callback/{call.callback_token}"
        answered = httpx.get(url, params={"status1": "ANSWER", "status2": "", "duration": "0"})
        assert answered.status_code == 200
        bot.settle()
        assert "*Agent* +91 98765 43210: answered" in card_updates(bot)[-1]
        httpx.get(
            url,
            params={
                "status1": "ANSWER",
                "status2": "ANSWER",
                "duration": "40",
                "billsec": "35",
                "recordpath": "//play.example/?id=9",
            },
        )
        bot.settle()
        final = card_updates(bot)[-1]
        assert (
            "Call completed" in final
            and "talk time 35 s" in final
            and "https://play.example/?id=9" in final
        )
        assert (await bot.deps.store.get_call(call.id)).state == "final"


async def test_acks_do_not_wait_for_a_hanging_kaleyra(bot, mocker) -> None:
    """20 dials hang at Kaleyra; the 21st command is still answered, before any of them is.
    Kaleyra answers only when the test lets it (a gate, not a race against a timeout)."""
    gate = asyncio.Event()
    place = bot.deps.kaleyra.click_to_call

    async def held(request):
        await gate.wait()
        return await place(request)

    async def open_gate() -> None:
        gate.set()

    mocker.patch.object(bot.deps.kaleyra, "click_to_call", side_effect=held)
    bot.register()
    for n in range(21):
        response = bot.slack.command("/c2c", f"91234567{n + 10}")
        assert response.status_code == 200 and "Dialling" in text_of(response.json())
    # Every ack came back while the Kaleyra requests behind them were all still unanswered.
    assert bot.sandbox.state.recorded("dial.click2call") == []
    assert await bot.deps.store.open_calls() == []
    assert {c.state for c in await bot.deps.store.recent_calls(AGENT, limit=50)} == {"placing"}
    bot.run(open_gate())
    bot.settle()
    assert len(bot.sandbox.state.recorded("dial.click2call")) == 21


async def test_a_burst_of_dials_is_recorded_in_one_go_and_each_placed_exactly_once(bot) -> None:
    """More dials than may be in flight at once: one row each, one Kaleyra request each."""
    from bot.phones import parse_phone

    DIALS_IN_FLIGHT = bot.deps.c2c.dial_concurrency = 20

    bot.register()
    agent = parse_phone("9876543210")
    customers = [parse_phone(f"91234{n:05d}") for n in range(DIALS_IN_FLIGHT * 2 + 5)]
    batches: list[int] = []
    create_calls = bot.deps.store.create_calls

    def recording(kind, calls, token_for=None):
        calls = list(calls)
        batches.append(len(calls))
        return create_calls(kind, calls, token_for)

    async def burst() -> bool:
        bot.deps.store.create_calls = recording
        for customer in customers:
            await bot.deps.c2c.dial(AGENT, agent, customer)
        # Acked but not yet written: a second identical dial must still be caught.
        return await bot.deps.c2c.recent_repeat(AGENT, agent, customers[0])

    assert bot.run(burst()) is True
    bot.settle()
    assert batches == [len(customers)]  # one transaction for the whole burst
    sent = bot.sandbox.state.recorded("dial.click2call")
    assert sorted(s.form["receiver"] for s in sent) == [c.national for c in customers]
    rows = await bot.deps.store.recent_calls(AGENT, limit=100)
    assert sorted(s.form["custom"] for s in sent) == sorted(f"voicebot-{r.id}" for r in rows)
    assert {r.state for r in rows} == {"placed"} and len(rows) == len(customers)


def test_a_dial_the_store_cannot_record_is_reported_not_lost(bot, monkeypatch) -> None:
    from bot.phones import parse_phone

    bot.register()

    def broken(*_args, **_kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(bot.deps.store, "create_calls", broken)

    async def dial() -> None:
        await bot.deps.c2c.dial(AGENT, parse_phone("9876543210"), parse_phone("9123456789"))

    bot.run(dial())
    bot.settle()
    assert bot.sandbox.state.recorded("dial.click2call") == []
    [told] = bot.fake.of("chat.postMessage")
    assert told["channel"] == AGENT
    assert "Could not place the call to +91 91234 56789" in text_of(told)
    assert "Nothing was dialled" in text_of(told)


async def test_dials_cut_short_by_a_restart_are_shown_as_unknown(bot) -> None:
    bot.register()
    [call] = await bot.deps.store.create_calls("c2c", [(AGENT, "+919876543210", "+919123456789")])

    async def restart() -> int:
        return await bot.deps.c2c.resume_tracking()

    bot.run(restart())
    bot.settle()
    assert (await bot.deps.store.get_call(call.id)).state == "unknown"
    [card] = bot.fake.of("chat.postMessage")
    assert card["channel"] == AGENT
    assert "Outcome unknown" in text_of(card) and "restarted while placing" in text_of(card)
    assert bot.sandbox.state.recorded("dial.click2call") == []  # never re-sent


async def test_history_pages_my_own_calls_with_their_outcomes(bot) -> None:
    """/c2c history: the calls I placed through the bot, newest first, 20 a page, outcomes shown."""
    bot.register()
    rows = await bot.deps.store.create_calls(
        "c2c", [(AGENT, "+919876543210", f"+9191234{n:05d}") for n in range(25)]
    )
    await bot.deps.store.create_calls("c2c", [(OTHER, "+919000000001", "+919123499999")])
    await bot.deps.store.update_call(rows[-1].id, state="final", status1="ANSWER", status2="ANSWER")
    await bot.deps.store.save_outcome(
        rows[-1].id, AGENT, "interested", "wants the <!here> plan", None
    )
    response = bot.command("/c2c", "history")
    shown = text_of(response.json())
    assert shown.index("+91 91234 00024") < shown.index("+91 91234 00005")  # newest first
    assert "+91 91234 00004" not in shown and "+91 91234 99999" not in shown  # page 1, mine only
    assert "outcome: *interested* · wants the &lt;!here&gt; plan" in shown
    [older] = [
        e
        for b in response.json()["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == views.HISTORY_OLDER
    ]
    bot.slack.block_action(views.HISTORY_OLDER, older["value"])
    bot.settle()
    page2 = text_of(bot.replies()[-1])
    assert "+91 91234 00004" in page2 and "+91 91234 00000" in page2
    assert "+91 91234 00005" not in page2 and "Older calls" not in page2


def test_a_toll_free_customer_is_refused_before_dialling(bot) -> None:
    bot.command("/c2c", f"register <@{ADMIN}> 9876543210", user_id=ADMIN)
    said = text_of(bot.command("/c2c", "1800 123 4567", user_id=ADMIN).json())
    assert "is a toll-free number, which Kaleyra cannot call" in said
    assert bot.sandbox.state.recorded("dial.click2call") == []


def test_a_misspelt_verb_gets_did_you_mean(bot) -> None:
    said = text_of(bot.command("/c2c", "regster 9876543210").json())
    assert "`/c2c` has no `regster`. Did you mean `/c2c register`?" in said
    assert bot.sandbox.state.recorded() == []
