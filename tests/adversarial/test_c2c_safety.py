"""Click-to-call safety over the wire (issue 12, items 2, 3, 4, 6, 9, 14): never twice, never an
unproven number, never a number the reader could not see, never forged text. Every case
asserts what the user saw AND what reached Kaleyra (nothing, where nothing should)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bot.local.fakeslack import APP_ID, TEAM_ID
from bot.sandbox import Fault
from bot.views import c2c as c2c_views
from bot.views import shortcut as shortcut_views
from bot.views.followup import FOLLOWUP_CALL
from tests.support.harness import ADMIN, AGENT, OTHER, VERIFICATION_CODE, Harness, text_of

# The same rules over the wire on both databases (PostgreSQL when TEST_DATABASE_URL is set).
BOTH_DATABASES = True


def said(response: httpx.Response) -> str:
    return text_of(response.json()) if response.content else ""


def dials(bot) -> list[Any]:
    return bot.sandbox.state.recorded("dial.click2call")


def press(
    bot,
    action_id: str,
    value: str,
    *,
    user_id: str = AGENT,
    message_ts: str | None = "1700000000.000500",
    view_id: str | None = None,
    action_ts: str | None = None,
) -> httpx.Response:
    """A button press as Slack sends it: from a message (its ts) or from a view (its id)."""
    container: dict[str, Any] = {"type": "message", "message_ts": message_ts, "channel_id": "D0X"}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": user_id},
        "api_app_id": APP_ID,
        "trigger_id": f"{time.time_ns()}.trigger",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "type": "button",
                "action_ts": action_ts or f"{time.time():.6f}",
            }
        ],
    }
    if view_id:
        payload.update(container={"type": "view", "view_id": view_id}, view={"id": view_id})
    else:
        payload.update(
            container=container,
            message={"ts": message_ts, "text": ""},
            response_url=f"{bot.slack.slack_url}/response/press-{time.time_ns()}",
        )
    response = bot.slack.interactive(payload)
    bot.settle()
    return response


def dms(bot, user_id: str = AGENT) -> list[str]:
    return [text_of(p) for p in bot.fake.of("chat.postMessage") if p["channel"] == user_id]


def asked_to_dial_again(bot) -> int:
    """How many times the user was asked to confirm a repeat, in a DM or in place."""
    shown = dms(bot) + [text_of(r) for r in bot.replies()]
    return sum("Dial again?" in text for text in shown)


def add_followup(bot) -> str:
    bot.command("/followup", "add 8712345678 2026-11-24 19:30 John Doe")
    assert bot.sandbox.state.recorded("followup")
    return "2351"  # the sandbox's first follow-up id


def code_call(bot, number_national: str) -> str:
    """The code the last verification call to `number_national` read out."""
    for request in reversed(bot.sandbox.state.recorded("voice.call")):
        if request.form.get("numbers") == number_national:
            found = VERIFICATION_CODE.search(request.form.get("message", ""))
            if found:
                return found.group(1).replace(" ", "")
    raise AssertionError(f"no verification call to {number_national}")


# ============================================================================ item 4: twice


def test_a_double_clicked_call_now_places_one_call_and_a_second_within_60_s_asks_first(
    bot, clock
) -> None:
    bot.register()
    followup_id = add_followup(bot)
    press(bot, FOLLOWUP_CALL, followup_id)  # the reminder's button, clicked twice
    press(bot, FOLLOWUP_CALL, followup_id)
    [sent] = dials(bot)
    assert (sent.form["caller"], sent.form["receiver"]) == ("9876543210", "8712345678")
    assert asked_to_dial_again(bot) == 0  # the second click is nothing, not a repeat

    clock.advance(seconds=20)  # past the double-click guard, inside the repeat window
    press(bot, FOLLOWUP_CALL, followup_id)
    assert len(dials(bot)) == 1
    assert "less than a minute ago. Dial again?" in dms(bot)[-1]


def test_call_now_in_the_app_home_is_guarded_too(bot) -> None:
    bot.register()
    followup_id = add_followup(bot)
    for _ in range(3):
        press(bot, FOLLOWUP_CALL, followup_id, view_id="V0HOME")
    assert len(dials(bot)) == 1 and asked_to_dial_again(bot) == 0


def test_dial_again_clicked_twice_dials_once_whatever_the_action_ts(bot) -> None:
    bot.register()
    bot.command("/c2c", "9123456789")
    ask = bot.command("/c2c", "9123456789").json()
    value = ask["blocks"][1]["elements"][0]["value"]
    press(bot, c2c_views.REDIAL_CONFIRM, value, action_ts="1700000000.1")
    press(bot, c2c_views.REDIAL_CONFIRM, value, action_ts="1700000000.2")  # a new action_ts
    assert len(dials(bot)) == 2  # the first call and one redial
    assert [text_of(r) for r in bot.replies()].count(
        ":telephone_receiver: Dialling again. I'll keep you posted in our DM."
    ) == 1


def test_a_dial_again_button_works_once_even_from_another_message(bot, clock) -> None:
    bot.register()
    bot.command("/c2c", "9123456789")
    value = bot.command("/c2c", "9123456789").json()["blocks"][1]["elements"][0]["value"]
    press(bot, c2c_views.REDIAL_CONFIRM, value, message_ts="1700000000.000601")
    clock.advance(seconds=30)
    press(bot, c2c_views.REDIAL_CONFIRM, value, message_ts="1700000000.000602")
    assert len(dials(bot)) == 2


def test_the_shortcut_call_button_double_clicked_dials_once(bot) -> None:
    bot.register()
    bot.slack.message_shortcut(shortcut_views.CALL_SHORTCUT, "call 098765 43211")
    bot.settle()
    value = bot.replies()[-1]["blocks"][1]["elements"][0]["value"]
    press(bot, shortcut_views.CALL_CONFIRM, value)
    press(bot, shortcut_views.CALL_CONFIRM, value)
    assert len(dials(bot)) == 1 and asked_to_dial_again(bot) == 0


def test_the_dial_form_goes_through_the_repeat_check(bot) -> None:
    bot.register()
    bot.command("/c2c", "9123456789")
    bot.command("/c2c", "")
    view = bot.fake.of("views.open")[-1]["view"]
    values = {
        c2c_views.AGENT_BLOCK: {c2c_views.AGENT_INPUT: {"type": "x", "value": "9876543210"}},
        c2c_views.CUSTOMER_BLOCK: {c2c_views.CUSTOMER_INPUT: {"type": "x", "value": "9123456789"}},
    }
    bot.slack.view_submission(view, values)
    bot.settle()
    assert len(dials(bot)) == 1
    assert "Dial again?" in dms(bot)[-1]


# ============================================================================ item 3: proof


def test_an_unproven_number_bridges_nobody(bot) -> None:
    reply = said(bot.command("/c2c", "register 9000012345"))  # anyone's number
    assert "now calls from +91 90000 12345 once it is verified" in reply
    [call] = bot.sandbox.state.recorded("voice.call")  # the number itself is rung…
    assert call.form["numbers"] == "9000012345" and "voicebot code is" in call.form["message"]
    refused = said(bot.command("/c2c", "9111122222"))
    assert "not verified yet" in refused and "/c2c verify" in refused
    assert dials(bot) == []  # …and no stranger is bridged
    whoami = said(bot.command("/c2c", "whoami"))
    assert "unverified — type `/c2c verify <code>`" in whoami


async def test_the_code_proves_the_number(bot) -> None:
    bot.command("/c2c", "register 9876543210")
    code = code_call(bot, "9876543210")
    assert "Verified: you now call from +91 98765 43210" in said(
        bot.command("/c2c", f"verify {code[:3]} {code[3:]}")
    )
    bot.command("/c2c", "9123456789")
    [sent] = dials(bot)
    assert sent.form["caller"] == "9876543210"
    assert [e.outcome for e in await bot.deps.store.audit_entries(action="c2c.verify")] == ["ok"]


async def test_five_wrong_codes_and_the_code_is_dead(bot) -> None:
    bot.command("/c2c", "register 9876543210")
    code = code_call(bot, "9876543210")
    wrong = "000000" if code != "000000" else "111111"
    replies = [said(bot.command("/c2c", f"verify {wrong}")) for _ in range(5)]
    assert "4 tries left" in replies[0] and "again for a new call" in replies[-1]
    assert "Too many wrong codes" in said(bot.command("/c2c", f"verify {code}"))
    bot.command("/c2c", "9123456789")
    assert dials(bot) == []
    outcomes = [e.outcome for e in await bot.deps.store.audit_entries(action="c2c.verify")]
    assert outcomes == ["too many"] + ["wrong code"] * 5


async def test_a_code_typed_after_ten_minutes_is_refused(bot, clock) -> None:
    bot.command("/c2c", "register 9876543210")
    code = code_call(bot, "9876543210")
    clock.advance(minutes=11)
    assert "has expired" in said(bot.command("/c2c", f"verify {code}"))
    bot.command("/c2c", "9123456789")
    assert dials(bot) == []
    assert (await bot.deps.store.audit_entries(action="c2c.verify"))[0].outcome == "expired"


@pytest.mark.parametrize("typed", ["verify", "verify 12345", "verify 1234567", "verify abcdef"])
def test_a_malformed_code_is_a_usage_error(bot, typed: str) -> None:
    assert "6-digit code" in said(bot.command("/c2c", typed))
    assert bot.sandbox.state.recorded() == []


def test_an_admin_assigns_a_number_without_proof(bot) -> None:
    reply = said(bot.command("/c2c", f"register <@{OTHER}> 9123456789", user_id=ADMIN))
    assert f"<@{OTHER}> now calls from +91 91234 56789." in reply
    assert bot.sandbox.state.recorded("voice.call") == []  # no verification call
    bot.command("/c2c", "9876500000", user_id=OTHER)
    [sent] = dials(bot)
    assert sent.form["caller"] == "9123456789"


def test_registering_another_number_needs_proof_again(bot) -> None:
    bot.register()
    bot.command("/c2c", "register 9000012345")
    bot.command("/c2c", "9123456789")
    assert dials(bot) == []  # neither the new unproven number nor the old one rings first
    assert "unverified" in said(bot.command("/c2c", "whoami"))


async def test_an_unproven_number_grants_no_follow_ups(bot) -> None:
    bot.command("/c2c", "register 9876543210")
    reply = said(bot.command("/followup", "add 8712345678 2026-11-24 19:30 John Doe"))
    assert reply and "Traceback" not in reply
    assert bot.sandbox.state.recorded("followup") == []
    assert await bot.deps.store.agent_by_number("+919876543210") is None  # reminders go nowhere


def test_a_stranger_cannot_take_a_proven_number(bot) -> None:
    bot.register()
    reply = said(bot.command("/c2c", "register 9876543210", user_id=OTHER))
    assert "already registered to another Slack user" in reply
    assert bot.sandbox.state.recorded("voice.call") == []  # the owner's phone is not rung


def test_the_app_home_form_verifies_the_same_way(bot) -> None:
    from bot.views.c2c import REGISTER_BLOCK, REGISTER_INPUT, VERIFY_BLOCK, VERIFY_INPUT

    press(bot, c2c_views.REGISTER_BUTTON, "", view_id="V0HOME")
    view = bot.fake.of("views.open")[-1]["view"]
    value = {"type": "plain_text_input", "value": "98765 43210"}
    answer = bot.slack.view_submission(view, {REGISTER_BLOCK: {REGISTER_INPUT: value}}).json()
    bot.settle()
    assert answer["response_action"] == "update"
    assert "I am ringing +91 98765 43210" in text_of(answer["view"])
    bot.command("/c2c", "9123456789")
    assert dials(bot) == []
    code = code_call(bot, "9876543210")
    wrong = {"type": "plain_text_input", "value": "000000" if code != "000000" else "111111"}
    errors = bot.slack.view_submission(answer["view"], {VERIFY_BLOCK: {VERIFY_INPUT: wrong}})
    assert "not the code" in errors.json()["errors"][VERIFY_BLOCK]
    right = {"type": "plain_text_input", "value": code}
    assert (
        bot.slack.view_submission(answer["view"], {VERIFY_BLOCK: {VERIFY_INPUT: right}}).text == ""
    )
    bot.settle()
    bot.command("/c2c", "9123456789")
    assert len(dials(bot)) == 1


# ============================================================================ item 2: shortcut


def test_a_link_target_the_reader_cannot_see_is_never_dialled(bot) -> None:
    bot.register()
    bot.slack.message_shortcut(
        shortcut_views.CALL_SHORTCUT, "Trouble? <tel:+449012345678|Call IT support>"
    )
    bot.settle()
    assert "found no phone number" in text_of(bot.replies()[-1])
    assert bot.fake.of("views.open") == [] and bot.sandbox.state.recorded() == []


def test_a_link_whose_label_shows_the_number_is_offered(bot) -> None:
    bot.register()
    bot.slack.message_shortcut(shortcut_views.CALL_SHORTCUT, "Ring <tel:9876543211|9876543211>")
    bot.settle()
    offer = bot.replies()[-1]
    assert "Call *+91 98765 43211*?" in text_of(offer)
    assert dials(bot) == []  # shown, not dialled
    press(bot, shortcut_views.CALL_CONFIRM, offer["blocks"][1]["elements"][0]["value"])
    [sent] = dials(bot)
    assert sent.form["receiver"] == "9876543211"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Call 1860 500 1234 now", "shared-cost"),
        ("Office +44 20 7946 0958", "United Kingdom number"),
    ],
)
def test_the_shortcut_refuses_what_typed_numbers_refuse(bot, text: str, reason: str) -> None:
    bot.register()
    bot.slack.message_shortcut(shortcut_views.CALL_SHORTCUT, text)
    bot.settle()
    shown = text_of(bot.replies()[-1])
    assert "found no phone number" in shown and reason in shown
    assert bot.sandbox.state.recorded() == []


def test_the_shortcut_always_asks_and_cancel_dials_nothing(bot) -> None:
    bot.register()
    bot.slack.message_shortcut(shortcut_views.CALL_SHORTCUT, "9123456789, and +44 20 7946 0958")
    bot.settle()
    offer = bot.replies()[-1]
    assert "Call *+91 91234 56789*?" in text_of(offer) and "United Kingdom" in text_of(offer)
    press(bot, shortcut_views.CALL_CANCEL, "+919123456789")
    assert "Not dialled." in text_of(bot.replies()[-1])
    assert bot.sandbox.state.recorded() == []


def test_the_shortcut_does_not_offer_an_unproven_number(bot) -> None:
    bot.command("/c2c", "register 9876543210")
    bot.sandbox.state.clear_requests()
    bot.slack.message_shortcut(shortcut_views.CALL_SHORTCUT, "9123456789")
    bot.settle()
    assert "not verified yet" in text_of(bot.replies()[-1])
    assert bot.sandbox.state.recorded() == []


# ============================================================================ item 6: callbacks


@pytest.fixture
def hooked(sandbox, tmp_path, clock):
    harness = Harness(sandbox, tmp_path, clock, public_url="https://voicebot.example.com")
    yield harness
    harness.close()


async def placed_call(bot):
    bot.register()
    bot.command("/c2c", "9123456789")
    call = (await bot.deps.store.recent_calls(AGENT))[0]
    return call, f"{bot.app_server.url}/kaleyra/callback/{call.callback_token}"


def cards(bot) -> list[str]:
    return [
        json.dumps(c.payload)
        for c in bot.fake.calls
        if c.method in {"chat.postMessage", "chat.update"}
    ]


EVIL = "<https://evil.example/login|Re-enter your Slack password>"


async def test_a_forged_status_word_never_reaches_the_card_or_home(hooked) -> None:
    call, url = await placed_call(hooked)
    assert httpx.get(url, params={"status1": EVIL, "status2": "<!channel>"}).status_code == 200
    hooked.settle()
    assert not any("evil.example" in c or "<!channel>" in c for c in cards(hooked))
    hooked.slack.event({"type": "app_home_opened", "user": AGENT, "channel": "D0X", "tab": "home"})
    hooked.settle()
    home = json.dumps(hooked.fake.of("views.publish")[-1]["view"])
    assert "evil.example" not in home
    assert (await hooked.deps.store.get_call(call.id)).status1 is None


async def test_a_replayed_callback_never_changes_a_final_call(hooked) -> None:
    call, url = await placed_call(hooked)
    final = {"status1": "ANSWER", "status2": "ANSWER", "duration": "40", "billsec": "35"}
    httpx.get(url, params=final)
    hooked.settle()
    updates = len(hooked.fake.of("chat.update"))
    for late in (
        {"status1": "ANSWER", "status2": "", "duration": "0"},
        {"status1": "BUSY", "status2": "BUSY", "duration": "", "billsec": ""},
        {"status1": EVIL},
    ):
        assert httpx.get(url, params=late).status_code == 200
        hooked.settle()
    row = await hooked.deps.store.get_call(call.id)
    assert (row.state, row.status1, row.status2, row.duration, row.billsec) == (
        "final",
        "ANSWER",
        "ANSWER",
        40,
        35,
    )
    assert len(hooked.fake.of("chat.update")) == updates  # the card was not touched


@pytest.mark.parametrize(
    "recording",
    ["http://play.example/a.mp3", "javascript:alert(1)", "https://evil.example/x|Log in here"],
)
async def test_only_https_recording_links_are_shown(hooked, recording: str) -> None:
    _call, url = await placed_call(hooked)
    params = {"status1": "ANSWER", "status2": "ANSWER", "duration": "4", "recordpath": recording}
    httpx.get(url, params=params)
    hooked.settle()
    final = text_of(hooked.fake.of("chat.update")[-1])
    assert "Call completed" in final and "listen" not in final and "evil" not in final


async def test_callback_tokens_expire_a_day_after_the_call(hooked, clock) -> None:
    call, url = await placed_call(hooked)
    clock.advance(hours=24, seconds=1)
    assert httpx.get(url, params={"status1": "ANSWER"}).status_code == 404
    hooked.settle()
    assert (await hooked.deps.store.get_call(call.id)).status1 is None


# Every way a callback token can be wrong, in one place (it was tested four times): each is
# 404 without a traceback, and the placed call is left as it was.
BAD_TOKENS = [
    "%E0%A5%A7-" + "0" * 32,  # a Devanagari digit
    "1-" + "%C3%A9" * 32,
    "1-" + "0" * 31 + "%00",
    "-1-" + "0" * 32,
    "99999999999999999999999999-" + "0" * 32,
    "abc",
    "1-",
    "-1-abc",
    "0-" + "a" * 64,
    "١٢٣-abc",  # Arabic-Indic digits pass isdigit(); compare_digest then raised TypeError: 500
    "𝟗𝟗-x",
    "9" * 300,
    "1-%00",
    "%F0%9F%98%80",
    "1-" + "é" * 10,
    "1-deadbeef",
    "nope",
    "1",
    "999-" + "0" * 32,
]


async def test_malformed_or_wrong_tokens_are_404_never_500_and_change_nothing(hooked) -> None:
    call, url = await placed_call(hooked)
    answered = {"status1": "ANSWER", "status2": "ANSWER", "duration": "30"}
    wrong = {}
    right = call.callback_token
    near = [right[:-1] + ("1" if right.endswith("0") else "0"), right + "0", right.upper()]
    for token in [*BAD_TOKENS, *near]:
        response = httpx.get(
            f"{hooked.app_server.url}/kaleyra/callback/{quote(token, safe='%')}", params=answered
        )
        if response.status_code != 404 or "Traceback" in response.text:
            wrong[token] = response.status_code
    hooked.settle()
    assert wrong == {}
    assert (await hooked.deps.store.get_call(call.id)).status1 is None
    assert httpx.get(url, params=answered).status_code == 200  # the right one still works


# ============================================================================ item 14: masking


def test_the_log_masks_other_peoples_numbers_for_non_admins(bot) -> None:
    bot.register(ADMIN, "9000012345")
    bot.register(AGENT, "9876543210")
    bot.command("/c2c", "9123456701", user_id=ADMIN)
    bot.command("/c2c", "9123456702", user_id=AGENT)
    bot.command("/c2c", "log", user_id=AGENT)
    mine = text_of(bot.replies()[-1])
    assert "9876543210 → 9123456702" in mine  # my own call in full
    assert "9000012345" not in mine and "9123456701" not in mine
    assert "90******45 → 91******01" in mine and "admins see them in full" in mine
    bot.command("/c2c", "log", user_id=ADMIN)
    assert "9000012345 → 9123456701" in text_of(bot.replies()[-1])


def test_incoming_calls_are_masked_except_my_own(bot) -> None:
    bot.register()
    for n, callto in enumerate(["9876543210", "9912345678"]):
        bot.sandbox.state.incoming.append(
            {
                "id": f"in{n}",
                "callfrom": f"951234567{n}",
                "callto": callto,
                "start_time": "2026-11-23 10:00:00",
                "duration": "30",
                "status": "ANSWER",
            }
        )
    bot.command("/c2c", "calls 2026-11-23", user_id=AGENT)
    shown = text_of(bot.replies()[-1])
    assert "9512345670 → 9876543210" in shown  # a call to my number
    assert "95******71 → 99******78" in shown and "9912345678" not in shown
    bot.command("/c2c", "calls 2026-11-23", user_id=OTHER)
    assert "9876543210" not in text_of(bot.replies()[-1])


# ============================================================================ item 9: odd answers


@pytest.mark.parametrize(
    "body",
    [
        '{"status": "200", "message": "OK", "data": {"id": 4242}}',  # a numeric id
        '{"status": "200", "message": "OK", "data": "queued"}',  # no id at all
        '{"status": "200", "message": "OK", "data": {"id": {"nested": true}}}',
    ],
    ids=["numeric id", "no id", "nested id"],
)
async def test_a_call_kaleyra_placed_always_gets_its_card(bot, body: str) -> None:
    bot.register()
    bot.sandbox.state.set_fault(
        "dial.click2call", Fault(error_rate=1.0, http_status=200, body=body)
    )
    assert "Dialling" in said(bot.command("/c2c", "9123456789"))
    assert len(dials(bot)) == 1
    [card] = [c for c in dms(bot) if "91234 56789" in c]
    assert "Traceback" not in card
    call = (await bot.deps.store.recent_calls(AGENT))[0]
    assert call.state in {"placed", "unknown", "untracked"} and call.message_ts
    if call.state != "placed":  # whether it rang is not known: dialling again asks first
        assert "Dial again?" in said(bot.command("/c2c", "9123456789"))
        assert len(dials(bot)) == 1
