"""Hostile and broken input over the wire. Every case asserts what the user is told AND what
reached Kaleyra (nothing, where nothing should)."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from bot.sandbox import Fault
from bot.views import obd as obd_views
from tests.support.harness import ADMIN, AGENT, OTHER, text_of


def said(response: httpx.Response) -> str:
    return text_of(response.json()) if response.content else ""


# ----------------------------------------------------------------------------- bad numbers

BAD_NUMBERS = [
    ("abc", "contains letters"),
    ("12345", "is too short"),
    ("98765432109876", "is too long"),
    ("+999 1234 5678", "not a phone number"),
    ("1-800-FLOWERS", "contains letters"),
    ("0000000000", "is not a valid number for IN"),
    ("<!channel>", "contains letters"),
    ("<@U0OTHER>", "contains letters"),
    ("<https://evil.example|click>", "contains letters"),
    ("9876543210 9123456789 9123456780", "I could not read"),
    ("+91 98765", "is too short"),
    ("٩٨٧٦٥", "is too short"),  # Arabic-Indic digits, too few
]


@pytest.mark.parametrize(("typed", "problem"), BAD_NUMBERS, ids=[b[0] for b in BAD_NUMBERS])
def test_c2c_bad_numbers_are_named_and_nothing_is_dialled(bot, typed: str, problem: str) -> None:
    bot.register()
    text = said(bot.command("/c2c", typed))
    assert problem in text
    assert "<!channel>" not in text and "<@U0OTHER>" not in text and "<https://evil" not in text
    assert bot.sandbox.state.recorded() == []


def test_unicode_digits_that_make_a_real_number_are_accepted(bot) -> None:
    bot.register()
    bot.command("/c2c", "９１２３４５６７８９")  # full-width digits
    [sent] = bot.sandbox.state.recorded("dial.click2call")
    assert sent.form["receiver"] == "9123456789"


# ----------------------------------------------------------------------------- size


def test_ten_thousand_numbers_to_c2c(bot) -> None:
    bot.register()
    text = said(bot.command("/c2c", " ".join(str(9100000000 + i) for i in range(10_000))))
    assert "I could not read" in text and len(text) < 3000
    assert bot.sandbox.state.recorded() == []


def test_ten_thousand_numbers_to_obd_are_confirmed_first_not_sent(bot) -> None:
    ack = said(
        bot.command(
            "/obd",
            ", ".join(str(9100000000 + i) for i in range(10_000)) + " play 123.sound",
            user_id=ADMIN,
        )
    )
    assert "Checking the numbers" in ack  # acked at once; checked after
    text = text_of(bot.replies()[-1])
    assert "call *10000* numbers" in text and "Cost: 50 Kaleyra requests" in text
    assert bot.sandbox.state.recorded() == []


def test_huge_junk_blacklist_lists_some_and_counts_the_rest(bot) -> None:
    text = said(bot.command("/blacklist", "add " + " ".join(f"x{i}" for i in range(2000))))
    assert "and 1990 more" in text and "Nothing was done" in text
    assert bot.sandbox.state.recorded() == []


EMPTY_ARGUMENTS = [
    ("/blacklist add", ":warning: Give at least one of the numbers, e.g. 9876543210."),
    (
        "/obd play 123.sound",
        ":warning: Give the numbers to call before `play` or `say`. Use `/obd &lt;numbers&gt;"
        ' play 123.sound` or `/obd &lt;numbers&gt; say "text"`, optionally followed by `at'
        " YYYY-MM-DD HH:MM`, `campaign &lt;name&gt;`, `retries &lt;0-2&gt;`. Type `/obd help`"
        " for more.",
    ),
    (
        "/followup add",
        ":warning: Give the phone, the date, the time and a name: `/followup add 9876543210 2026-11-24 16:30 Asha Rao`.",
    ),
    ("/obd dialer", ":warning: Use `/obd dialer &lt;campaign&gt; &lt;numbers&gt;`."),
]


@pytest.mark.parametrize(("command", "usage"), EMPTY_ARGUMENTS)
def test_empty_arguments(bot, command: str, usage: str) -> None:
    name, _, text = command.partition(" ")
    assert said(bot.command(name, text, user_id=ADMIN)) == usage
    assert bot.sandbox.state.recorded() == []


def test_overlong_followup_name(bot) -> None:
    bot.register()
    text = said(bot.command("/followup", "add 8712345678 2026-11-24 10:00 " + "N" * 500))
    assert "Keep the name under 100 characters" in text
    assert bot.sandbox.state.recorded() == []


def test_overlong_spoken_message(bot) -> None:
    text = said(bot.command("/obd", '9876543210 say "' + "a" * 1200 + '"', user_id=ADMIN))
    assert "keep it under 1000" in text
    assert bot.sandbox.state.recorded() == []


# ----------------------------------------------------------------------------- dates

DATES = [
    ("/followup", "add 8712345678 2026-11-22 10:00 John", "is in the past", AGENT),
    ("/followup", "add 8712345678 2026-13-45 10:00 John", "is not a date", AGENT),
    ("/followup", "add 8712345678 2026-11-24 25:61 John", "is not a time", AGENT),
    (
        "/obd",
        "9876543210 play 123.sound at 2026-11-23 10:00",
        "at least 15 minutes from now",
        ADMIN,
    ),
    ("/obd", "9876543210 play 123.sound at 2027-06-01 10:00", "too far ahead", ADMIN),
    ("/obd", "9876543210 play 123.sound at 2026-11-24 06:00", "outside that", ADMIN),
    ("/c2c", "log 2026-11-23 2026-11-01", "from-date is after the to-date", AGENT),
]


@pytest.mark.parametrize(
    ("command", "text", "problem", "user"), DATES, ids=[d[1][-24:] for d in DATES]
)
def test_dates_in_the_past_or_beyond_limits(
    bot, command: str, text: str, problem: str, user: str
) -> None:
    bot.register()
    assert problem in said(bot.command(command, text, user_id=user))
    assert bot.sandbox.state.recorded() == []


# ----------------------------------------------------------------------------- unknown ids


def test_unknown_ids_are_reported(bot) -> None:
    bot.register()
    cases = [
        ("/c2c", "status c2c_nope", "Invalid ID"),
        ("/obd", "status 999", "Invalid ID"),
        ("/obd", "status 999-1", "Invalid ID"),
        ("/followup", "edit 999999", "no follow-up #999999"),
        ("/followup", "delete 999999", "no follow-up #999999"),
    ]
    for command, text, problem in cases:
        bot.command(command, text)
        assert problem in text_of(bot.replies()[-1]), (command, text)
    assert {r.operation for r in bot.sandbox.state.recorded()} <= {
        "dial.c2cstatus",
        "voice.groupstatus",
        "voice.status",
        "followup.reports",
    }


def test_confirm_button_for_a_job_that_does_not_exist(bot, caplog) -> None:
    """A job that is gone is answered like a double click: acked, and nothing else (no error
    message for a click that did nothing, and no crash behind the silence)."""
    response = bot.slack.block_action(obd_views.OBD_CONFIRM, "99999", user_id=ADMIN)
    bot.settle()
    assert response.status_code == 200 and response.content == b""
    assert bot.replies() == [] and bot.fake.of("chat.postMessage") == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert bot.sandbox.state.recorded() == []


# ----------------------------------------------------------------------------- permissions

ADMIN_ONLY = [
    ("/obd", "9876543210 play 123.sound", "Only admins can start broadcasts"),
    ("/obd", "dialer camp 9876543210", "Only admins can start broadcasts"),
    ("/obd", "", "Only admins can start broadcasts"),
    ("/blacklist", "remove 9876543210", "Only admins can remove"),
    ("/c2c", "9000012345 9123456789", "Only admins can choose the first leg"),
    (
        "/c2c",
        "register <@U0OTHER> 9000012345",
        "Only admins can register or unregister someone else",
    ),
    ("/voicehealth", "digest <#C0OPS> 09:00", "Only admins can change the health digest"),
    ("/followup", "list all", "Only admins can list everyone's"),
    ("/c2c", "admin grant <@U0AGENT>", "Only admins can see or change who is an admin"),
]


@pytest.mark.parametrize(
    ("command", "text", "problem"), ADMIN_ONLY, ids=[f"{c} {t}"[:30] for c, t, _ in ADMIN_ONLY]
)
async def test_non_admins_are_refused_and_nothing_is_sent(
    bot, command: str, text: str, problem: str
) -> None:
    bot.register()
    assert problem in said(bot.command(command, text, user_id=AGENT))
    assert bot.sandbox.state.recorded() == []
    assert await bot.deps.store.get_agent(OTHER) is None and not await bot.deps.agents.is_admin(
        AGENT
    )
    refusal = (await bot.deps.store.audit_entries())[0]  # the newest: every refusal is audited
    assert refusal.action.endswith(".refused") and refusal.user_id == AGENT


async def test_non_admin_cannot_start_an_admins_job(bot) -> None:
    response = bot.command("/obd", "9876543210 play 123.sound", user_id=ADMIN)
    value = next(b for b in response.json()["blocks"] if b["type"] == "actions")["elements"][0][
        "value"
    ]
    bot.slack.block_action(obd_views.OBD_CONFIRM, value, user_id=AGENT)
    bot.settle()
    assert "Only admins" in text_of(bot.replies()[-1])
    assert (
        bot.sandbox.state.recorded() == []
        and (await bot.deps.store.get_job(int(value))).state == "pending"
    )


def test_granted_admin_can_then_act_and_revoked_cannot(bot) -> None:
    bot.command("/c2c", f"admin grant <@{AGENT}|agent>", user_id=ADMIN)
    assert "call *1* number" in said(
        bot.command("/obd", "9876543210 play 123.sound", user_id=AGENT)
    )
    bot.command("/c2c", f"admin revoke <@{AGENT}>", user_id=ADMIN)
    assert "Only admins" in said(bot.command("/obd", "9876543210 play 123.sound", user_id=AGENT))
    assert "ADMIN_USER_IDS" in said(bot.command("/c2c", f"admin revoke <@{ADMIN}>", user_id=ADMIN))


# ----------------------------------------------------------------------------- forged and replayed


def _post(bot, body: str, headers: dict[str, str]) -> httpx.Response:
    response = httpx.post(f"{bot.app_server.url}/slack/events", content=body, headers=headers)
    bot.settle()
    return response


@pytest.mark.parametrize(
    "attack", ["no signature", "wrong secret", "stale", "future", "tampered body"]
)
async def test_forged_requests_reach_no_handler(bot, attack: str) -> None:
    from slack_sdk.signature import SignatureVerifier

    body = bot.slack.command_body("/c2c", "register 9876543210")
    headers = bot.slack.signed_headers(body, "application/x-www-form-urlencoded")
    if attack == "no signature":
        headers.pop("x-slack-signature")
    elif attack == "wrong secret":
        ts = headers["x-slack-request-timestamp"]
        headers["x-slack-signature"] = SignatureVerifier("not-the-secret").generate_signature(
            timestamp=ts, body=body
        )
    elif attack in {"stale", "future"}:
        headers = bot.slack.signed_headers(
            body,
            "application/x-www-form-urlencoded",
            timestamp=int(time.time()) + (-600 if attack == "stale" else 600),
        )
    else:
        body = body.replace("register", "unregister")
    assert _post(bot, body, headers).status_code == 401
    assert (
        await bot.deps.store.get_agent(AGENT) is None
        and bot.fake.calls == []
        and bot.sandbox.state.recorded() == []
    )


def test_replayed_signed_request_does_nothing_the_second_time(bot) -> None:
    bot.register()
    body = bot.slack.command_body("/c2c", "9123456789")
    headers = bot.slack.signed_headers(body, "application/x-www-form-urlencoded")
    first, replay = _post(bot, body, headers), _post(bot, body, headers)
    assert "Dialling" in said(first) and replay.status_code == 200 and replay.text == ""
    assert len(bot.sandbox.state.recorded("dial.click2call")) == 1


async def test_slack_retry_of_a_broadcast_command_sends_nothing(bot) -> None:
    body = bot.slack.command_body("/obd", "9876543210 play 123.sound", user_id=ADMIN)
    kind = "application/x-www-form-urlencoded"
    first = _post(bot, body, bot.slack.signed_headers(body, kind))
    retry_headers = {
        **bot.slack.signed_headers(body, kind, timestamp=int(time.time()) - 1),
        "x-slack-retry-num": "2",
    }
    retry = _post(bot, body, retry_headers)
    assert first.text != "" and retry.text == ""
    assert await bot.deps.store.get_job(1) is not None and await bot.deps.store.get_job(2) is None


# ----------------------------------------------------------------------------- Kaleyra faults

FAULTS = [
    (Fault(timeout=True, hang_seconds=5), "Outcome unknown", "unknown", 1),
    (Fault(error_rate=1.0, http_status=502), "Outcome unknown", "unknown", 1),
    (Fault(error_rate=1.0, http_status=200, body="{not json"), "Outcome unknown", "unknown", 1),
    (
        Fault(error_rate=1.0, api_error=("E999", "Insufficient balance")),
        "Insufficient balance [code E999]",
        "failed",
        1,
    ),
]


@pytest.mark.parametrize(
    ("fault", "shown", "state", "sent"),
    FAULTS,
    ids=["timeout", "502 html", "malformed json", "api error"],
)
async def test_kaleyra_faults_on_a_dial(
    bot, fault: Fault, shown: str, state: str, sent: int
) -> None:
    bot.register()
    bot.sandbox.state.set_fault("dial.click2call", fault)
    bot.command("/c2c", "9123456789")
    card = text_of(bot.fake.of("chat.postMessage")[-1])
    assert shown in card and "Traceback" not in card
    call = (await bot.deps.store.recent_calls(AGENT))[0]
    assert call.state == state and call.kaleyra_id is None
    assert len(bot.sandbox.state.recorded("dial.click2call")) == sent  # never re-sent
    assert (await bot.deps.store.audit_entries())[0].outcome == state


async def test_kaleyra_unreachable_means_nothing_was_sent(bot) -> None:
    bot.register()
    bot.deps.kaleyra.voice_url = "http://127.0.0.1:9/v1/"
    bot.command("/c2c", "9123456789")
    card = text_of(bot.fake.of("chat.postMessage")[-1])
    assert "could not be reached, so nothing was sent" in card
    assert (await bot.deps.store.recent_calls(AGENT))[0].state == "failed"


@pytest.mark.parametrize(
    "fault",
    [Fault(error_rate=1.0, http_status=500), Fault(error_rate=1.0, http_status=200, body="<html>")],
)
def test_kaleyra_faults_on_reads_are_retried_then_explained(bot, fault: Fault) -> None:
    bot.sandbox.state.set_fault("monitor", fault)
    bot.command("/voicehealth")
    assert "Kaleyra had a problem" in text_of(bot.replies()[-1])
    assert len(bot.sandbox.state.recorded("monitor")) == 3


# ----------------------------------------------------------------------------- Slack faults


async def test_slack_rate_limit_is_waited_out(bot) -> None:
    bot.register()
    bot.fake.fail("chat.postMessage", "ratelimited", status=429, retry_after=1)
    bot.command("/c2c", "9123456789")
    posts = bot.fake.of("chat.postMessage")
    assert (
        len(posts) == 2 and (await bot.deps.store.recent_calls(AGENT))[0].message_ts
    )  # second try landed


async def test_slack_refusing_the_card_does_not_lose_the_call(bot) -> None:
    bot.register()
    bot.fake.fail("chat.postMessage", "channel_not_found")
    bot.command("/c2c", "9123456789")
    call = (await bot.deps.store.recent_calls(AGENT))[0]
    assert call.state == "placed" and call.kaleyra_id and call.message_ts is None
    assert len(bot.sandbox.state.recorded("dial.click2call")) == 1
