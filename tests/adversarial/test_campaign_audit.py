"""Issue 18's campaign findings, tried over the wire as an attacker and a careless user would.

Each case asserts what the user was told AND what reached Kaleyra (nothing, where nothing
should): item 2 (the unreached re-sent without their country code), 5 (two proposals and two
campaigns from one double click), 9 (a Resume that lands while the campaign winds down), 10 (the
pace reset by pause and resume or a restart), 12 (results that never arrive), 14 (a revoked
admin keeps control) and 16 (Kaleyra's text with numbers, shown to everyone).
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import threading
from datetime import datetime, timedelta

import pytest

from bot.sandbox.state import Fault
from bot.store.db import StoreError
from bot.views import obd as views
from tests.handlers.test_obd_campaigns import (
    buttons,
    called,
    click,
    dms,
    numbers,
    paced,
    progress,
    restart,
)
from tests.support.harness import ADMIN, AGENT, text_of

# Everything the bot sent here is within Block Kit's limits (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("slack_accepts_every_message")

BOSS = "U0BOSS"  # an admin whose role is revoked in some cases


def confirm(bot, text: str, user_id: str = ADMIN) -> int:
    """`/obd <text>`: the confirmation's job id (nothing sent yet)."""
    response = bot.command("/obd", text, user_id=user_id)
    message = response.json()
    if "Checking the numbers" in text_of(message):
        message = bot.replies()[-1]
    return int(buttons(message)[views.OBD_CONFIRM]["value"])


def start(bot, text: str, user_id: str = ADMIN) -> int:
    job = confirm(bot, text, user_id)
    bot.slack.block_action(views.OBD_CONFIRM, str(job), user_id=user_id)
    return job


def finish_calls(bot, job: int) -> None:
    bot.settle()
    bot.sandbox.state.clock.advance(seconds=5)
    assert bot.run(bot.deps.obd.poll_once(job)) is True
    bot.settle()


def results_dm(bot, user_id: str = ADMIN) -> dict:
    [summary] = [m for m in dms(bot, user_id) if " results*" in text_of(m)]
    return summary


def uploaded_rows(bot, job: int) -> list[list[str]]:
    content = bot.fake.uploaded_file(f"Broadcast #{job} results").decode()
    return list(csv.reader(io.StringIO(content)))[1:]


# ----------------------------------------------------------------------------- item 2


def test_2_call_the_unreached_again_refuses_foreign_numbers_instead_of_cutting_them(bot) -> None:
    # A contact group (read by Kaleyra, never typed here) with two foreign numbers, all busy.
    bot.sandbox.state.contact_groups["4477"] = ["9876500000", "+447911123400", "+12025550100"]
    job = start(bot, "group 4477 play 123.sound")
    finish_calls(bot, job)
    again = buttons(results_dm(bot))[views.OBD_AGAIN]
    assert again["text"]["text"] == "Call the unreached again (3)"

    reply = text_of(click(bot, views.OBD_AGAIN, again["value"]))
    assert "call *1* number" in reply
    assert "+44 7911 123400 is a Guernsey number" in reply
    assert "+1 202-555-0100 is a United States number" in reply
    rerun = int(buttons(click(bot, views.OBD_AGAIN, again["value"]))[views.OBD_CONFIRM]["value"])
    click(bot, views.OBD_CONFIRM, str(rerun))
    bot.settle()
    [sent] = bot.sandbox.state.recorded("voice.call")[1:]
    assert sent.form["numbers"] == "9876500000"  # never 7911123400 nor 2025550100


def test_2_a_rerun_of_foreign_numbers_only_is_refused_and_sends_nothing(bot) -> None:
    bot.sandbox.state.contact_groups["4477"] = ["+447911123400", "+12025550101"]
    job = start(bot, "group 4477 play 123.sound")
    finish_calls(bot, job)
    again = buttons(results_dm(bot))[views.OBD_AGAIN]
    reply = text_of(click(bot, views.OBD_AGAIN, again["value"]))
    assert "No number is left to call" in reply and "+44 7911 123400 is a Guernsey" in reply
    assert len(bot.sandbox.state.recorded("voice.call")) == 1  # the group's own request only


