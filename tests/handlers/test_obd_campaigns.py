"""Broadcasts as durable campaigns, over the wire: crash and restart, pause, resume, cancel,
pacing, the calling window, results with their CSV, calling the unreached again, list, status.

A crash is the real thing as far as the app can tell: its server stops (every task cancelled
where it stood, mid-request or between chunks) and a second app starts on the same database.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot.deps import build_deps
from bot.kaleyra import KaleyraClient
from bot.server import create_asgi
from bot.slack.client import PacedWebClient
from bot.store import Store
from bot.views import obd as views
from tests.support.harness import ADMIN, AGENT, Harness, text_of

# Everything the bot sent here is within Block Kit's limits (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("slack_accepts_every_message")

# The same rules over the wire on both databases (PostgreSQL when TEST_DATABASE_URL is set).
BOTH_DATABASES = True

BOSS = "U0BOSS"  # a second admin


def numbers(count: int, start: int = 9100000010) -> list[str]:
    return [str(start + i) for i in range(count)]


class Sleeps:
    """The service's asyncio.sleep: moves the frozen clock instead of waiting.

    `during[n]` runs a step of the test (a click over the wire, in a thread) while the n-th
    wait is on; `kill_at` holds the n-th wait forever, so the process can be killed there.
    """

    def __init__(self, clock) -> None:
        self.clock = clock
        self.waits: list[float] = []
        self.during: dict[int, Callable[[], None]] = {}
        self.kill_at: int | None = None
        self.held = threading.Event()

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) == self.kill_at:
            self.held.set()
            await asyncio.Event().wait()  # never returns: the process dies here
        step = self.during.pop(len(self.waits), None)
        if step is not None:
            await asyncio.to_thread(step)
        self.clock.advance(seconds=seconds)


def paced(bot, clock, *, concurrency: int | None = None) -> Sleeps:
    sleeps = Sleeps(clock)
    bot.deps.obd.sleep = sleeps
    if concurrency is not None:
        bot.deps.obd.config = replace(bot.deps.obd.config, concurrency=concurrency)
    return sleeps


_CLICKS = itertools.count(1)


def click(bot, action_id: str, value: str, user_id: str = ADMIN, block_id: str = "b") -> dict:
    """A button click, and the reply it gets by its own response_url, without draining the app
    (the click may come while a campaign's wait is on)."""
    ident = f"click-{next(_CLICKS)}"
    got: list[dict] = []
    done = threading.Event()

    def listener(call) -> None:
        if call.method == "response_url" and call.payload.get("_response_url") == ident:
            got.append(call.payload)
            done.set()

    bot.fake.listeners.append(listener)
    try:
        bot.slack.interactive(
            {
                "type": "block_actions",
                "team": {"id": "T0VOICE"},
                "user": {"id": user_id},
                "api_app_id": "A0VOICE",
                "trigger_id": f"{ident}.trigger",
                "response_url": f"{bot.slack.slack_url}/response/{ident}",
                "container": {"type": "message"},
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": block_id,
                        "value": value,
                        "type": "button",
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
            }
        )
        assert done.wait(10), f"no reply to {action_id}"
    finally:
        bot.fake.listeners.remove(listener)
    return got[0]


def restart(bot, clock) -> None:
    """Kill the app where it stands and start a second one on the same database."""
    old = bot.deps
    bot.stack.app_host.unmount()  # its lifecycle cancels every task: nothing settles its work
    bot.run(old.kaleyra.aclose())
    old.store.close()
    bot.deps = build_deps(
        bot.settings,
        kaleyra=KaleyraClient(
            api_key="test-key",
            voice_url=bot.sandbox.voice_url,
            io_url=bot.sandbox.url + "/v1/",
            sid=bot.settings.kaleyra_sid,
            timeout=3.0,
            backoff_seconds=0,
        ),
        store=Store(bot.settings.database, clock=lambda: clock.now),
        slack=PacedWebClient(
            token="xoxb-test-token", base_url=bot.settings.slack_api_url, pace_seconds=0
        ),
        clock=lambda: clock.now,
        # The harness's own: Slack calls go at once (with the budget's holds and windows, a
        # card's update could still be waiting when the test reads it on a busy machine).
        tuning=old.tuning,
    )
    bot.stack.mount(create_asgi(bot.deps))
    bot.run(bot.deps.obd.recover_interrupted())  # what the lifecycle does at start-up
    bot.settle()


def start(bot, text: str) -> int:
    """`/obd <text>` as the admin, then Start; the campaign's id."""
    response = bot.command("/obd", text, user_id=ADMIN)
    confirmation = response.json()
    if "Checking the numbers" in text_of(confirmation):
        confirmation = bot.replies()[-1]
    button = next(b for b in confirmation["blocks"] if b["type"] == "actions")["elements"][0]
    bot.slack.block_action(views.OBD_CONFIRM, button["value"], user_id=ADMIN)
    return int(button["value"])


def called(bot) -> list[str]:
    return [
        n for r in bot.sandbox.state.recorded("voice.call") for n in r.form["numbers"].split(",")
    ]


def progress(bot) -> str:
    return text_of(bot.fake.of("chat.update")[-1])


def dms(bot, user_id: str = ADMIN) -> list[dict]:
    return [p for p in bot.fake.of("chat.postMessage") if p["channel"] == user_id]


def buttons(message: dict) -> dict[str, dict]:
    return {
        e["action_id"]: {**e, "block_id": b["block_id"]}
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


# ---------------------------------------------------------------------- crashes


async def test_crash_between_chunks_then_resume_sends_exactly_the_never_sent_rest(
    paced_bot, clock
) -> None:
    bot = paced_bot
    batch = numbers(450)
    sleeps = paced(bot, clock, concurrency=1)
    sleeps.kill_at = 1  # the wait before the second request
    job = start(bot, " ".join(batch) + " play 123.sound")
    assert sleeps.held.wait(10)
    assert called(bot) == batch[:200]

    restart(bot, clock)
    assert (await bot.deps.store.get_job(job)).state == "interrupted"
    [dm] = [m for m in dms(bot) if "was interrupted" in text_of(m)]
    assert "accepted 200 · outcome unknown 0 · never sent 250" in text_of(dm)
    assert set(buttons(dm)) == {views.OBD_RESUME, views.OBD_STOP}
    assert "Interrupted* by a restart: 250 numbers never sent" in progress(bot)
    assert called(bot) == batch[:200]  # nothing is sent by itself after a restart

    later = paced(bot, clock)
    resume = buttons(dm)[views.OBD_RESUME]
    reply = click(bot, views.OBD_RESUME, resume["value"], block_id=resume["block_id"])
    assert "resumed: sending the numbers never sent" in text_of(reply)
    assert reply.get("replace_original") in (True, "true")  # the DM's buttons go
    bot.settle()
    assert called(bot) == batch  # every number once, in order
    # The pace holds across the restart: the second request a minute after the first went out
    assert later.waits == [60.0, 60.0]
    assert "450 of 450 numbers sent (3 of 3 requests)" in progress(bot)
    assert (await bot.deps.store.get_job(job)).state == "tracking"


async def test_crash_while_a_request_waits_for_its_answer_never_sends_it_again(
    bot, clock, mocker
) -> None:
    bot.deps.obd.config = replace(bot.deps.obd.config, concurrency=1)
    batch = numbers(450)
    real, reached, requests = bot.deps.kaleyra.obd_call, threading.Event(), []

    async def answer_lost(request, on_chunk=None):
        requests.append(request)
        if len(requests) == 2:
            await real(request)  # Kaleyra has it and places the calls…
            reached.set()
            await asyncio.Event().wait()  # …and the bot dies before the answer arrives
        return await real(request, on_chunk)

    mocker.patch.object(bot.deps.kaleyra, "obd_call", side_effect=answer_lost)
    job = start(bot, " ".join(batch) + " play 123.sound")
    assert reached.wait(10)

    restart(bot, clock)
    chunks = await bot.deps.store.chunks(job)
    assert [c.state for c in chunks] == ["accepted", "unknown", "pending"]
    [dm] = [m for m in dms(bot) if "was interrupted" in text_of(m)]
    assert "accepted 200 · outcome unknown 200 · never sent 50" in text_of(dm)
    assert "are never sent again" in text_of(dm)

    resume = buttons(dm)[views.OBD_RESUME]
    click(bot, views.OBD_RESUME, resume["value"], block_id=resume["block_id"])
    bot.settle()
    assert called(bot) == batch  # the unknown 200 went once (before the crash), never again
    final = progress(bot)
    assert "accepted 250 · rejected 0 · outcome unknown 200" in final
    assert "they were *not* re-sent" in final


async def test_a_restart_after_every_request_went_out_finishes_without_resume(bot, clock, mocker):
    real, reached = bot.deps.kaleyra.obd_call, threading.Event()

    async def answer_lost(request, on_chunk=None):
        await real(request)
        reached.set()
        await asyncio.Event().wait()

    mocker.patch.object(bot.deps.kaleyra, "obd_call", side_effect=answer_lost)
    job = start(bot, "9876543210 play 123.sound")
    assert reached.wait(10)
    restart(bot, clock)
    [dm] = [m for m in dms(bot) if "was interrupted" in text_of(m)]
    assert "nothing to resume" in text_of(dm) and buttons(dm) == {}
    assert (await bot.deps.store.get_job(job)).state == "done"  # no group id came back to follow
    assert len(bot.sandbox.state.recorded("voice.call")) == 1


# ---------------------------------------------------------------------- pause, resume, cancel


async def test_pause_stops_within_one_chunk_survives_the_tick_and_resume_goes_on(
    paced_bot, clock
) -> None:
    bot = paced_bot
    batch = numbers(600)
    bot.command("/c2c", f"admin grant <@{BOSS}|boss>", user_id=ADMIN)
    sleeps = paced(bot, clock, concurrency=1)
    replies: list[dict] = []
    # Another admin clicks Pause while the campaign waits for its second request.
    sleeps.during[1] = lambda: replies.append(click(bot, views.OBD_PAUSE, "1", user_id=BOSS))
    value = str(start(bot, " ".join(batch) + " play 123.sound"))
    bot.settle()
    assert "paused: no further request goes out" in text_of(replies[0])
    assert called(bot) == batch[:200]  # the pause came during the wait: nothing after it
    shown = progress(bot)
    assert f"Paused* by <@{BOSS}>: 400 numbers not sent yet" in shown
    control = buttons(bot.fake.of("chat.update")[-1])
    assert set(control) == {views.OBD_RESUME, views.OBD_STOP}
    assert (await bot.deps.store.audit_entries(action="obd.pause"))[0].user_id == BOSS
    assert bot.run(bot.deps.obd.tick()) == 0  # the window is open: only its own pauses end
    bot.settle()
    assert (
        called(bot) == batch[:200] and (await bot.deps.store.get_job(int(value))).state == "paused"
    )

    click(bot, views.OBD_RESUME, value)
    bot.settle()
    assert called(bot) == batch
    assert (await bot.deps.store.get_job(int(value))).state == "tracking"


async def test_cancel_says_how_many_numbers_were_not_called(paced_bot, clock) -> None:
    bot = paced_bot
    sleeps = paced(bot, clock, concurrency=1)
    replies: list[dict] = []
    sleeps.during[1] = lambda: replies.append(click(bot, views.OBD_STOP, "1"))
    job = start(bot, " ".join(numbers(450)) + " play 123.sound")
    bot.settle()
    assert "cancelled: 250 numbers were not called" in text_of(replies[0])
    assert len(called(bot)) == 200
    assert "Cancelled*: 250 numbers were not called" in progress(bot)
    assert buttons(bot.fake.of("chat.update")[-1]) == {}
    campaign = await bot.deps.store.get_job(job)
    assert campaign.state == "cancelled" and campaign.result.accepted == 200
    # Its calls are still followed, and reported
    bot.sandbox.state.clock.advance(seconds=5)
    assert bot.run(bot.deps.obd.poll_once(job)) is True
    assert (await bot.deps.store.get_job(job)).state == "cancelled"


async def test_others_may_not_pause_and_their_refusal_is_audited(bot) -> None:
    job = start(bot, "9876543210 play 123.sound")
    bot.settle()
    reply = click(bot, views.OBD_PAUSE, str(job), user_id=AGENT)
    assert "Only admins can pause, resume or cancel someone else's broadcast" in text_of(reply)
    assert (await bot.deps.store.audit_entries(action="obd.refused"))[0].user_id == AGENT


# ---------------------------------------------------------------------- pacing and the window


async def test_pacing_shows_its_estimate_and_holds_the_rate(paced_bot, clock) -> None:
    bot = paced_bot
    sleeps = paced(bot, clock)
    response = bot.command("/obd", " ".join(numbers(1000)) + " play 123.sound", user_id=ADMIN)
    text = text_of(bot.replies()[-1] if "Checking" in text_of(response.json()) else response.json())
    assert "Cost: 5 Kaleyra requests" in text
    assert "at most 200 calls a minute (OBD_CALLS_PER_MINUTE)" in text and "about 5 minutes" in text
    button = next(b for b in bot.replies()[-1]["blocks"] if b["type"] == "actions")["elements"][0]
    bot.slack.block_action(views.OBD_CONFIRM, button["value"], user_id=ADMIN)
    bot.settle()
    sent = [
        datetime.fromisoformat(c.sent_at) for c in await bot.deps.store.chunks(int(button["value"]))
    ]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent)]
    assert gaps == [60.0] * 4 and sleeps.waits == [60.0] * 4
    assert sorted(called(bot)) == numbers(1000)


