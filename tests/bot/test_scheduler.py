"""Scheduled work, driven directly with an injected clock: nothing lost, nothing sent twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import JOB_IDS, Deps, Tuning, build_deps, scheduler_for
from bot.kaleyra import KaleyraClient
from bot.runtime.scheduler import digest_trigger
from bot.sandbox import Fault
from bot.store import Store
from tests.support.harness import ADMIN, AGENT, text_of

KA = {
    "region": "Karnataka",
    "region_code": "KA-IN",
    "type": "operational",
    "service": "all",
    "numbers": ["+918012345628"],
}


def restarted(bot, clock) -> Deps:
    """A second process on the same database, as after a restart."""
    return build_deps(
        bot.settings,
        kaleyra=KaleyraClient(
            api_key="test-key", voice_url=bot.sandbox.voice_url, backoff_seconds=0
        ),
        store=Store(bot.settings.database, clock=lambda: clock.now),
        slack=AsyncWebClient(token="xoxb-test-token", base_url=bot.settings.slack_api_url),
        clock=lambda: clock.now,
        tuning=Tuning(auto_track=False),
    )


def posts(bot, channel: str = "C0OPS") -> list[str]:
    return [text_of(p) for p in bot.fake.of("chat.postMessage") if p["channel"] == channel]


def test_digest_at_0900_kolkata_is_0330_utc() -> None:
    trigger = digest_trigger("09:00", "Asia/Kolkata")
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, now) == datetime(2026, 11, 23, 3, 30, tzinfo=UTC)


class TestHealth:
    @pytest.fixture(autouse=True)
    async def channel(self, bot):
        await bot.deps.store.set_setting("digest_channel", "C0OPS")

    def test_baseline_then_a_change_is_alerted_once(self, bot, clock) -> None:
        bot.sandbox.state.incidents = [KA]
        assert bot.run(bot.deps.voicehealth.poll()) == []  # baseline
        assert posts(bot) == []
        bot.sandbox.state.incidents = [{**KA, "type": "critical"}]
        changes = bot.run(bot.deps.voicehealth.poll())
        assert [c.kind for c in changes] == ["moved"]
        [alert] = posts(bot)
        assert (
            "Voice network changed" in alert
            and "operational → :red_circle: *Karnataka* (KA-IN) critical" in alert
        )
        assert bot.run(bot.deps.voicehealth.poll()) == []  # a repeat poll posts nothing
        later = restarted(bot, clock)
        assert bot.run(later.voicehealth.poll()) == []  # nor does a restart
        bot.sandbox.state.incidents = []
        bot.run(bot.deps.voicehealth.poll())
        assert "Cleared: " in posts(bot)[-1] and len(posts(bot)) == 2

    def test_outage_is_reported_once_and_recovery_once(self, bot) -> None:
        bot.run(bot.deps.voicehealth.poll())
        bot.sandbox.state.set_fault("monitor", Fault(error_rate=1.0, http_status=503))
        for _ in range(3):
            bot.run(bot.deps.voicehealth.poll())
        bot.sandbox.state.set_fault("monitor", None)
        bot.run(bot.deps.voicehealth.poll())
        bot.run(bot.deps.voicehealth.poll())
        texts = posts(bot)
        assert len(texts) == 2
        assert "cannot be read" in texts[0] and "answers again" in texts[1]

    def test_digest_once_per_due_time_with_changes_since_the_last(self, bot, clock) -> None:
        bot.sandbox.state.incidents = [KA]
        assert bot.run(bot.deps.voicehealth.digest()) is True
        assert bot.run(bot.deps.voicehealth.digest()) is False  # same due time: nothing twice
        first = posts(bot)[-1]
        assert (
            "Daily voice health digest" in first
            and "*Karnataka*" in first
            and "no changes." in first
        )
        clock.advance(days=1)
        bot.sandbox.state.incidents = [
            KA,
            {**KA, "region": "Delhi", "region_code": "DL-IN", "type": "warning"},
        ]
        assert bot.run(bot.deps.voicehealth.digest()) is True
        assert "New: :large_yellow_circle: *Delhi*" in posts(bot)[-1]
        assert len(posts(bot)) == 2

    def test_digest_missed_while_down_is_sent_late_within_grace(self, bot, clock) -> None:
        clock.now = datetime(
            2026, 11, 23, 10, 30, tzinfo=clock.now.tzinfo
        )  # 09:00 passed while down
        after_restart = restarted(bot, clock)
        assert bot.run(after_restart.voicehealth.catch_up()) == "sent late"
        assert "(late: the bot was down at the usual time)" in posts(bot)[-1]
        assert bot.run(restarted(bot, clock).voicehealth.catch_up()) == "already sent"
        assert len(posts(bot)) == 1

    def test_older_digest_is_reported_in_the_next_one(self, bot, clock) -> None:
        clock.now = datetime(2026, 11, 23, 15, 0, tzinfo=clock.now.tzinfo)  # 6 hours late
        assert bot.run(restarted(bot, clock).voicehealth.catch_up()) == "missed"
        assert posts(bot) == []
        clock.advance(days=1)
        bot.run(bot.deps.voicehealth.digest())
        assert (
            "Missed while the bot was down" in posts(bot)[-1]
            and "daily digest of 2026-11-23 09:00" in posts(bot)[-1]
        )


class TestReminders:
    def add(self, bot, when: str = "2026-11-23 12:00") -> None:
        bot.register()
        bot.command("/followup", f"add 8712345678 {when} John Doe")

    def dms(self, bot) -> list[dict]:
        return [
            p
            for p in bot.fake.of("chat.postMessage")
            if p["channel"] == "D0AGENT" and "reminder" in p["text"].lower()
        ]

    async def test_reminder_goes_to_the_follower_once(self, bot, clock) -> None:
        self.add(bot)
        clock.now = clock.now.replace(hour=11, minute=49)
        assert bot.run(bot.deps.reminders.run_due()) == 0  # 11 minutes before: not yet
        clock.advance(minutes=1)
        assert bot.run(bot.deps.reminders.run_due()) == 1
        assert (await bot.deps.store.get_followup("2351")).reminder == "sent"  # not read again
        assert bot.run(bot.deps.reminders.run_due()) == 0
        assert bot.fake.of("conversations.open")[-1]["users"] == AGENT
        [dm] = self.dms(bot)
        text = text_of(dm)
        assert (
            "Call *John Doe* on +91 87123 45678 at <!date^1795415400^{time} ({date_short_pretty})|"
            in text
            and "late" not in text
        )
        assert [e["action_id"] for e in dm["blocks"][1]["elements"]] == [
            "followup_call_now",
            "followup_snooze",
            "followup_done",
        ]

    def test_reminder_due_during_a_restart_is_sent_exactly_once_on_start(self, bot, clock) -> None:
        self.add(bot)
        clock.now = clock.now.replace(hour=11, minute=55)  # due at 11:50, the bot was down
        for _ in range(2):  # two restarts
            bot.run(restarted(bot, clock).scheduler.catch_up())
        [dm] = self.dms(bot)
        assert "(late: the bot was down when it was due)" in text_of(dm)

    def test_a_crash_after_the_reminder_dm_sends_no_second_one(self, bot, clock, mocker) -> None:
        """The DM went out, then the process stopped before writing it down: the claim taken
        before sending keeps the next process from sending it again."""
        self.add(bot)
        clock.now = clock.now.replace(hour=11, minute=50)
        mocker.patch.object(bot.deps.store, "mark_sent", side_effect=RuntimeError("stopped"))
        bot.run(bot.deps.reminders.run_due())
        assert len(self.dms(bot)) == 1
        for _ in range(2):  # two restarts, a minute apart
            clock.advance(minutes=1)
            assert bot.run(restarted(bot, clock).reminders.run_due()) == 0
        assert len(self.dms(bot)) == 1

    def test_snooze_reschedules_and_done_stops(self, bot, clock) -> None:
        self.add(bot)
        clock.now = clock.now.replace(hour=11, minute=50)
        bot.run(bot.deps.reminders.run_due())
        bot.slack.block_action("followup_snooze", "2351")
        bot.settle()
        assert "remind you again at <!date^1795415400^{time}|" in text_of(bot.replies()[-1])
        clock.advance(minutes=9)
        assert bot.run(bot.deps.reminders.run_due()) == 0
        clock.advance(minutes=1)
        assert bot.run(bot.deps.reminders.run_due()) == 1
        bot.slack.block_action("followup_done", "2351")
        bot.settle()
        clock.advance(minutes=10)
        assert bot.run(bot.deps.reminders.run_due()) == 0
        assert len(self.dms(bot)) == 2

    async def test_an_edited_followup_moves_its_reminder_and_a_deleted_one_cancels(
        self, bot, clock
    ) -> None:
        self.add(bot)
        row = await bot.deps.store.get_followup("2351")
        await bot.deps.store.save_followup(
            row.model_copy(update={"ontime": datetime(2026, 11, 23, 9, 30, tzinfo=UTC)})
        )  # edited to 15:00 IST
        clock.now = clock.now.replace(hour=11, minute=50)
        assert bot.run(bot.deps.reminders.run_due()) == 0
        clock.now = clock.now.replace(hour=14, minute=50)
        assert bot.run(bot.deps.reminders.run_due()) == 1
        self.add(bot, "2026-11-23 16:00")
        bot.command("/followup", "delete 2352")
        clock.now = clock.now.replace(hour=15, minute=55)
        assert bot.run(bot.deps.reminders.run_due()) == 0

    async def test_too_old_is_reported_in_the_digest_not_dropped(self, bot, clock) -> None:
        self.add(bot)
        await bot.deps.store.set_setting("digest_channel", "C0OPS")
        clock.now = clock.now.replace(hour=13, minute=0)
        assert bot.run(bot.deps.reminders.run_due()) == 0
        bot.run(bot.deps.voicehealth.digest())
        digest = posts(bot)[-1]
        assert "reminder for follow-up #2351 (John Doe)" in digest

    async def test_followups_made_outside_slack_are_synced_for_mapped_followers(self, bot) -> None:
        bot.register()
        from bot.sandbox.state import FollowupState

        bot.sandbox.state.followups["7000"] = FollowupState(
            "7000", "8712340000", "Walk-in", "9876543210", datetime(2026, 11, 23, 18, 0)
        )
        bot.sandbox.state.followups["7001"] = FollowupState(
            "7001", "8712340001", "Unmapped", "9000000001", datetime(2026, 11, 23, 18, 0)
        )
        assert bot.run(bot.deps.reminders.sync()) == 1
        row = await bot.deps.store.get_followup("7000")
        assert (row.user_id, row.ontime.isoformat()) == (AGENT, "2026-11-23T12:30:00+00:00")
        assert await bot.deps.store.get_followup("7001") is None


def test_two_restarts_leave_the_job_count_unchanged(bot) -> None:
    async def start_twice() -> list[list[str]]:
        seen = []
        for _ in range(2):
            scheduler = scheduler_for(bot.deps)
            await scheduler.start()
            await scheduler.start()  # starting again in one process does not add jobs either
            seen.append(sorted(j.id for j in scheduler.aps.get_jobs()))
            scheduler.shutdown()
        await asyncio.sleep(0)
        return seen

    seen = bot.run(start_twice())
    assert seen == [sorted(JOB_IDS), sorted(JOB_IDS)]


def test_digest_time_change_takes_effect_without_restart(bot) -> None:
    async def change() -> datetime:
        await bot.deps.scheduler.start()
        await bot.deps.voicehealth.set_digest(ADMIN, "C0OPS", time(18, 45))  # reschedules the job
        job = bot.deps.scheduler.aps.get_job("health-digest")
        fire = job.trigger.get_next_fire_time(None, datetime(2026, 11, 23, 6, 0, tzinfo=UTC))
        bot.deps.scheduler.shutdown()
        return fire

    assert bot.run(change()) == datetime(2026, 11, 23, 13, 15, tzinfo=UTC)


async def test_call_tracking_job_stops_at_final_or_after_its_bound(bot, clock) -> None:
    bot.register()
    bot.command("/c2c", "9123456789")
    bot.command("/c2c", "9123456780")
    first, second = sorted(c.id for c in await bot.deps.store.recent_calls(AGENT))
    clock.advance(seconds=90)
    await bot.deps.store.update_call(
        second, created_at=(clock.now - timedelta(hours=1)).astimezone(UTC).isoformat()
    )
    bot.run(bot.deps.c2c.poll_open())
    assert (await bot.deps.store.get_call(first)).state == "final"
    assert (await bot.deps.store.get_call(second)).state == "untracked"
    assert await bot.deps.store.open_calls() == []