# ----------------------------------------------------------------------------- item 5


def _unreached_button(bot) -> dict:
    batch = [f"98765432{i:02d}" for i in range(6)]  # 00 busy … 04 unreachable, 05 DND
    job = start(bot, ", ".join(batch) + " play 123.sound")
    finish_calls(bot, job)
    return buttons(results_dm(bot))[views.OBD_AGAIN]


async def test_5_a_double_click_on_call_the_unreached_again_makes_one_proposal(bot) -> None:
    again = _unreached_button(bot)
    replies: list[dict] = []
    clicks = [
        threading.Thread(target=lambda: replies.append(click(bot, views.OBD_AGAIN, again["value"])))
        for _ in range(2)
    ]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(10)
    values = {buttons(r)[views.OBD_CONFIRM]["value"] for r in replies}
    assert values == {"2"}  # both clicks show the same proposal
    assert all("Confirm broadcast #2" in text_of(r) for r in replies)
    assert await bot.deps.store.get_job(3) is None
    for _ in range(2):  # confirming "both" is one Start
        bot.slack.block_action(views.OBD_CONFIRM, "2", user_id=ADMIN)
    bot.settle()
    assert len(bot.sandbox.state.recorded("voice.call")) == 2  # the first, and the re-run once


async def test_5_a_second_rerun_by_another_admin_asks_first_naming_the_running_one(bot) -> None:
    bot.command("/c2c", f"admin grant <@{BOSS}|boss>", user_id=ADMIN)
    again = _unreached_button(bot)
    first = buttons(click(bot, views.OBD_AGAIN, again["value"]))[views.OBD_CONFIRM]["value"]
    click(bot, views.OBD_CONFIRM, first)
    bot.settle()
    second = click(bot, views.OBD_AGAIN, again["value"], user_id=BOSS)
    value = buttons(second)[views.OBD_CONFIRM]["value"]
    assert value != first

    asked = click(bot, views.OBD_CONFIRM, value, user_id=BOSS)
    shown = text_of(asked)
    assert f"Broadcast #{value} has not started" in shown
    assert f"broadcast #{first} of <@{ADMIN}> (5 of these numbers)" in shown
    assert set(buttons(asked)) == {views.OBD_CONFIRM_ANYWAY, views.OBD_CANCEL}
    assert len(bot.sandbox.state.recorded("voice.call")) == 2  # nothing rang twice
    assert (await bot.deps.store.get_job(int(value))).state == "pending"

    click(bot, views.OBD_CONFIRM_ANYWAY, value, user_id=BOSS)  # the answer, explicitly
    bot.settle()
    assert len(bot.sandbox.state.recorded("voice.call")) == 3


async def test_5_a_new_broadcast_of_numbers_another_is_still_calling_asks_first(bot) -> None:
    first = start(bot, "9876543210, 9123456789 play 123.sound")
    bot.settle()  # accepted; its calls are still ringing (tracked, no results yet)
    job = confirm(bot, "9123456789 play 34.sound")
    asked = click(bot, views.OBD_CONFIRM, str(job))
    assert f"broadcast #{first} of <@{ADMIN}> (1 of these numbers)" in text_of(asked)
    assert len(bot.sandbox.state.recorded("voice.call")) == 1
    click(bot, views.OBD_CANCEL, str(job))
    assert (await bot.deps.store.get_job(job)).state == "cancelled"


# ----------------------------------------------------------------------------- item 9


async def test_9_a_resume_landing_while_the_paused_campaign_winds_down_still_sends(
    paced_bot, clock
) -> None:
    bot = paced_bot
    batch = numbers(600)
    sleeps = paced(bot, clock, concurrency=1)
    paused: list[dict] = []
    sleeps.during[1] = lambda: paused.append(click(bot, views.OBD_PAUSE, "1"))
    resumed: list[dict] = []
    service = bot.deps.obd
    winding_down = service._end_of_run

    async def resume_meanwhile(job_id: int) -> None:
        if not resumed:  # the owner clicks Resume as the paused sender records its end
            resumed.append(await asyncio.to_thread(click, bot, views.OBD_RESUME, "1"))
        await winding_down(job_id)

    service._end_of_run = resume_meanwhile
    start(bot, " ".join(batch) + " play 123.sound")
    bot.settle()
    assert "paused" in text_of(paused[0]) and "resumed" in text_of(resumed[0])
    assert called(bot) == batch  # not stuck at 200 showing "running"
    assert (await bot.deps.store.get_job(1)).state == "tracking"
    assert "600 of 600 numbers sent" in progress(bot)


