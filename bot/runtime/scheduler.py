"""APScheduler (3.x) in the app's event loop, in TIMEZONE. Jobs have fixed ids, so a restart
replaces them instead of adding more; what they send is claimed in the store's sent-log, so a
restart never sends anything twice."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.runtime.metrics import JOBS

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger("voicebot.scheduler")

HEALTH_POLL, HEALTH_DIGEST = "health-poll", "health-digest"
REMINDERS, FOLLOWUP_SYNC = "followup-reminders", "followup-sync"
TRACK_CALLS, TRACK_BROADCASTS = "track-calls", "track-broadcasts"
JOB_IDS = (HEALTH_POLL, HEALTH_DIGEST, REMINDERS, FOLLOWUP_SYNC, TRACK_CALLS, TRACK_BROADCASTS)


def digest_trigger(at: str, timezone: str) -> CronTrigger:
    hour, minute = (int(x) for x in at.split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=timezone)


class Scheduler:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.aps = AsyncIOScheduler(
            timezone=deps.settings.tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )

    @staticmethod
    def _count(event: JobExecutionEvent) -> None:
        outcome = (
            "failed" if event.exception else "missed" if event.code == EVENT_JOB_MISSED else "ok"
        )
        JOBS.labels(event.job_id, outcome).inc()

    def add_jobs(self) -> None:
        deps, settings = self.deps, self.deps.settings
        jobs = [
            (
                HEALTH_POLL,
                deps.voicehealth.poll,
                IntervalTrigger(minutes=settings.health_poll_minutes),
            ),
            (
                HEALTH_DIGEST,
                deps.voicehealth.digest,
                digest_trigger(deps.voicehealth.digest_time(), settings.timezone),
            ),
            (REMINDERS, deps.reminders.run_due, IntervalTrigger(minutes=1)),
            (FOLLOWUP_SYNC, deps.reminders.sync, IntervalTrigger(minutes=10)),
            (TRACK_CALLS, deps.c2c.poll_open, IntervalTrigger(seconds=deps.poll_seconds)),
            (TRACK_BROADCASTS, deps.obd.poll_tracking, IntervalTrigger(seconds=30)),
        ]
        for job_id, func, trigger in jobs:
            self.aps.add_job(func, trigger, id=job_id, name=job_id, replace_existing=True)

    def start(self) -> None:
        self.add_jobs()
        if not self.aps.running:
            self.aps.add_listener(
                self._count, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
            )
            self.aps.start()
        # What fell due while we were down: reminders within their grace window, the digest.
        self.deps.background.spawn(self.catch_up(), name="scheduler-catch-up")
        log.info("scheduler started: %s", ", ".join(sorted(j.id for j in self.aps.get_jobs())))

    async def catch_up(self) -> None:
        await self.deps.reminders.run_due()
        outcome = await self.deps.voicehealth.catch_up()
        log.info("digest catch-up: %s", outcome)

    def reschedule_digest(self) -> None:
        if self.aps.running:
            trigger = digest_trigger(
                self.deps.voicehealth.digest_time(), self.deps.settings.timezone
            )
            self.aps.reschedule_job(HEALTH_DIGEST, trigger=trigger)

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