async def test_the_window_closing_pauses_itself_and_reopening_resumes(paced_bot, clock) -> None:
    bot = paced_bot
    clock.now = clock.now.replace(hour=20, minute=58)
    paced(bot, clock)
    job = start(bot, " ".join(numbers(600)) + " play 123.sound")
    bot.settle()
    assert len(called(bot)) == 400
    shown = progress(bot)
    assert "Paused*: outside the calling hours (09:00-21:00 Asia/Kolkata)" in shown
    assert "resumes by itself at 2026-11-24 09:00" in shown
    click(bot, views.OBD_RESUME, str(job))  # a person cannot push it into the closed window
    bot.settle()
    assert len(called(bot)) == 400

    clock.now = clock.now.replace(hour=23)
    assert bot.run(bot.deps.obd.tick()) == 0
    clock.now = (clock.now + timedelta(days=1)).replace(hour=9, minute=0)
    assert bot.run(bot.deps.obd.tick()) == 1
    bot.settle()
    assert sorted(called(bot)) == numbers(600)
    assert (await bot.deps.store.get_job(job)).state == "tracking"


def test_a_campaign_cancelled_while_the_window_is_closed_stays_cancelled(paced_bot, clock):
    bot = paced_bot
    clock.now = clock.now.replace(hour=20, minute=59)
    paced(bot, clock)
    job = start(bot, " ".join(numbers(600)) + " play 123.sound")
    bot.settle()
    click(bot, views.OBD_STOP, str(job))
    clock.now = (clock.now + timedelta(days=1)).replace(hour=9, minute=0)
    assert bot.run(bot.deps.obd.tick()) == 0
    bot.settle()
    assert len(called(bot)) == 200


