"""The state and helpers every part of Broadcasts shares."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from bot.kaleyra import KaleyraClient
from bot.models import (
    BroadcastPlan,
    BroadcastResult,
    Campaign,
)
from bot.runtime.background import Background
from bot.services.agents import Agents
from bot.services.obd.config import PLANS_KEPT, BroadcastConfig, Clock, Fetch, Sleep
from bot.slack.notify import Notifier
from bot.store import Store


class BroadcastsBase:
    """What every part of the service shares: its collaborators, the campaign row and its
    plan cache, the calling window and the audit trail.

    The parts are mixins of one object (`Broadcasts`): a part calls another's methods through
    `self` (the runner refreshes the progress message, delivers results, re-plans at Start).
    """

    def __init__(
        self,
        *,
        store: Store,
        kaleyra: KaleyraClient,
        notify: Notifier,
        agents: Agents,
        background: Background,
        clock: Clock,
        config: BroadcastConfig,
        fetch: Fetch | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.kaleyra = kaleyra
        self.notify = notify
        self.agents = agents
        self.background = background
        self.clock = clock
        self.config = config
        self.fetch = fetch
        self.sleep = sleep  # tests substitute one that moves their clock
        self._runners: dict[int, asyncio.Task[Any]] = {}
        self._plans: dict[int, BroadcastPlan] = {}
        self._last_update: dict[int, float] = {}
        self._update_locks: dict[int, asyncio.Lock] = {}
        self._starting = asyncio.Lock()

    @property
    def via_io(self) -> bool:
        return self.config.via_io

    async def require_admin(self, user_id: str) -> None:
        await self.agents.require_admin(
            user_id, "start broadcasts or dialer uploads", action="obd", command="obd"
        )

    def _outside_window(self, moment: datetime, now: datetime, *, scheduled: bool) -> str:
        assert self.config.calling_hours is not None
        start, end = self.config.calling_hours
        next_day = moment.date() + timedelta(days=1 if moment.time() >= end else 0)
        suggestion = datetime.combine(next_day, start)
        if suggestion < now.replace(tzinfo=None) + timedelta(minutes=15):
            suggestion = (now + timedelta(minutes=20)).replace(tzinfo=None, second=0, microsecond=0)
        which = f"{moment:%H:%M} is" if scheduled else f"It is {now:%H:%M} now,"
        return (
            f"Broadcasts may only ring between {start:%H:%M} and {end:%H:%M} {self.config.timezone}; {which} outside that. "
            f"Schedule it into the window: add `at {suggestion:%Y-%m-%d %H:%M}`."
        )

    def _in_window(self, moment: datetime) -> bool:
        window = self.config.calling_hours
        if not window:
            return True
        local = moment.astimezone(self.config.tz).time().replace(second=0, microsecond=0)
        return window[0] <= local < window[1]

    def _next_opening(self, moment: datetime) -> datetime:
        assert self.config.calling_hours is not None
        start = self.config.calling_hours[0]
        local = moment.astimezone(self.config.tz)
        opening = datetime.combine(local.date(), start, tzinfo=self.config.tz)
        return opening if opening > local else opening + timedelta(days=1)

    async def _campaign(self, job_id: int) -> Campaign:
        """The campaign row, its plan read once while it runs (plans do not change after Start)."""
        plan = self._plans.get(job_id)
        campaign = await self.store.get_job(job_id, plan=plan)
        assert campaign is not None
        if plan is None and campaign.state in ("running", "paused", "interrupted"):
            self._keep_plan(job_id, campaign.plan)
        return campaign

    def _keep_plan(self, job_id: int, plan: BroadcastPlan) -> None:
        while len(self._plans) >= PLANS_KEPT:
            self._plans.pop(next(iter(self._plans)))
        self._plans[job_id] = plan

    def _forget_plan(self, job_id: int) -> None:
        self._plans.pop(job_id, None)

    # ------------------------------------------------------------------ the audit trail

    async def _audit_start(self, campaign: Campaign, result: BroadcastResult) -> None:
        codes = [c.code for c in await self.store.chunk_outline(campaign.id) if c.code]
        await self.store.audit(
            user_id=campaign.user_id,
            action=f"{campaign.kind}.start",
            outcome=f"accepted {result.accepted}, rejected {result.rejected}, unknown {result.unknown}",
            numbers=campaign.plan.numbers[:50],
            kaleyra_ids=result.group_ids,
            detail={"job": campaign.id, "codes": codes, "total": result.total},
        )

    async def _audit(
        self, campaign: Campaign, what: str, outcome: str, *, actor: str | None = None
    ) -> None:
        await self.store.audit(
            user_id=actor or campaign.user_id,
            action=f"{campaign.kind}.{what}",
            outcome=outcome,
            detail={"job": campaign.id, "owner": campaign.user_id},
        )

    async def _audit_job(self, job_id: int, what: str, outcome: str) -> None:
        await self._audit(await self._campaign(job_id), what, outcome)
