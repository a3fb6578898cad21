"""/obd over the wire: confirmation first, chunks per the API's limit, progress, statuses."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from bot.sandbox.state import outcome_for
from bot.views import obd as views
from tests.support.harness import ADMIN, AGENT, Harness, text_of


def numbers(count: int, start: int = 9100000010) -> list[str]:
    return [str(start + i) for i in range(count)]


def confirmation(bot, response) -> dict:
    """Short lists are confirmed in the ack; long ones by response_url once checked."""
    if "Checking the numbers" in text_of(response.json()):
        return bot.replies()[-1]
    return response.json()


def start_button(response, bot=None) -> dict:
    blocks = (confirmation(bot, response) if bot else response.json())["blocks"]
    return next(b for b in blocks if b["type"] == "actions")["elements"][0]


def progress(bot) -> str:
    return text_of(bot.fake.of("chat.update")[-1])


async def test_450_numbers_confirm_first_then_200_200_50_with_progress(bot) -> None:
    batch = numbers(450)
    bot.command("/blacklist", f"add {batch[5]}", user_id=ADMIN)
    text = ", ".join([*batch, "12345", batch[7]]) + " play 123.sound campaign diwali retries 1"
    response = bot.command("/obd", text, user_id=ADMIN)
    assert "Checking the numbers" in text_of(response.json())  # the ack does not wait for the check
    confirmation_text = text_of(confirmation(bot, response))
    assert "call *449* numbers" in confirmation_text
    assert "Skipped 3:" in confirmation_text
    assert '1 invalid: #451 "12345" is too short' in confirmation_text
    assert (
        "1 repeated" in confirmation_text and "1 blacklisted: +91 91000 00015" in confirmation_text
    )
    assert "Cost: 3 Kaleyra requests via the Voice API (voice.call)." in confirmation_text
    assert bot.sandbox.state.recorded("voice.call") == []  # nothing before the click

    button = start_button(response, bot)
    assert button["action_id"] == views.OBD_CONFIRM
    for _ in range(2):  # double click
        bot.slack.block_action(views.OBD_CONFIRM, button["value"], user_id=ADMIN)
        bot.settle()
    sent = bot.sandbox.state.recorded("voice.call")
    assert sorted(len(r.form["numbers"].split(",")) for r in sent) == [49, 200, 200]
    called = {n for r in sent for n in r.form["numbers"].split(",")}
    assert called == set(batch) - {batch[5]}
    assert {(r.form["play"], r.form["campaign"], r.form["retries"]) for r in sent} == {
        ("123.sound", "diwali", "1")
    }

    [posted] = bot.fake.of("chat.postMessage")
    assert posted["channel"] == ADMIN
    # Updated as chunks are accepted; one that comes while an update is on its way replaces
    # the one waiting behind it (how many go out depends on timing, by design of the Slack
    # budget), so the card only moves forward and the last shows every chunk.
    shown = [
        int(m.group(1))
        for m in (
            re.search(r"(\d+) of 449 numbers sent", text_of(u)) for u in bot.fake.of("chat.update")
        )
        if m
    ]
    assert shown and shown == sorted(shown) and shown[-1] == 449
    final = progress(bot)
    assert "`██████████` 449 of 449 numbers sent (3 of 3 requests)" in final
    assert "accepted 449 · rejected 0 · outcome unknown 0" in final

    job = await bot.deps.store.get_job(int(button["value"]))
    assert job.state == "tracking" and len(job.result.group_ids) == 3
    assert bot.run(bot.deps.obd.poll_once(job.id)) is False  # still SENT
    bot.sandbox.state.clock.advance(seconds=5)
    assert bot.run(bot.deps.obd.poll_once(job.id)) is True
    expected = Counter(
        "COMPLETED" if outcome_for(n) == "ANSWER" else outcome_for(n) for n in called
    )
    assert (await bot.deps.store.get_job(job.id)).result.statuses == dict(expected)
    statuses = progress(bot)
    assert f"*Call statuses*: completed {expected['COMPLETED']} · " in statuses
    assert f"busy {expected['BUSY']}" in statuses
    assert (await bot.deps.store.audit_entries())[0].action == "obd.start"


def test_cancel_sends_nothing(bot) -> None:
    response = bot.command("/obd", "9876543210 play 123.sound", user_id=ADMIN)
    cancel = next(b for b in response.json()["blocks"] if b["type"] == "actions")["elements"][1]
    bot.slack.block_action(views.OBD_CANCEL, cancel["value"], user_id=ADMIN)
    bot.settle()
    bot.slack.block_action(views.OBD_CONFIRM, cancel["value"], user_id=ADMIN)  # too late
    bot.settle()
    assert bot.sandbox.state.recorded("voice.call") == []
    assert "cancelled. Nothing was sent" in text_of(bot.replies()[-1])


def test_say_and_schedule(bot) -> None:
    response = bot.command(
        "/obd", '9876543210 say "Your <order> has shipped" at 2026-11-23 18:30', user_id=ADMIN
    )
    assert "at 2026-11-23 18:30 Asia/Kolkata" in text_of(response.json())
    bot.slack.block_action(views.OBD_CONFIRM, start_button(response)["value"], user_id=ADMIN)
    bot.settle()
    [sent] = bot.sandbox.state.recorded("voice.call")
    assert sent.form["message"] == "Your <order> has shipped" and "play" not in sent.form
    assert sent.form["scheduletime"] == "2026-11-23 18:30:00"
    assert "Scheduled for 2026-11-23 18:30 Asia/Kolkata" in progress(bot)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("9876543210 play 123.sound at 2026-11-23 11:05", "at least 15 minutes from now"),
        ("9876543210 play 123.sound at 2026-11-22 10:00", "at least 15 minutes from now"),
        ("9876543210 play 123.sound at 2027-03-01 10:00", "too far ahead"),
        (
            "9876543210 play 123.sound at 2026-11-23 22:30",
            "between 09:00 and 21:00 Asia/Kolkata; 22:30 is outside",
        ),
        ("12345 abc play 123.sound", "No number is left to call"),
        ("9876543210 play song.mp3", "After `play` give a sound or IVR"),
        ("group 4477 say hello", "After `say` give the message in quotes"),
    ],
)
async def test_bad_jobs_are_refused_with_a_reason(bot, text: str, problem: str) -> None:
    response = bot.command("/obd", text, user_id=ADMIN)
    assert problem in text_of(response.json())
    assert await bot.deps.store.get_job(1) is None


def test_outside_calling_hours_suggests_a_time(bot, clock) -> None:
    clock.advance(hours=11)  # 22:00 in Asia/Kolkata
    response = bot.command("/obd", "9876543210 play 123.sound", user_id=ADMIN)
    assert "It is 22:00 now, outside that" in text_of(response.json())
    assert "add `at 2026-11-24 09:00`" in text_of(response.json())


def test_kaleyra_refusal_is_reported_per_chunk(bot) -> None:
    response = bot.command("/obd", "9876543210 play 999.sound", user_id=ADMIN)
    bot.slack.block_action(views.OBD_CONFIRM, start_button(response)["value"], user_id=ADMIN)
    bot.settle()
    final = progress(bot)
    assert (
        "rejected 1" in final
        and "Request 1: Kaleyra refused it: Sound file not found: 999.sound [code E109]" in final
    )


def test_contact_group(bot) -> None:
    response = bot.command("/obd", "group 4477 play ivr:1234", user_id=ADMIN)
    assert "call contact group `4477`" in text_of(response.json())
    bot.slack.block_action(views.OBD_CONFIRM, start_button(response)["value"], user_id=ADMIN)
    bot.settle()
    [sent] = bot.sandbox.state.recorded("voice.call")
    assert (
        sent.form["group"] == "4477"
        and "numbers" not in sent.form
        and sent.form["play"] == "ivr:1234"
    )


async def test_status_of_group_and_call_is_open_to_everyone(bot) -> None:
    response = bot.command("/obd", "9876543200, 9876543210 play 123.sound", user_id=ADMIN)
    bot.slack.block_action(views.OBD_CONFIRM, start_button(response)["value"], user_id=ADMIN)
    bot.settle()
    group_id = (await bot.deps.store.get_job(1)).result.group_ids[0]
    bot.sandbox.state.clock.advance(seconds=5)
    bot.command("/obd", f"status {group_id}", user_id=AGENT)
    reply = text_of(bot.replies()[-1])
    assert "*2 calls*: busy 1 · completed 1" in reply or "*2 calls*: completed 1 · busy 1" in reply
    bot.command("/obd", f"status {group_id}-2", user_id=AGENT)
    assert bot.sandbox.state.recorded("voice.status")[-1].form["id"] == f"{group_id}-2"
    # Issue 12: numbers in full for admins only; everyone else sees them masked.
    assert "98******10: completed" in text_of(bot.replies()[-1])
    assert "9876543210" not in text_of(bot.replies()[-1])
    bot.command("/obd", f"status {group_id}-2", user_id=ADMIN)
    assert "9876543210: completed" in text_of(bot.replies()[-1])


def test_dialer_upload_2500_rows_is_1000_1000_500(bot) -> None:
    response = bot.command("/obd", "dialer renewals " + " ".join(numbers(2500)), user_id=ADMIN)
    assert "add *2500* numbers to campaign `renewals`" in text_of(confirmation(bot, response))
    assert "3 Kaleyra requests via autodial.import" in text_of(confirmation(bot, response))
    bot.slack.block_action(views.OBD_CONFIRM, start_button(response, bot)["value"], user_id=ADMIN)
    bot.settle()
    sent = bot.sandbox.state.recorded("autodial.import")
    assert sorted(len(r.json["data"]) for r in sent) == [500, 1000, 1000]
    assert sent[0].query["name"] == "renewals"
    assert "accepted 2500" in progress(bot)
    assert len(bot.sandbox.state.dialer["renewals"]) == 2500


def test_dialer_single_number_uses_autodial_add(bot) -> None:
    response = bot.command("/obd", "dialer renewals 9876543210", user_id=ADMIN)
    bot.slack.block_action(views.OBD_CONFIRM, start_button(response)["value"], user_id=ADMIN)
    bot.settle()
    [sent] = bot.sandbox.state.recorded("autodial.add")
    assert (sent.form["name"], sent.form["number"], sent.form["meta"]) == (
        "renewals",
        "9876543210",
        "{}",
    )


def test_modal_review_posts_the_confirmation(bot) -> None:
    bot.command("/obd", "", user_id=ADMIN)
    view = bot.fake.of("views.open")[0]["view"]

    def values(play: str | None, say: str | None) -> dict:
        return {
            views.NUMBERS_BLOCK: {
                views.NUMBERS_INPUT: {"type": "plain_text_input", "value": "9876543210\n9123456789"}
            },
            views.PLAY_BLOCK: {views.PLAY_INPUT: {"type": "plain_text_input", "value": play}},
            views.SAY_BLOCK: {views.SAY_INPUT: {"type": "plain_text_input", "value": say}},
            views.AT_BLOCK: {
                views.AT_INPUT: {"type": "datetimepicker", "selected_date_time": None}
            },
            views.CAMPAIGN_BLOCK: {
                views.CAMPAIGN_INPUT: {"type": "plain_text_input", "value": None}
            },
            views.RETRIES_BLOCK: {
                views.RETRIES_INPUT: {"type": "static_select", "selected_option": None}
            },
        }

    both = bot.slack.view_submission(view, values("123.sound", "hi"), user_id=ADMIN)
    assert "not both" in both.json()["errors"][views.PLAY_BLOCK]
    bot.slack.view_submission(view, values("123.sound", None), user_id=ADMIN)
    bot.settle()
    [dm] = bot.fake.of("chat.postMessage")
    assert dm["channel"] == ADMIN and "call *2* numbers" in text_of(dm)
    assert bot.sandbox.state.recorded("voice.call") == []


class TestKaleyraIo:
    @pytest.fixture
    def bot(self, sandbox, tmp_path, clock):
        harness = Harness(
            sandbox, tmp_path, clock, kaleyra_sid="HX123", kaleyra_bridge="+918047000000"
        )
        harness.deps.kaleyra.sid = "HX123"
        yield harness
        harness.close()

    def test_250_numbers_go_100_100_50_with_country_code(self, bot) -> None:
        batch = numbers(250)
        response = bot.command(
            "/obd", " ".join(batch) + " play 13.sound at 2026-11-23 18:00", user_id=ADMIN
        )
        assert "3 Kaleyra requests via kaleyra.io Outbound Calling" in text_of(
            confirmation(bot, response)
        )
        bot.slack.block_action(
            views.OBD_CONFIRM, start_button(response, bot)["value"], user_id=ADMIN
        )
        bot.settle()
        sent = bot.sandbox.state.recorded("outbound")
        assert sorted(len(r.form["to"].split(",")) for r in sent) == [50, 100, 100]
        assert {n for r in sent for n in r.form["to"].split(",")} == {"+91" + n for n in batch}
        first = sent[0].form
        assert json.loads(first["target"]) == [{"sound": [13]}]
        assert first["bridge"] == "+918047000000" and first["time"] == "2026-11-23T18:00:00+05:30"
        assert sent[0].path == "/v1/HX123/voice/outbound"
        assert "accepted 250" in progress(bot)

    def test_say_maps_to_a_message_target(self, bot) -> None:
        response = bot.command("/obd", '9876543210 say "hello there"', user_id=ADMIN)
        bot.slack.block_action(views.OBD_CONFIRM, start_button(response)["value"], user_id=ADMIN)
        bot.settle()
        [sent] = bot.sandbox.state.recorded("outbound")
        assert json.loads(sent.form["target"]) == [{"message": {"text": "hello there"}}]

    def test_groups_need_the_legacy_api(self, bot) -> None:
        response = bot.command("/obd", "group 4477 play 13.sound", user_id=ADMIN)
        assert "Contact groups work with the legacy Voice API only" in text_of(response.json())


def test_job_starts_even_when_the_reply_to_the_click_fails(bot) -> None:
    """A dead response_url must not leave a confirmed job claimed but never sent."""
    response = bot.command("/obd", "9876543210 play 123.sound", user_id=ADMIN)
    value = start_button(response)["value"]
    bot.slack.interactive(
        {
            "type": "block_actions",
            "team": {"id": "T0VOICE"},
            "user": {"id": ADMIN},
            "api_app_id": "A0VOICE",
            "trigger_id": "9.trigger",
            "response_url": "http://127.0.0.1:9/unreachable",
            "actions": [
                {
                    "action_id": views.OBD_CONFIRM,
                    "block_id": "b",
                    "value": value,
                    "type": "button",
                    "action_ts": "1.1",
                }
            ],
        }
    )
    bot.settle()
    assert len(bot.sandbox.state.recorded("voice.call")) == 1
    assert "accepted 1" in progress(bot)


def test_a_misspelt_verb_gets_did_you_mean(bot) -> None:
    said = text_of(bot.command("/obd", "lsit", user_id=ADMIN).json())
    assert "`/obd` has no `lsit`. Did you mean `/obd list`?" in said
    assert bot.sandbox.state.recorded() == []