# ---------------------------------------------------------------------- results


def test_results_by_outcome_with_a_csv_of_every_number_then_call_the_unreached_again(bot):
    batch = [f"98765432{i:02d}" for i in range(10)]  # 00 busy, 01 no answer … 05 DND, 06+
    job = start(bot, ", ".join([*batch, "12345"]) + " play 123.sound")
    bot.settle()
    bot.sandbox.state.clock.advance(seconds=5)
    assert bot.run(bot.deps.obd.poll_once(job)) is True
    bot.settle()
    [summary] = [m for m in dms(bot) if "results" in text_of(m)]
    text = text_of(summary)
    assert "*Broadcast #1 results*" in text
    assert "completed 3 · busy 1 · cancelled 1 · " in text and "no answer 1" in text
    again = buttons(summary)[views.OBD_AGAIN]
    assert again["text"]["text"] == "Call the unreached again (5)"

    [complete] = bot.fake.of("files.completeUploadExternal")
    assert complete["channel_id"] == "D0ADMIN"
    rows = list(csv.reader(io.StringIO(bot.fake.uploaded_file("Broadcast #1 results").decode())))
    assert rows[0] == ["number", "outcome", "call id", "sent at", "chunk"]
    assert {r[0]: r[1] for r in rows[1:]} == {
        "+919876543200": "busy",
        "+919876543201": "no answer",
        "+919876543202": "failed",
        "+919876543203": "network congestion",
        "+919876543204": "unreachable (switched off or out of coverage)",
        "+919876543205": "blocked by Do-Not-Disturb",
        "+919876543206": "cancelled",
        "+919876543207": "completed",
        "+919876543208": "completed",
        "+919876543209": "completed",
    }
    assert all(r[3].startswith("2026-11-23 ") and r[4] == "1" for r in rows[1:])

    bot.command("/blacklist", "add 9876543202", user_id=ADMIN)
    reply = click(bot, views.OBD_AGAIN, again["value"])
    assert "call *4* numbers" in text_of(reply)
    assert "The numbers broadcast #1 did not reach, called again." in text_of(reply)
    assert "1 blacklisted: +91 98765 43202" in text_of(reply)
    assert len(bot.sandbox.state.recorded("voice.call")) == 1  # nothing before the click
    value = buttons(reply)[views.OBD_CONFIRM]["value"]
    bot.slack.block_action(views.OBD_CONFIRM, value, user_id=ADMIN)
    bot.settle()
    assert called(bot)[10:] == ["9876543200", "9876543201", "9876543203", "9876543204"]