async def test_9_the_minute_job_restarts_a_running_campaign_nobody_sends(paced_bot, clock, mocker):
    bot = paced_bot
    batch = numbers(600)
    paced(bot, clock, concurrency=1)
    store = bot.deps.store
    real_next, failing = store.next_chunk, itertools.count()

    async def next_chunk(job_id: int):
        if (await store.chunk_counts(job_id)).sent and next(failing) < 6:
            raise StoreError("database is locked")  # the sender gives up after 5 retries
        return await real_next(job_id)

    mocker.patch.object(store, "next_chunk", side_effect=next_chunk)
    job = start(bot, " ".join(batch) + " play 123.sound")
    bot.settle()
    assert called(bot) == batch[:200]
    assert (await store.get_job(job)).state == "running"  # shown running, nothing sending

    bot.run(bot.deps.obd.tick())
    bot.settle()
    assert called(bot) == batch
    assert (await store.get_job(job)).state == "tracking"
    assert await store.audit_entries(action="obd.restarted")


def test_9_resume_on_a_campaign_shown_running_with_no_sender_starts_one(paced_bot, clock, mocker):
    bot = paced_bot
    batch = numbers(400)
    paced(bot, clock, concurrency=1)
    store = bot.deps.store
    real_next, failing = store.next_chunk, itertools.count()

    async def next_chunk(job_id: int):
        if (await store.chunk_counts(job_id)).sent and next(failing) < 6:
            raise StoreError("database is locked")
        return await real_next(job_id)

    mocker.patch.object(store, "next_chunk", side_effect=next_chunk)
    job = start(bot, " ".join(batch) + " play 123.sound")
    bot.settle()
    reply = click(bot, views.OBD_RESUME, str(job))
    assert "resumed: sending the numbers never sent" in text_of(reply)
    bot.settle()
    assert called(bot) == batch


# ----------------------------------------------------------------------------- item 10


async def test_10_pause_then_resume_keeps_the_pace(paced_bot, clock, mocker) -> None:
    bot = paced_bot
    sleeps = paced(bot, clock, concurrency=1)
    real, paused = bot.deps.kaleyra.obd_call, []

    async def pause_during_the_first_request(request, on_chunk=None):
        if not paused:
            paused.append(await asyncio.to_thread(click, bot, views.OBD_PAUSE, "1"))
        return await real(request, on_chunk)

    mocker.patch.object(bot.deps.kaleyra, "obd_call", side_effect=pause_during_the_first_request)
    job = start(bot, " ".join(numbers(600)) + " play 123.sound")
    bot.settle()
    assert len(called(bot)) == 200
    click(bot, views.OBD_RESUME, str(job))  # at once, in the same second
    bot.settle()
    assert len(called(bot)) == 600
    sent = [datetime.fromisoformat(c.sent_at) for c in await bot.deps.store.chunks(job)]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(sent)] == [60.0, 60.0]
    assert sleeps.waits == [60.0, 60.0]


async def test_10_a_restart_keeps_the_pace(paced_bot, clock) -> None:
    bot = paced_bot
    sleeps = paced(bot, clock, concurrency=1)
    sleeps.kill_at = 1  # dies in the wait before the second request
    job = start(bot, " ".join(numbers(400)) + " play 123.sound")
    assert sleeps.held.wait(10)
    restart(bot, clock)
    later = paced(bot, clock)
    click(bot, views.OBD_RESUME, str(job))
    bot.settle()
    assert len(called(bot)) == 400
    sent = [datetime.fromisoformat(c.sent_at) for c in await bot.deps.store.chunks(job)]
    assert (sent[1] - sent[0]).total_seconds() == 60.0 and later.waits == [60.0]


# ----------------------------------------------------------------------------- item 12


