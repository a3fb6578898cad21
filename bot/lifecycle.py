"""Start and stop one voicebot process: the same steps for HTTP, Socket Mode, console, tests, benches."""

from __future__ import annotations

import gc
import logging

import aiohttp

from bot.deps import Deps
from bot.runtime.leader import LeaderElector
from bot.slack.client import slack_session
from bot.store.urls import conninfo

log = logging.getLogger("voicebot.lifecycle")

LEADER_POLL = 5.0  # seconds between a standby's tries for the scheduler's lock


class Lifecycle:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.ready = False
        self._own_session: aiohttp.ClientSession | None = None
        self.elector: LeaderElector | None = None

    async def start(self) -> None:
        deps = self.deps
        if getattr(deps.slack, "session", None) is None:
            # One pooled session for every Web API call; without it slack_sdk opens one per call.
            self._own_session = slack_session()
            deps.slack.session = self._own_session
        await deps.store.open()  # PostgreSQL: connect, and migrate (one replica at a time)
        if not deps.uses_sandbox:
            deps.kaleyra.adapt(await deps.store.kaleyra_account())
        if deps.settings.scheduler_enabled:
            if deps.store.dialect == "postgresql":
                # Replicas: the one holding the advisory lock runs the jobs; the others stand
                # by and take over within LEADER_POLL seconds of its death.
                self.elector = LeaderElector(
                    conninfo(deps.settings.database),
                    on_elected=deps.scheduler.start,
                    on_deposed=self._stand_by,
                    interval=LEADER_POLL,
                )
                await self.elector.start()
            else:
                await deps.scheduler.start()
        resumed = await deps.c2c.resume_tracking()
        if resumed:
            log.info("resumed tracking %d calls", resumed)
        interrupted = await deps.obd.recover_interrupted()
        if interrupted:
            log.info("%d broadcasts were interrupted; their owners were told", interrupted)
        if deps.tuning.freeze_heap:
            # Everything built so far lives as long as the process: move it out of the
            # collector's reach, so full collections under load do not walk it again.
            gc.collect()
            gc.freeze()
        self.ready = True

    @property
    def scheduler_role(self) -> str:
        """`leader` (runs the scheduled jobs), `standby` (another replica does) or `off`."""
        if not self.deps.settings.scheduler_enabled:
            return "off"
        if self.elector is None:
            return "leader"
        return "leader" if self.elector.is_leader else "standby"

    async def _stand_by(self) -> None:
        self.deps.scheduler.shutdown()

    async def stop(self) -> None:
        self.ready = False
        if self.elector is not None:
            await self.elector.aclose()
        self.deps.scheduler.shutdown()
        await self.deps.background.cancel_all()
        await self.deps.notify.budget.aclose()
        if self._own_session is not None:
            await self._own_session.close()
            self.deps.slack.session = None
            self._own_session = None
