"""/obd form with a CSV upload: every row accounted for, voice.json per-row messages, dialer fields."""

from __future__ import annotations

from bot.views import obd as views
from tests.support.harness import ADMIN, text_of


def submit(
    bot,
    file: dict | None,
    *,
    play: str | None = "123.sound",
    say: str | None = None,
    dialer: str | None = None,
    typed: str | None = None,
):
    bot.command("/obd", "", user_id=ADMIN)
    view = bot.fake.of("views.open")[-1]["view"]
    values = {
        views.NUMBERS_BLOCK: {views.NUMBERS_INPUT: {"type": "plain_text_input", "value": typed}},
        views.FILE_BLOCK: {
            views.FILE_INPUT: {"type": "file_input", "files": [file] if file else []}
        },
        views.PLAY_BLOCK: {views.PLAY_INPUT: {"type": "plain_text_input", "value": play}},
        views.SAY_BLOCK: {views.SAY_INPUT: {"type": "plain_text_input", "value": say}},
        views.AT_BLOCK: {views.AT_INPUT: {"type": "datetimepicker", "selected_date_time": None}},
        views.CAMPAIGN_BLOCK: {views.CAMPAIGN_INPUT: {"type": "plain_text_input", "value": None}},
        views.RETRIES_BLOCK: {
            views.RETRIES_INPUT: {"type": "static_select", "selected_option": None}
        },
        views.DIALER_BLOCK: {views.DIALER_INPUT: {"type": "plain_text_input", "value": dialer}},
    }
    response = bot.slack.view_submission(view, values, user_id=ADMIN)
    bot.settle()
    return response


def confirmation(bot) -> dict:
    return [p for p in bot.fake.of("chat.postMessage") if p["channel"] == ADMIN][-1]


def start(bot) -> None:
    button = next(b for b in confirmation(bot)["blocks"] if b["type"] == "actions")["elements"][0]
    bot.slack.block_action(views.OBD_CONFIRM, button["value"], user_id=ADMIN)
    bot.settle()


def test_csv_rows_are_called_or_skipped_with_their_row(bot) -> None:
    bot.command("/blacklist", "add 9123456780", user_id=ADMIN)
    csv = b"name,mobile\nAsha,9876543210\n\nBob,=HYPERLINK(1)\nCara,12345\nDan,9123456780\nEve,09876543210\nFay,9123456781\n"
    submit(bot, bot.fake.upload("F1", csv))
    [download] = bot.fake.of("file_download")
    assert download["auth"] == "Bearer xoxb-test-token"
    text = text_of(confirmation(bot))
    assert "call *2* numbers" in text
    assert (
        'row 4: "=HYPERLINK(1)" looks like a spreadsheet formula' in text
        and 'row 5: "12345" is too short' in text
    )
    assert "1 repeated: row 7" in text and "1 blacklisted: +91 91234 56780" in text
    assert bot.sandbox.state.recorded("voice.call") == []
    start(bot)
    [sent] = bot.sandbox.state.recorded("voice.call")
    assert sent.form["numbers"] == "9876543210,9123456781"


def test_a_message_per_row_goes_out_as_voice_json_call_groups(bot) -> None:
    csv = b"number,message\n9876543210,Your order has shipped\n9123456789,Your order has shipped\n9123456781,Payment due <!here>\n"
    submit(bot, bot.fake.upload("F2", csv), play=None)
    text = text_of(confirmation(bot))
    assert (
        "call *3* numbers" in text
        and "1 Kaleyra request via the Voice API (voice.json, a message per row)" in text
    )
    start(bot)
    [sent] = bot.sandbox.state.recorded("voice.json")
    assert sent.query == {"method": "voice.json", "format": "json"}
    assert sent.json["call"] == [
        {"to": "9876543210,9123456789", "message": "Your order has shipped"},
        {"to": "9123456781", "message": "Payment due <!here>"},
    ]
    assert "accepted 3" in text_of(bot.fake.of("chat.update")[-1])


def test_rows_without_message_need_a_sound_or_message(bot) -> None:
    csv = b"number,message\n9876543210,hello\n9123456789,\n"
    submit(bot, bot.fake.upload("F3", csv), play=None)
    assert "1 rows have no message" in text_of(confirmation(bot))
    assert "Nothing was sent" in text_of(confirmation(bot))


def test_dialer_upload_keeps_extra_columns_as_custom_fields(bot) -> None:
    csv = b"phone,name,amount\n9876543210,Asha,1200\n9123456789,Bob,=2+3\n"
    submit(bot, bot.fake.upload("F4", csv), play=None, dialer="renewals")
    assert "add *2* numbers to campaign `renewals`" in text_of(confirmation(bot))
    start(bot)
    [sent] = bot.sandbox.state.recorded("autodial.import")
    assert sent.json["data"] == [
        {"number": "9876543210", "name": "Asha", "amount": "1200"},
        {"number": "9123456789", "name": "Bob", "amount": "'=2+3"},
    ]


def test_100000_row_file_is_planned_without_blocking_and_nothing_sent(bot) -> None:
    csv = "\n".join(str(9100000000 + i) for i in range(100_000)).encode()
    response = submit(bot, bot.fake.upload("F5", csv))
    assert response.status_code == 200 and response.text == ""
    text = text_of(confirmation(bot))
    assert "call *100000* numbers" in text and "Cost: 500 Kaleyra requests" in text
    assert bot.sandbox.state.recorded() == []


def test_unreadable_upload_is_a_clear_message(bot) -> None:
    submit(
        bot,
        {
            "id": "F404",
            "name": "x.csv",
            "url_private_download": bot.slack_server.url + "/files/F404",
        },
    )
    assert "could not read the uploaded file" in text_of(confirmation(bot))


def test_the_form_needs_numbers_or_a_file(bot) -> None:
    response = submit(bot, None)
    assert response.json()["errors"] == {
        views.NUMBERS_BLOCK: "Paste the numbers, or upload a CSV below."
    }