def _never_final(bot, mobile: str) -> None:
    """Kaleyra keeps reporting this number's call as sent, forever."""
    for record in bot.sandbox.state.obd.values():
        if record.mobile == mobile:
            record.created = datetime(2100, 1, 1, tzinfo=record.created.tzinfo)


async def test_12_calls_kaleyra_never_reports_final_end_as_unknown_and_the_results_arrive(
    bot, clock
) -> None:
    job = start(bot, "9876543210, 9876543200, 9876543207 play 123.sound")
    bot.settle()
    _never_final(bot, "9876543210")
    clock.advance(seconds=5)
    assert bot.run(bot.deps.obd.poll_once(job)) is False
    clock.advance(hours=2, minutes=59)
    assert bot.run(bot.deps.obd.poll_once(job)) is False  # still within the bound
    assert [m for m in dms(bot) if " results*" in text_of(m)] == []

    clock.advance(minutes=1)  # three hours after the request went out
    assert bot.run(bot.deps.obd.poll_once(job)) is True
    bot.settle()
    shown = text_of(results_dm(bot))
    assert "Kaleyra gave no final status for 1 numbers within about 3 h of sending" in shown
    rows = {r[0]: r[1] for r in uploaded_rows(bot, job)}
    assert rows == {
        "+919876543210": "outcome unknown (no final status from Kaleyra in time)",
        "+919876543200": "busy",
        "+919876543207": "completed",
    }
    assert (await bot.deps.store.get_job(job)).state == "done"


def test_12_results_arrive_even_when_the_status_api_stays_down(bot, clock) -> None:
    job = start(bot, "9876543210, 9876543200 play 123.sound")
    bot.settle()
    bot.sandbox.state.set_fault("voice.groupstatus", Fault(error_rate=1.0))
    clock.advance(hours=3, seconds=5)
    assert bot.run(bot.deps.obd.poll_once(job)) is True
    bot.settle()
    assert {r[1] for r in uploaded_rows(bot, job)} == {"not reported by Kaleyra"}


# ----------------------------------------------------------------------------- item 14


def _boss_campaign_paused_then_revoked(bot, clock) -> int:
    bot.command("/c2c", f"admin grant <@{BOSS}|boss>", user_id=ADMIN)
    sleeps = paced(bot, clock, concurrency=1)
    sleeps.during[1] = lambda: click(bot, views.OBD_PAUSE, "1", user_id=BOSS)
    job = start(bot, " ".join(numbers(600)) + " play 123.sound", user_id=BOSS)
    bot.settle()
    assert len(called(bot)) == 200
    bot.command("/c2c", f"admin revoke <@{BOSS}>", user_id=ADMIN)
    return job


async def test_14_a_revoked_admin_cannot_resume_their_campaign_but_an_admin_can(
    paced_bot, clock
) -> None:
    bot = paced_bot
    job = _boss_campaign_paused_then_revoked(bot, clock)
    reply = text_of(click(bot, views.OBD_RESUME, str(job), user_id=BOSS))
    assert "Only admins can resume a broadcast whose owner is no longer an admin" in reply
    bot.settle()
    assert len(called(bot)) == 200 and (await bot.deps.store.get_job(job)).state == "paused"
    refusal = (await bot.deps.store.audit_entries(action="obd.refused"))[0]
    assert refusal.user_id == BOSS

    assert "resumed" in text_of(click(bot, views.OBD_RESUME, str(job), user_id=ADMIN))
    bot.settle()
    assert len(called(bot)) == 600


def test_14_a_revoked_owner_may_not_resume_but_may_still_cancel(paced_bot, clock) -> None:
    bot = paced_bot
    job = _boss_campaign_paused_then_revoked(bot, clock)
    assert "Only admins" in text_of(click(bot, views.OBD_RESUME, str(job), user_id=BOSS))
    reply = text_of(click(bot, views.OBD_STOP, str(job), user_id=BOSS))
    assert "cancelled: 400 numbers were not called" in reply
    assert len(called(bot)) == 200


