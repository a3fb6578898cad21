"""Pause, Resume and Cancel of a started campaign."""

from __future__ import annotations

from typing import Literal

from bot.grammar import UsageError
from bot.models import (
    Campaign,
    ControlOutcome,
)
from bot.services.obd.base import BroadcastsBase


class Controls(BroadcastsBase):
    # ------------------------------------------------------------------ pause, resume, cancel

    async def control(
        self, job_id: int, user_id: str, verb: Literal["pause", "resume", "cancel"]
    ) -> ControlOutcome:
        """Pause, Resume or Cancel a campaign. Acts on unsent chunks.

        The rights are read at the click: the owner or an admin may pause or cancel it; resume
        it too while the owner is an admin, and only an admin once the owner is not.
        """
        campaign = await self.store.get_job(job_id)
        if campaign is None or campaign.state in ("pending", "expired"):
            raise UsageError(f"There is no started broadcast #{job_id}.")
        if verb == "resume" and not await self.agents.is_admin(campaign.user_id):
            what = "resume a broadcast whose owner is no longer an admin"
            await self.agents.require_admin(user_id, what, action="obd", command="obd")
        elif user_id != campaign.user_id:
            await self.agents.require_admin(
                user_id,
                "pause, resume or cancel someone else's broadcast",
                action="obd",
                command="obd",
            )
        if verb == "pause":
            outcome = await self._pause(campaign, user_id)
        elif verb == "resume":
            outcome = await self._resume(campaign, user_id)
        else:
            outcome = await self._cancel(campaign, user_id)
        if outcome.changed:
            await self._refresh(job_id, force=True)
        return outcome

    async def _pause(self, campaign: Campaign, user_id: str) -> ControlOutcome:
        job_id = campaign.id
        changed = await self.store.move_campaign(
            job_id, "paused", since=("running", "interrupted"), reason="user", by=user_id
        ) or await self.store.move_campaign(
            job_id, "paused", since=("paused",), reason="user", by=user_id, only_reason="window"
        )
        if changed:
            await self._audit(campaign, "pause", "paused", actor=user_id)
        return ControlOutcome(
            job_id, "pause", changed, await self.store.campaign_state(job_id) or ""
        )

    async def _resume(self, campaign: Campaign, user_id: str) -> ControlOutcome:
        job_id, now = campaign.id, self.clock()
        plan = campaign.plan
        if plan.kind == "obd" and plan.at is None and not self._in_window(now):
            changed = await self.store.move_campaign(
                job_id, "paused", since=("paused", "interrupted"), reason="window"
            )
            opening = f"{self._next_opening(now):%Y-%m-%d %H:%M}"
            if changed and self.config.follow_calls:
                wait = (self._next_opening(now) - now).total_seconds()
                self.background.spawn(self._wake(wait), name=f"obd-window-{job_id}", lasting=True)
            return ControlOutcome(job_id, "resume", changed, "paused", resumes_at=opening)
        changed = await self.store.move_campaign(job_id, "running", since=("paused", "interrupted"))
        if not changed and campaign.state == "running" and job_id not in self._runners:
            # Shown running with nobody sending it (its sender failed): start one.
            changed = job_id in [j for j, _ in await self.store.senderless_campaigns()]
        if changed:
            await self._audit(campaign, "resume", "resumed", actor=user_id)
            # A sender winding down (paused a moment ago) starts the next itself when it ends.
            self._spawn_run(job_id)
        return ControlOutcome(
            job_id, "resume", changed, await self.store.campaign_state(job_id) or ""
        )

    async def _cancel(self, campaign: Campaign, user_id: str) -> ControlOutcome:
        job_id = campaign.id
        not_called = await self.store.cancel_campaign(job_id)
        if not_called is None:
            return ControlOutcome(job_id, "cancel", False, campaign.state)
        await self._audit(campaign, "cancel", f"cancelled, {not_called} not called", actor=user_id)
        if job_id not in self._runners:  # nothing running will record the end: do it here
            await self._end_of_run(job_id)
        return ControlOutcome(job_id, "cancel", True, "cancelled", not_called=not_called)