def test_unreached_again_is_for_admins(bot) -> None:
    reply = click(bot, views.OBD_AGAIN, "1", user_id=AGENT)
    assert "Only admins can start broadcasts" in text_of(reply)


# ---------------------------------------------------------------------- list and status


def test_list_and_status_by_campaign_id_for_everyone(bot) -> None:
    job = start(bot, "9876543210, 9123456789 play 123.sound campaign diwali")
    bot.settle()
    listing = text_of(bot.command("/obd", "list", user_id=AGENT).json())
    assert f"`#{job}` broadcast `diwali` · *tracking* · 2 numbers: accepted 2" in listing
    for ident in (f"#{job}", str(job)):
        bot.command("/obd", f"status {ident}", user_id=AGENT)
        shown = text_of(bot.replies()[-1])
        assert f"Broadcast #{job}*" in shown and "2 of 2 numbers sent" in shown
        assert buttons(bot.replies()[-1]) == {}
    bot.command("/obd", "status #99", user_id=AGENT)
    assert "There is no started broadcast #99" in text_of(bot.replies()[-1])


def test_list_with_nothing_yet(bot) -> None:
    assert "No broadcast has been started yet" in text_of(
        bot.command("/obd", "list", user_id=AGENT).json()
    )


class TestKaleyraIo:
    @pytest.fixture
    def bot(self, sandbox, tmp_path, clock):
        harness = Harness(
            sandbox, tmp_path, clock, kaleyra_sid="HX123", kaleyra_bridge="+918047000000"
        )
        harness.deps.kaleyra.sid = "HX123"
        yield harness
        harness.close()

    def test_results_say_there_is_no_status_api_and_list_what_was_submitted(self, bot) -> None:
        start(bot, "+44 20 7946 0958, 9876543210 play 13.sound")
        bot.settle()
        [sent] = bot.sandbox.state.recorded("outbound")
        assert sent.form["to"] == "+442079460958,+919876543210"  # kaleyra.io takes any country
        [summary] = [m for m in dms(bot) if "results" in text_of(m)]
        assert "kaleyra.io has no call status API" in text_of(summary)
        assert buttons(summary) == {}
        rows = list(
            csv.reader(io.StringIO(bot.fake.uploaded_file("Broadcast #1 results").decode()))
        )
        assert [(r[0], r[1]) for r in rows[1:]] == [
            ("+442079460958", "submitted"),
            ("+919876543210", "submitted"),
        ]