def test_14_the_results_file_goes_to_the_owner_only_while_admin(bot) -> None:
    bot.command("/c2c", f"admin grant <@{BOSS}|boss>", user_id=ADMIN)
    job = start(bot, "9876543210, 9876543200 play 123.sound", user_id=BOSS)
    bot.settle()
    bot.command("/c2c", f"admin revoke <@{BOSS}>", user_id=ADMIN)
    finish_calls(bot, job)
    summary = results_dm(bot, BOSS)
    assert "no longer an admin, so the CSV with every number goes to admins only" in text_of(
        summary
    )
    assert buttons(summary) == {}
    assert bot.fake.of("files.completeUploadExternal") == []  # no numbers went to BOSS

    bot.command("/obd", f"status #{job}", user_id=AGENT)
    assert buttons(bot.replies()[-1]) == {}  # not offered to agents
    assert "Only admins" in text_of(click(bot, views.OBD_RESULTS, str(job), user_id=AGENT))
    bot.command("/obd", f"status #{job}", user_id=ADMIN)
    offer = buttons(bot.replies()[-1])[views.OBD_RESULTS]
    assert "results file of broadcast" in text_of(click(bot, views.OBD_RESULTS, offer["value"]))
    bot.settle()
    [upload] = bot.fake.of("files.completeUploadExternal")
    assert upload["channel_id"] == "D0ADMIN"
    assert {r[0] for r in uploaded_rows(bot, job)} == {"+919876543210", "+919876543200"}


# ----------------------------------------------------------------------------- item 16


def test_16_refused_requests_error_text_is_masked_for_non_admins(bot) -> None:
    bot.sandbox.state.set_fault(
        "voice.call",
        Fault(error_rate=1.0, api_error=("E105", "Number 9876543210 is not allowed")),
    )
    job = start(bot, "9876543210 play 123.sound")
    bot.settle()
    bot.command("/obd", f"status #{job}", user_id=AGENT)
    shown = text_of(bot.replies()[-1])
    assert "Number 98******10 is not allowed" in shown and "9876543210" not in shown
    bot.command("/obd", f"status #{job}", user_id=ADMIN)
    assert "Number 9876543210 is not allowed" in text_of(bot.replies()[-1])


def test_16_kaleyra_errors_of_a_group_status_are_masked_for_non_admins(bot) -> None:
    bot.sandbox.state.set_fault(
        "voice.groupstatus",
        Fault(error_rate=1.0, api_error=("E108", "No group for 9876543210")),
    )
    bot.command("/obd", "status 217691534", user_id=AGENT)
    shown = text_of(bot.replies()[-1])
    assert "98******10" in shown and "9876543210" not in shown
    assert bot.sandbox.state.recorded("voice.call") == []


# ----------------------------------------------------------------------------- item 11


async def test_11_moving_a_call_back_while_its_booking_is_in_flight_books_the_new_time(bot, clock):
    from bot.views import callfeed as feed_views
    from tests.handlers.test_callfeed import outcome_values

    bot.register()
    bot.command("/c2c", "9123456789", user_id=AGENT)
    clock.advance(seconds=120)
    bot.run(bot.deps.c2c.poll_open())
    bot.settle()
    (call,) = await bot.deps.store.recent_calls(AGENT, limit=1)
    bot.slack.block_action(feed_views.LOG_OUTCOME, str(call.id), user_id=AGENT)
    bot.settle()
    form = bot.fake.of("views.open")[-1]["view"]
    first = int((clock.now + timedelta(days=1)).replace(hour=15, minute=30).timestamp())
    moved = int((clock.now + timedelta(days=1)).replace(hour=17, minute=0).timestamp())
    bot.sandbox.state.set_fault("followup", Fault(latency=1.0))  # the booking takes a second
    bot.slack.view_submission(form, outcome_values("call_back", "", first), user_id=AGENT)
    bot.slack.view_submission(form, outcome_values("call_back", "", moved), user_id=AGENT)
    bot.settle()
    bot.sandbox.state.set_fault("followup", None)
    shown = datetime.fromisoformat((await bot.deps.store.get_outcome(call.id)).followup_at)
    assert f"{shown.astimezone(bot.deps.settings.tz):%H:%M}" == "17:00"
    booked = [f"{f.ontime:%H:%M}" for f in bot.sandbox.state.followups.values()]  # its local time
    assert booked == ["17:00"]  # what Kaleyra keeps is what the outcome shows
