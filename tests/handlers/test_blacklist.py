from __future__ import annotations

from bot.views import blacklist as views
from tests.support.harness import ADMIN, AGENT, text_of


async def test_add_sends_block_with_national_numbers_and_records_who(bot) -> None:
    bot.command("/blacklist", "add +91 98765 43210, 09123456789 because asked twice")
    [sent] = bot.sandbox.state.recorded("block")
    assert sent.form == {"method": "block", "format": "json", "number": "9876543210,9123456789"}
    assert "Blacklisted 2 numbers: +91 98765 43210, +91 91234 56789." in text_of(bot.replies()[-1])
    entries = await bot.deps.store.blacklist_entries()
    assert {(e.number, e.added_by, e.reason) for e in entries} == {
        ("+919876543210", AGENT, "asked twice"),
        ("+919123456789", AGENT, "asked twice"),
    }
    assert (await bot.deps.store.audit_entries())[0].action == "blacklist.add"


async def test_one_bad_number_refuses_the_lot(bot) -> None:
    response = bot.command("/blacklist", "add 9876543210 12345 abc")
    text = text_of(response.json())
    assert '#2 "12345" is too short' in text and '#3 "abc" contains letters' in text
    assert "Nothing was done" in text
    assert bot.sandbox.state.recorded() == [] and await bot.deps.store.blacklist_entries() == []


async def test_remove_is_for_admins(bot) -> None:
    bot.command("/blacklist", "add 9876543210")
    refused = bot.command("/blacklist", "remove 9876543210", user_id=AGENT)
    assert "Only admins" in text_of(refused.json())
    assert len(bot.sandbox.state.recorded("block")) == 1
    bot.command("/blacklist", "remove 9876543210", user_id=ADMIN)
    sent = bot.sandbox.state.recorded("block")[-1]
    assert sent.form["action"] == "delete" and sent.form["number"] == "9876543210"
    assert await bot.deps.store.blacklist_entries() == []


def test_list_masks_numbers_for_non_admins(bot) -> None:
    bot.command("/blacklist", "add 9876543210 because <!channel> spam")
    agent_view = text_of(bot.command("/blacklist", "list").json())
    assert "98******10" in agent_view and "9876543210" not in agent_view
    assert "&lt;!channel&gt; spam" in agent_view and "<!channel>" not in agent_view
    admin_view = text_of(bot.command("/blacklist", "list", user_id=ADMIN).json())
    assert "+91 98765 43210" in admin_view and f"<@{AGENT}>" in admin_view


async def test_kaleyra_failure_changes_nothing(bot) -> None:
    bot.sandbox.state.api_key = "other"
    bot.command("/blacklist", "add 9876543210")
    assert "Invalid API key" in text_of(bot.replies()[-1]) and "Nothing was changed" in text_of(
        bot.replies()[-1]
    )
    assert await bot.deps.store.blacklist_entries() == []


async def test_modal_with_reason(bot) -> None:
    bot.command("/blacklist")
    [opened] = bot.fake.of("views.open")
    view = opened["view"]
    bad = bot.slack.view_submission(
        view,
        {
            views.NUMBERS_BLOCK: {
                views.NUMBERS_INPUT: {"type": "plain_text_input", "value": "98765"}
            },
            views.REASON_BLOCK: {views.REASON_INPUT: {"type": "plain_text_input", "value": None}},
        },
    )
    assert '"98765" is too short' in bad.json()["errors"][views.NUMBERS_BLOCK]
    bot.slack.view_submission(
        view,
        {
            views.NUMBERS_BLOCK: {
                views.NUMBERS_INPUT: {"type": "plain_text_input", "value": "9876543210\n9123456789"}
            },
            views.REASON_BLOCK: {
                views.REASON_INPUT: {"type": "plain_text_input", "value": "DNC request"}
            },
        },
    )
    bot.settle()
    assert len(await bot.deps.store.blacklist_entries()) == 2
    [dm] = bot.fake.of("chat.postMessage")
    assert dm["channel"] == AGENT and "Blacklisted 2 numbers" in text_of(dm)


def test_removing_a_number_that_is_not_listed_says_so(bot) -> None:
    bot.command("/blacklist", "add 9876543210")
    bot.command("/blacklist", "remove 9876543210 9876543299", user_id=ADMIN)
    said = text_of(bot.replies()[-1])
    assert "Removed from the blacklist 1 number: +91 98765 43210." in said
    assert "+91 98765 43299 is not on the blacklist, so nothing was removed." in said
    assert [r.form["number"] for r in bot.sandbox.state.recorded("block")][-1] == "9876543210"
    bot.command("/blacklist", "remove 9876543299", user_id=ADMIN)
    assert "nothing was removed" in text_of(bot.replies()[-1])
    assert len(bot.sandbox.state.recorded("block")) == 2  # nothing sent for an unlisted number


def test_a_misspelt_verb_gets_did_you_mean(bot) -> None:
    said = text_of(bot.command("/blacklist", "remvoe 9876543210", user_id=ADMIN).json())
    assert "`/blacklist` has no `remvoe`. Did you mean `/blacklist remove`?" in said
