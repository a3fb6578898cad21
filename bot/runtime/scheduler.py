"""APScheduler (3.x) in the app's event loop, in TIMEZONE, fed the jobs it runs.

Jobs have fixed ids, so a restart replaces them instead of adding more; what they send is claimed
in the store's sent-log, so a restart never sends anything twice. The scheduler knows nothing of
the features: the composition root hands it a factory of jobs (triggers can depend on settings
that change at run time, such as the digest time) and a catch-up step for start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.runtime.metrics import JOBS

log = logging.getLogger("voicebot.scheduler")


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    run: Callable[[], Awaitable[Any]]
    trigger: BaseTrigger


def daily_at(at: str, timezone: str) -> CronTrigger:
    """Every day at local HH:MM."""
    hour, minute = (int(x) for x in at.split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=timezone)


digest_trigger = daily_at  # the name the health digest's tests know


class Scheduler:
    def __init__(
        self,
        timezone: tzinfo,
        jobs: Callable[[], Awaitable[Sequence[ScheduledJob]]],
        *,
        catch_up: Callable[[], Awaitable[Any]] | None = None,
        spawn: Callable[[Coroutine[Any, Any, Any]], Any] | None = None,
    ) -> None:
        self._jobs = jobs
        self._catch_up = catch_up
        self._spawn = spawn
        self._listening = False
        self.aps = AsyncIOScheduler(
            timezone=timezone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )

    @staticmethod
    def _count(event: JobExecutionEvent) -> None:
        outcome = (
            "failed" if event.exception else "missed" if event.code == EVENT_JOB_MISSED else "ok"
        )
        JOBS.labels(event.job_id, outcome).inc()

    async def add_jobs(self) -> None:
        for job in await self._jobs():
            self.aps.add_job(job.run, job.trigger, id=job.id, name=job.id, replace_existing=True)

    async def start(self) -> None:
        await self.add_jobs()
        if not self.aps.running:
            if not self._listening:  # once, however often leadership comes and goes
                self._listening = True
                self.aps.add_listener(
                    self._count, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
                )
            self.aps.start()
        # What fell due while we were down: reminders within their grace window, the digest.
        if self._spawn is not None:
            self._spawn(self.catch_up())
        log.info("scheduler started: %s", ", ".join(sorted(j.id for j in self.aps.get_jobs())))

    async def catch_up(self) -> None:
        if self._catch_up is not None:
            await self._catch_up()

    async def refresh(self, job_id: str) -> None:
        """Re-read one job's trigger (its time changed at run time) without a restart."""
        if not self.aps.running:
            return
        for job in await self._jobs():
            if job.id == job_id:
                self.aps.reschedule_job(job_id, trigger=job.trigger)

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
