from __future__ import annotations

from bot.views import shortcut as views
from tests.support.harness import OTHER, text_of


def test_one_number_in_the_message_is_dialled(bot) -> None:
    bot.register()
    bot.slack.message_shortcut(views.CALL_SHORTCUT, "Please call Asha back on 098765 43211 today")
    bot.settle()
    assert bot.sandbox.state.recorded("dial.click2call") == []  # shown first, dialled on Call
    button = bot.replies()[-1]["blocks"][1]["elements"][0]
    assert button["action_id"] == views.CALL_CONFIRM
    bot.slack.block_action(views.CALL_CONFIRM, button["value"])
    bot.settle()
    [sent] = bot.sandbox.state.recorded("dial.click2call")
    assert (sent.form["caller"], sent.form["receiver"]) == ("9876543210", "9876543211")
    assert "Dialling +91 98765 43211" in text_of(bot.replies()[-1])


def test_several_numbers_offer_a_choice(bot) -> None:
    bot.register()
    bot.slack.message_shortcut(views.CALL_SHORTCUT, "Office 080 2345 6789, mobile +91 91234 56789")
    bot.settle()
    [opened] = bot.fake.of("views.open")
    options = opened["view"]["blocks"][1]["element"]["options"]
    assert [o["value"] for o in options] == ["+918023456789", "+919123456789"]
    bot.slack.view_submission(
        opened["view"],
        {
            views.PICK_BLOCK: {
                views.PICK_INPUT: {
                    "type": "radio_buttons",
                    "selected_option": {"value": "+919123456789"},
                }
            }
        },
    )
    bot.settle()
    [sent] = bot.sandbox.state.recorded("dial.click2call")
    assert sent.form["receiver"] == "9123456789"


def test_no_number_or_no_registration(bot) -> None:
    bot.register()
    bot.slack.message_shortcut(views.CALL_SHORTCUT, "see you <!channel> tomorrow")
    bot.settle()
    assert "found no phone number" in text_of(bot.replies()[-1])
    bot.slack.message_shortcut(views.CALL_SHORTCUT, "9123456789", user_id=OTHER)
    bot.settle()
    assert "/c2c register" in text_of(bot.replies()[-1])
    assert bot.sandbox.state.recorded() == []
