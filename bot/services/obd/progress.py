"""Reading campaigns (`/obd status`, `/obd list`) and the owner's live progress message."""

from __future__ import annotations

import asyncio
import time as monotonic

from bot.grammar import UsageError
from bot.grammar.obd import ObdStatus
from bot.kaleyra import KaleyraError
from bot.kaleyra.models import (
    ObdCall,
)
from bot.models import (
    Campaign,
    CampaignListing,
    CampaignProgress,
)
from bot.phones import mask_text
from bot.services.obd.base import BroadcastsBase
from bot.views import obd as views
from bot.views.common import describe_kaleyra_error


class Progress(BroadcastsBase):
    # ------------------------------------------------------------------ reading

    async def status(
        self, query: ObdStatus, user_id: str
    ) -> CampaignProgress | tuple[str, list[ObdCall]]:
        """`/obd status` (anyone): one of our campaigns (`#12`, or short digits that name one),
        else a Kaleyra group or call. Kaleyra's text reaches a non-admin with numbers masked."""
        job_id = query.maybe_campaign
        if job_id is not None:
            state = await self.store.campaign_state(job_id)
            if state is not None and state not in ("pending", "expired"):
                return await self._progress(job_id, reader=user_id)
            if query.campaign is not None:
                raise UsageError(
                    f"There is no started broadcast #{job_id}. `/obd list` shows the recent ones."
                )
        try:
            if query.is_group:
                return query.ident, await self.kaleyra.obd_group_status(query.ident)
            return query.ident, await self.kaleyra.obd_status(query.ident)
        except KaleyraError as exc:
            text = describe_kaleyra_error(exc)
            admin = await self.agents.is_admin(user_id)
            raise UsageError(text if admin else mask_text(text)) from None

    async def recent(self, limit: int = 10) -> list[CampaignListing]:
        return await self.store.recent_campaigns(limit)

    async def _progress(
        self, job_id: int, campaign: Campaign | None = None, *, reader: str | None = None
    ) -> CampaignProgress:
        """What `reader` (by default its owner, whose DM holds the progress message) sees."""
        campaign = campaign or await self._campaign(job_id)
        admin = await self.agents.is_admin(reader or campaign.user_id)
        withheld = bool(campaign.result and campaign.result.file_withheld)
        # Read once a second while sending: counts, errors and group ids, no model per chunk.
        counts, errors, group_ids = await self.store.chunk_summary(job_id)
        by_window = campaign.state == "paused" and campaign.pause_reason == "window"
        return CampaignProgress(
            campaign=campaign,
            counts=counts,
            errors=tuple(f"Request {idx + 1}: {error}" for idx, error in errors),
            group_ids=tuple(group_ids),
            window=self.config.window_text if by_window else None,
            resumes_at=f"{self._next_opening(self.clock()):%Y-%m-%d %H:%M}" if by_window else None,
            show_numbers=admin,
            offer_results=admin and withheld and reader is not None,
        )

    # ------------------------------------------------------------------ the progress message

    # Messages to the owner are posted to their user id, which lands in the app's DM with them
    # (Slack answers with that DM's channel id, kept for updates and the results CSV).

    async def _post_progress(self, campaign: Campaign) -> None:
        posted = await self.notify.post(
            campaign.user_id, views.progress_message(await self._progress(campaign.id, campaign))
        )
        if posted is not None:
            await self.store.update_job(campaign.id, channel=posted.channel, message_ts=posted.ts)

    async def _refresh(self, job_id: int, force: bool = False) -> None:
        now = monotonic.monotonic()
        if not force and now - self._last_update.get(job_id, 0.0) < self.config.progress_interval:
            return  # Slack allows about one update a second per message
        self._last_update[job_id] = now
        await self.background.turn()  # twenty jobs' chunks finish together
        # One update at a time per message, each reading the store when its turn comes, so the
        # last one Slack gets is the newest state.
        async with self._update_locks.setdefault(job_id, asyncio.Lock()):
            campaign = await self._campaign(job_id)
            if campaign.channel and campaign.message_ts:
                await self.notify.update(
                    campaign.channel,
                    campaign.message_ts,
                    views.progress_message(await self._progress(job_id, campaign)),
                )
