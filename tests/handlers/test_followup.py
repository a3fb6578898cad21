"""/followup over the wire."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.views import followup as views
from tests.support.harness import ADMIN, AGENT, OTHER, text_of


def add(bot, text: str = "8712345678 2026-11-24 19:30 John Doe", user_id: str = AGENT):
    return bot.command("/followup", f"add {text}", user_id=user_id)


async def test_add_sends_kaleyra_followup_in_account_time_and_stores_owner(bot) -> None:
    bot.register()
    add(bot)
    [sent] = bot.sandbox.state.recorded("followup")
    assert sent.form == {
        "method": "followup",
        "format": "json",
        "phone": "8712345678",
        "name": "John Doe",
        "follower": "9876543210",
        "ontime": "24-11-2026 19:30",
        "autocall": "0",
    }
    assert (
        "Saved follow-up `#2351`: *John Doe* +91 87123 45678 on"
        " <!date^1795528800^{date_long_pretty} at {time}|2026-11-24 14:00 UTC>"
        in text_of(bot.replies()[-1])
    )
    row = await bot.deps.store.get_followup("2351")
    assert (row.user_id, row.follower, row.ontime.isoformat()) == (
        AGENT,
        "+919876543210",
        "2026-11-24T14:00:00+00:00",
    )


def test_past_dates_and_unregistered_users_are_refused(bot) -> None:
    bot.register()
    response = bot.command("/followup", "add 8712345678 2026-11-23 10:00 John")
    assert "2026-11-23 10:00 Asia/Kolkata is in the past" in text_of(response.json())
    response = bot.command("/followup", "add 8712345678 2026-11-24 10:00 John", user_id=OTHER)
    assert "/c2c register" in text_of(response.json())
    response = bot.command("/followup", "add 8712345678 tomorrow 10:00 John")
    assert "`tomorrow` is not a date: write the date as YYYY-MM-DD" in text_of(response.json())
    assert bot.sandbox.state.recorded("followup") == []


def test_list_merges_kaleyra_report_with_store(bot) -> None:
    bot.register()
    add(bot, "8712345678 2026-11-25 09:15 <!channel> Ltd")
    # One made outside Slack, straight at Kaleyra, for the same follower:
    bot.sandbox.state.followups["9000"] = bot.sandbox.state.followups["2351"].__class__(
        "9000", "8712340000", "Walk-in", "9876543210", datetime(2026, 11, 24, 12, 0)
    )
    bot.command("/followup", "list")
    reply = text_of(bot.replies()[-1])
    assert reply.index("`#9000` *Walk-in*") < reply.index("`#2351`")
    assert "made outside Slack" in reply and f"<@{AGENT}>" in reply
    assert "*&lt;!channel&gt; Ltd*" in reply
    assert bot.sandbox.state.recorded("followup.reports")[-1].form["follower"] == "9876543210"


def test_list_all_is_for_admins(bot) -> None:
    bot.register()
    assert "Only admins" in text_of(bot.command("/followup", "list all").json())
    bot.command("/followup", "list all", user_id=ADMIN)
    assert "follower" not in bot.sandbox.state.recorded("followup.reports")[-1].form


async def test_delete_own_but_not_someone_elses(bot) -> None:
    bot.register()
    bot.register(OTHER, "9123456789")
    add(bot)
    bot.command("/followup", "delete 2351", user_id=OTHER)
    assert "belongs to someone else" in text_of(bot.replies()[-1])
    assert "2351" in bot.sandbox.state.followups
    bot.command("/followup", "delete #2351")
    assert "Deleted follow-up `#2351`" in text_of(bot.replies()[-1])
    assert bot.sandbox.state.recorded("followup")[-1].form == {
        "method": "followup",
        "format": "json",
        "id": "2351",
        "action": "delete",
    }
    assert (await bot.deps.store.get_followup("2351")).state == "deleted"
    bot.command("/followup", "delete 2351")
    assert "There is no follow-up #2351" in text_of(bot.replies()[-1])


def test_edit_opens_prefilled_modal_and_time_converts_from_user_zone(bot) -> None:
    bot.register()
    add(bot)
    bot.command("/followup", "edit 2351")
    [opened] = bot.fake.of("views.open")
    view = opened["view"]
    assert view["private_metadata"] == "2351"
    when_block = next(b for b in view["blocks"] if b["block_id"] == views.WHEN_BLOCK)
    assert when_block["element"]["initial_date_time"] == int(
        datetime(2026, 11, 24, 14, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    )

    # The user's Slack is in New York: they pick 10:00 there on 24 Nov = 20:30 in Asia/Kolkata.
    picked = int(datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/New_York")).timestamp())
    values = {
        views.PHONE_BLOCK: {views.PHONE_INPUT: {"type": "plain_text_input", "value": "8712345678"}},
        views.NAME_BLOCK: {views.NAME_INPUT: {"type": "plain_text_input", "value": "John Doe"}},
        views.FOLLOWER_BLOCK: {
            views.FOLLOWER_INPUT: {"type": "plain_text_input", "value": "+919876543210"}
        },
        views.WHEN_BLOCK: {
            views.WHEN_INPUT: {"type": "datetimepicker", "selected_date_time": picked}
        },
        views.AUTOCALL_BLOCK: {
            views.AUTOCALL_INPUT: {
                "type": "checkboxes",
                "selected_options": [{"value": "autocall"}],
            }
        },
        views.NOTES_BLOCK: {views.NOTES_INPUT: {"type": "plain_text_input", "value": "renewal"}},
    }
    response = bot.slack.view_submission(view, values)
    bot.settle()
    assert response.status_code == 200
    sent = bot.sandbox.state.recorded("followup")[-1].form
    assert (sent["id"], sent["ontime"], sent["autocall"], sent["notes"]) == (
        "2351",
        "24-11-2026 20:30",
        "1",
        "renewal",
    )
    assert "Updated follow-up `#2351`" in text_of(bot.fake.of("chat.postMessage")[-1])


def test_modal_validates_inline(bot) -> None:
    bot.register()
    bot.command("/followup")
    view = bot.fake.of("views.open")[0]["view"]
    past = int(datetime(2026, 11, 22, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp())
    values = {
        views.PHONE_BLOCK: {views.PHONE_INPUT: {"type": "plain_text_input", "value": "123"}},
        views.NAME_BLOCK: {views.NAME_INPUT: {"type": "plain_text_input", "value": ""}},
        views.FOLLOWER_BLOCK: {
            views.FOLLOWER_INPUT: {"type": "plain_text_input", "value": "9123456789"}
        },
        views.WHEN_BLOCK: {
            views.WHEN_INPUT: {"type": "datetimepicker", "selected_date_time": past}
        },
        views.AUTOCALL_BLOCK: {
            views.AUTOCALL_INPUT: {"type": "checkboxes", "selected_options": []}
        },
        views.NOTES_BLOCK: {views.NOTES_INPUT: {"type": "plain_text_input", "value": None}},
    }
    errors = bot.slack.view_submission(view, values).json()["errors"]
    assert set(errors) == {
        views.PHONE_BLOCK,
        views.NAME_BLOCK,
        views.FOLLOWER_BLOCK,
        views.WHEN_BLOCK,
    }
    assert "is in the past" in errors[views.WHEN_BLOCK]
    assert "Only admins" in errors[views.FOLLOWER_BLOCK]
    assert bot.sandbox.state.recorded("followup") == []


def test_call_now_button_dials_the_customer(bot) -> None:
    bot.register()
    add(bot)
    bot.slack.block_action(views.FOLLOWUP_CALL, "2351")
    bot.settle()
    [sent] = bot.sandbox.state.recorded("dial.click2call")
    assert (sent.form["caller"], sent.form["receiver"]) == ("9876543210", "8712345678")


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("add 9876543210 tomorrow 10:00 Asha", "`tomorrow` is not a date"),
        ("add 9876543210 2030-01-02 10:00", "The name is missing after the time"),
        ("add 9876543210 2030-01-02", "The time is missing after the date"),
        ("add 2030-01-02 10:00 Asha", "The phone number is missing"),
        ("lsit", "Did you mean `/followup list`?"),
    ],
)
def test_followup_add_errors_name_the_wrong_part(bot, typed: str, named: str) -> None:
    assert named in text_of(bot.command("/followup", typed).json())
