"""Follow-ups, reminders, blacklist and health, tried as an attacker and a careless user would.

Over the wire: the real Bolt app, the fake Slack, the Kaleyra sandbox. Each asserts what the user
saw and what reached Kaleyra (nothing, where nothing should). Issue 11 (the audited refusal) and
issue 12 items 7 (escaping), 8 (claims never lost) and 14 (past follow-ups, who acts).
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.state import FollowupState
from bot.views import followup as views
from tests.support.harness import ADMIN, AGENT, OTHER, text_of

# Sent-log claims, reminders and health baselines: rules every replica shares, on both databases.
BOTH_DATABASES = True

CLAIMER = "U0CLAIM"
IST = ZoneInfo("Asia/Kolkata")
DEAD_SLACK = "http://127.0.0.1:9/api/"  # nothing listens: a refused / reset connection


def add(bot, when: str = "2026-11-23 12:00", name: str = "John Doe", user_id: str = AGENT):
    return bot.command("/followup", f"add 8712345678 {when} {name}", user_id=user_id)


def posts(bot, channel: str = "C0OPS") -> list[dict]:
    return [p for p in bot.fake.of("chat.postMessage") if p["channel"] == channel]


def reminders_sent(bot) -> list[dict]:
    return [p for p in bot.fake.of("chat.postMessage") if "reminder" in p["text"].lower()]


def raw(payload: dict) -> str:
    """Everything a payload carries, blocks and the notification text alike."""
    return json.dumps(payload)


class SlackDown:
    """Slack unreachable for the app's Web API calls (after slack_sdk's own retries)."""

    def __init__(self, bot) -> None:
        self.bot = bot
        self.url = bot.deps.slack.base_url

    def __enter__(self) -> SlackDown:
        self.bot.deps.slack.base_url = DEAD_SLACK
        return self

    def __exit__(self, *exc: object) -> None:
        self.bot.deps.slack.base_url = self.url


@pytest.fixture
def digest_channel(bot):
    bot.command("/voicehealth", "digest <#C0OPS|ops> 09:00", user_id=ADMIN)
    return "C0OPS"


# ----------------------------------------------------------------------------- issue 11


async def test_list_all_by_a_non_admin_is_refused_and_audited(bot) -> None:
    bot.register()
    response = bot.command("/followup", "list all")
    assert "Only admins can list everyone's follow-ups" in text_of(response.json())
    assert bot.sandbox.state.recorded("followup.reports") == []
    [entry] = await bot.deps.store.audit_entries(action="followup.list.refused")
    assert (entry.user_id, entry.outcome) == (AGENT, "not admin")


# ----------------------------------------------------------------------------- item 7


def test_blacklist_add_of_a_broadcast_mention_is_echoed_escaped(bot) -> None:
    response = bot.command("/blacklist", "add <!here>")
    payload = response.json()
    assert "&lt;!here&gt;" in text_of(payload)
    assert "<!here>" not in raw(payload)  # neither the blocks nor the notification text
    assert bot.sandbox.state.recorded() == []


def test_a_forged_done_button_value_is_not_echoed_raw(bot) -> None:
    bot.register()
    bot.slack.block_action(views.FOLLOWUP_DONE, "<!channel>")
    bot.settle()
    [reply] = bot.replies()
    assert "<!channel>" not in raw(reply)
    assert "no follow-up #&lt;!channel&gt;" in text_of(reply)


def test_a_reminder_notification_text_is_escaped(bot, clock) -> None:
    bot.register()
    add(bot, name="<!channel> Ltd")
    clock.now = clock.now.replace(hour=11, minute=50)
    assert bot.run(bot.deps.reminders.run_due()) == 1
    [dm] = reminders_sent(bot)
    assert "&lt;!channel&gt; Ltd" in dm["text"] and "<!channel>" not in raw(dm)


def test_health_alert_escapes_unknown_status_words_and_regions(bot, digest_channel) -> None:
    incident = {
        "region": "<!here>",
        "region_code": "<@U0ADMIN>",
        "type": "operational",
        "service": "<https://evil.example|login>",
        "numbers": ["<!channel>"],
    }
    bot.sandbox.state.incidents = [incident]
    bot.run(bot.deps.voicehealth.poll())
    bot.sandbox.state.incidents = [{**incident, "type": "<!everyone>"}]
    bot.run(bot.deps.voicehealth.poll())
    [alert] = posts(bot)
    assert "&lt;!everyone&gt;" in text_of(alert)
    for forged in ("<!here>", "<@U0ADMIN>", "<https://evil", "<!channel>", "<!everyone>"):
        assert forged not in raw(alert)


# ----------------------------------------------------------------------------- item 8


async def test_a_reminder_whose_dm_fails_on_the_connection_is_sent_on_the_next_run(
    bot, clock
) -> None:
    bot.register()
    add(bot)
    clock.now = clock.now.replace(hour=11, minute=50)
    with SlackDown(bot):
        bot.run(bot.deps.reminders.run_due())
    assert reminders_sent(bot) == []
    assert await bot.deps.store.sent_entries("reminder") == []  # released, not claimed forever
    clock.advance(minutes=1)
    assert bot.run(bot.deps.reminders.run_due()) == 1
    [dm] = reminders_sent(bot)
    assert "Call *John Doe* on +91 87123 45678 at <!date^1795415400^" in text_of(dm)


def test_a_reminder_never_sent_is_listed_as_missed(bot, clock, digest_channel) -> None:
    bot.register()
    add(bot)
    clock.now = clock.now.replace(hour=11, minute=50)
    with SlackDown(bot):
        for _ in range(3):
            bot.run(bot.deps.reminders.run_due())
            clock.advance(minutes=1)
    clock.now = clock.now.replace(hour=12, minute=40)  # past its grace
    bot.run(bot.deps.reminders.run_due())
    clock.advance(days=1)
    clock.now = clock.now.replace(hour=9, minute=0)
    assert bot.run(bot.deps.voicehealth.digest()) is True
    assert "reminder for follow-up #2351" in text_of(posts(bot)[-1])


async def test_a_digest_whose_post_fails_is_released_and_posted_later(bot, digest_channel) -> None:
    with SlackDown(bot):
        assert bot.run(bot.deps.voicehealth.digest()) is False
    assert await bot.deps.store.sent_entries("digest") == []
    assert bot.run(bot.deps.voicehealth.digest()) is True
    assert "Daily voice health digest" in text_of(posts(bot)[-1])


def test_missed_items_survive_a_digest_that_could_not_be_posted(bot, clock, digest_channel) -> None:
    bot.register()
    add(bot)
    clock.now = clock.now.replace(hour=13, minute=0)  # too late: reported missed
    bot.run(bot.deps.reminders.run_due())
    with SlackDown(bot):
        bot.run(bot.deps.voicehealth.digest())
    bot.run(bot.deps.voicehealth.digest())
    assert "reminder for follow-up #2351 (John Doe)" in text_of(posts(bot)[-1])


def test_a_health_change_is_stored_only_after_its_alert_was_posted(bot, digest_channel) -> None:
    ka = {"region": "Karnataka", "region_code": "KA-IN", "type": "operational", "numbers": []}
    bot.sandbox.state.incidents = [ka]
    bot.run(bot.deps.voicehealth.poll())  # baseline
    bot.sandbox.state.incidents = [{**ka, "type": "critical"}]
    with SlackDown(bot):
        bot.run(bot.deps.voicehealth.poll())
    assert posts(bot) == []
    bot.run(bot.deps.voicehealth.poll())
    [alert] = posts(bot)
    assert "operational → :red_circle: *Karnataka* (KA-IN) critical" in text_of(alert)


def test_an_outage_alert_that_failed_is_posted_when_slack_answers(bot, digest_channel) -> None:
    from bot.sandbox import Fault

    bot.sandbox.state.set_fault("monitor", Fault(error_rate=1.0, http_status=503))
    with SlackDown(bot):
        bot.run(bot.deps.voicehealth.poll())
    bot.run(bot.deps.voicehealth.poll())
    [outage] = posts(bot)
    assert "cannot be read" in text_of(outage)


async def test_a_claim_left_by_a_crash_mid_send_is_reported_not_lost(
    bot, clock, digest_channel
) -> None:
    bot.register()
    add(bot)
    due = datetime(2026, 11, 23, 11, 50, tzinfo=IST)
    key = f"reminder:2351:{due.astimezone(ZoneInfo('UTC')).isoformat()}"
    assert await bot.deps.store.claim(key, "reminder", due)  # the process stopped right after this
    clock.now = clock.now.replace(hour=12, minute=10)
    bot.run(bot.deps.reminders.run_due())
    clock.advance(days=1)
    clock.now = clock.now.replace(hour=9, minute=0)
    bot.run(bot.deps.voicehealth.digest())
    assert "interrupted: it may not have been sent" in text_of(posts(bot)[-1])


# ----------------------------------------------------------------------------- item 14


def test_past_followups_are_not_read_again_every_minute(bot, clock, mocker) -> None:
    bot.register()
    add(bot)
    clock.now = clock.now.replace(hour=13, minute=0)
    bot.run(bot.deps.reminders.run_due())  # too late: reported missed once
    reads = mocker.spy(bot.deps.store, "_all")
    for _ in range(3):
        clock.advance(minutes=1)
        bot.run(bot.deps.reminders.run_due())
    rows = [
        row
        for call, result in zip(reads.call_args_list, reads.spy_return_list, strict=True)
        if "FROM followups" in call.args[0]
        for row in result
    ]
    assert rows == []


def test_synced_past_followups_are_not_reported_with_customer_names(
    bot, clock, digest_channel
) -> None:
    bot.register()
    for n in range(5):
        bot.sandbox.state.followups[f"60{n:02d}"] = FollowupState(
            f"60{n:02d}",
            f"87123400{n:02d}",
            f"Old Customer {n}",
            "9876543210",
            datetime(2026, 10, 1 + n, 10, 0),
        )
    assert bot.run(bot.deps.reminders.sync()) == 5
    bot.run(bot.deps.reminders.run_due())
    bot.run(bot.deps.voicehealth.digest())
    digest = text_of(posts(bot)[-1])
    assert "Old Customer" not in digest and "#6000" not in digest
    assert "Missed while the bot was down" not in digest
    assert reminders_sent(bot) == []


def test_a_synced_followup_missed_while_we_ran_is_reported_without_its_name(
    bot, clock, digest_channel
) -> None:
    bot.register()
    bot.sandbox.state.followups["7000"] = FollowupState(
        "7000", "8712340000", "Walk-in Customer", "9876543210", datetime(2026, 11, 23, 12, 0)
    )
    bot.run(bot.deps.reminders.sync())
    clock.now = clock.now.replace(hour=13, minute=0)
    bot.run(bot.deps.reminders.run_due())
    clock.advance(days=1)
    clock.now = clock.now.replace(hour=9, minute=0)
    bot.run(bot.deps.voicehealth.digest())
    digest = text_of(posts(bot)[-1])
    assert "reminder for follow-up #7000 (made outside Slack)" in digest
    assert "Walk-in" not in digest


def _edit_values(follower: str, name: str = "Hijacked") -> dict:
    picked = int(datetime(2026, 11, 24, 10, 0, tzinfo=IST).timestamp())
    return {
        views.PHONE_BLOCK: {views.PHONE_INPUT: {"type": "plain_text_input", "value": "8712345678"}},
        views.NAME_BLOCK: {views.NAME_INPUT: {"type": "plain_text_input", "value": name}},
        views.FOLLOWER_BLOCK: {
            views.FOLLOWER_INPUT: {"type": "plain_text_input", "value": follower}
        },
        views.WHEN_BLOCK: {
            views.WHEN_INPUT: {"type": "datetimepicker", "selected_date_time": picked}
        },
        views.AUTOCALL_BLOCK: {
            views.AUTOCALL_INPUT: {"type": "checkboxes", "selected_options": []}
        },
        views.NOTES_BLOCK: {views.NOTES_INPUT: {"type": "plain_text_input", "value": None}},
    }


async def test_an_edit_submitted_by_someone_else_is_refused_and_nothing_is_sent(bot) -> None:
    bot.register()
    bot.register(OTHER, "9123456789")
    add(bot, "2026-11-24 19:30")
    sent_before = len(bot.sandbox.state.recorded("followup"))
    view = {**views.modal(follower=None, can_change_follower=False), "private_metadata": "2351"}
    response = bot.slack.view_submission(view, _edit_values("9123456789"), user_id=OTHER)
    bot.settle()
    assert response.status_code == 200
    assert len(bot.sandbox.state.recorded("followup")) == sent_before  # nothing reached Kaleyra
    [dm] = [p for p in bot.fake.of("chat.postMessage") if p["channel"] == OTHER]
    assert "belongs to someone else" in text_of(dm) and "was not saved" in text_of(dm)
    assert (await bot.deps.store.get_followup("2351")).name == "John Doe"


async def test_snooze_and_done_by_someone_else_are_refused(bot, clock) -> None:
    bot.register()
    bot.register(OTHER, "9123456789")
    add(bot)
    bot.fake.clear()
    bot.slack.block_action(views.FOLLOWUP_SNOOZE, "2351", user_id=OTHER)
    bot.slack.block_action(views.FOLLOWUP_DONE, "2351", user_id=OTHER)
    bot.settle()
    assert len(bot.replies()) == 2
    assert all("belongs to someone else" in text_of(r) for r in bot.replies())
    item = await bot.deps.store.get_followup("2351")
    assert (item.state, item.remind_at) == ("active", None)
    clock.now = clock.now.replace(hour=11, minute=50)
    assert bot.run(bot.deps.reminders.run_due()) == 1  # the follower is still reminded


async def test_claiming_the_followers_number_hands_over_nothing(bot, clock) -> None:
    bot.register()
    add(bot)
    bot.command("/c2c", "unregister")
    bot.command("/c2c", "register 9876543210", user_id=CLAIMER)  # claimed, never proven
    clock.now = clock.now.replace(hour=11, minute=50)
    bot.run(bot.deps.reminders.run_due())
    assert [
        p
        for p in bot.fake.of("chat.postMessage")
        if p["channel"] in {CLAIMER, "D0CLAIM"} and "reminder" in p["text"].lower()
    ] == []
    bot.slack.block_action(views.FOLLOWUP_DONE, "2351", user_id=CLAIMER)
    bot.settle()
    assert "belongs to someone else" in text_of(bot.replies()[-1])
    assert (await bot.deps.store.get_followup("2351")).state == "active"
    listed = bot.command("/followup", "list", user_id=CLAIMER)
    assert "/c2c verify" in text_of(listed.json()) or "/c2c register" in text_of(listed.json())
    bot.command("/followup", "delete 2351", user_id=CLAIMER)
    assert "2351" in bot.sandbox.state.followups
