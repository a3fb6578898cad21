"""The durable runner: Start claims the campaign and writes its chunks; a runner task claims
them one by one (marked sending before its request, settled after), paced and inside the
calling window; restarts find what the last process left running."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.grammar import UsageError
from bot.kaleyra import ChunkOutcome, KaleyraAPIError
from bot.models import (
    CONFIRMATION_MINUTES,
    BroadcastPlan,
    BroadcastResult,
    Campaign,
    CampaignCounts,
    ChunkRow,
    StartOutcome,
)
from bot.phones import Phone
from bot.runtime.replica import REPLICA_ID
from bot.services.obd.base import BroadcastsBase
from bot.services.obd.config import (
    OVERLAP_WINDOW,
    SETTLED,
    STORE_RETRIES,
    STORE_RETRY_SECONDS,
    log,
)
from bot.services.obd.sender import Pacer, Sender
from bot.store.db import StoreError, iso
from bot.views import obd as views
from bot.views.common import describe_kaleyra_error


class Running(BroadcastsBase):
    # ------------------------------------------------------------------ starting

    async def start(
        self, job_id: int, user_id: str, *, anyway: bool = False
    ) -> StartOutcome | None:
        """The Start click: re-check expiry, the window and the blacklist, then send; unless
        another broadcast of the last hour calls some of its numbers: then ask first (`anyway`
        is the answer).

        None when there is nothing to do: another user's job, a double click, a job that is gone.
        """
        await self.require_admin(user_id)
        # The plan is read back once, here (a 100 000-number plan is megabytes of JSON).
        campaign = await self.store.get_job(job_id)
        if campaign is None or campaign.user_id != user_id or campaign.state != "pending":
            return None
        created = datetime.fromisoformat(campaign.created_at)
        if self.clock() - created > timedelta(minutes=CONFIRMATION_MINUTES):
            if not await self.store.expire_job(job_id):
                return None
            await self._audit(campaign, "expired", "confirmation expired")
            return StartOutcome(job_id, campaign.kind, started=False)
        plan = await self._recheck(campaign.plan)
        chunks = await asyncio.to_thread(self.chunks_of, plan)
        # One transaction: the claim and every chunk row; the plan is written again only when
        # the re-check changed it (a 100 000-number plan is megabytes).
        changed = plan if plan is not campaign.plan else None
        async with self._starting:  # the overlap check and the claim, one Start at a time
            if plan.kind == "obd" and not anyway:
                since = iso(self.clock() - OVERLAP_WINDOW)
                others = await self.store.overlapping_campaigns(
                    job_id, plan.numbers, plan.group, since
                )
                if others:
                    return StartOutcome(job_id, plan.kind, started=False, overlaps=tuple(others))
            claim = self.store.start_campaign
            if not await claim(job_id, user_id, changed, chunks):
                return None
        self._keep_plan(job_id, plan)
        self._spawn_run(job_id)
        left_out = len(campaign.plan.numbers) - len(plan.numbers)
        return StartOutcome(job_id, plan.kind, started=True, left_out=left_out)

    async def _recheck(self, plan: BroadcastPlan) -> BroadcastPlan:
        """What may have changed since the confirmation: the clock and the blacklist."""
        if plan.kind == "obd":
            try:
                self._check_schedule(plan.at, plan)
            except UsageError as exc:
                raise UsageError(f"{exc} Nothing was sent.") from None
        listed = await self.store.blacklisted(plan.numbers)
        if not listed:
            return plan
        keep = [(n, d) for n, d in zip(plan.numbers, plan.national, strict=True) if n not in listed]
        if not keep:
            raise UsageError(
                "Every number of this job was blacklisted after it was confirmed. Nothing was sent."
            )
        update = {
            "numbers": [n for n, _ in keep],
            "national": [d for _, d in keep],
            "blacklisted": plan.blacklisted + [Phone.known(n).pretty for n in sorted(listed)],
        }
        return self._with_requests(plan.model_copy(update=update))

    async def discard(self, job_id: int, user_id: str) -> bool:
        """Cancel on a confirmation: nothing was sent, nothing will be."""
        return await self.store.cancel_pending(job_id, user_id)

    # ------------------------------------------------------------------ running

    def _spawn_run(self, job_id: int) -> None:
        if job_id not in self._runners:
            self._runners[job_id] = self.background.spawn(
                self._run(job_id), name=f"obd-{job_id}", lasting=True
            )

    async def _renew(self, job_id: int, wait: float = 0.0) -> None:
        """Hold the sender's lease past the coming wait and one more request (a paced
        campaign's replica that dies in a wait is found once the wait and the lease passed)."""
        until = self.clock() + timedelta(seconds=wait) + self.config.sender_lease
        await self.store.renew_senders([job_id], iso(until), REPLICA_ID)

    async def _run(self, job_id: int) -> None:
        """One campaign's sender: holds its lease in the job row while it sends, so the minute
        job (or another replica) can tell a campaign nobody sends from one being sent."""
        lease = iso(self.clock() + self.config.sender_lease)
        if not await self.store.claim_sender(job_id, lease, REPLICA_ID):
            self._runners.pop(job_id, None)  # another sender holds it, or it stopped running
            return
        ended = False
        try:
            await self._send_all(job_id)
            ended = True
        finally:
            self._runners.pop(job_id, None)
            await self._after_run(job_id, ended)

    async def _after_run(self, job_id: int, ended: bool) -> None:
        """Release the lease; a Resume that landed while this sender wound down found it still
        registered and left the sending to it, so start the next sender here. A sender that
        failed (or a process that stops) leaves the next one to the minute job."""
        try:
            await self.store.release_sender(job_id)
            running = ended and await self.store.campaign_state(job_id) == "running"
            if running and await self.store.has_pending_chunks(job_id):
                self._spawn_run(job_id)
            task = asyncio.current_task()
            stopping = task is not None and task.cancelling()
            if not ended and not stopping and self.config.follow_calls:
                # No scheduler to call tick() in a minute: wake ourselves.
                self.background.spawn(self._wake(60.0), name=f"obd-restart-{job_id}", lasting=True)
        except Exception:  # the store is failing: the minute job finds it without a sender
            log.exception("campaign %s: its sender's end was not recorded", job_id)

    async def _send_all(self, job_id: int) -> None:
        posting: asyncio.Task[Any] | None = None
        campaign = await self._campaign(job_id)
        if campaign.message_ts is None:
            # Posted while the first chunks go: Slack's round trip does not hold them up.
            posting = self.background.spawn(
                self._post_progress(campaign), name=f"obd-post-{job_id}"
            )
        plan = campaign.plan
        sender = Sender(self.kaleyra, plan, await self.store.chunk_outline(job_id), self.config)
        pacer = Pacer(plan.calls_per_minute if plan.paced and not plan.at else None)
        if (last := await self.store.last_sent(job_id)) is not None:  # the pace survives restarts
            pacer.took(datetime.fromisoformat(last[0]), last[1])
        for attempt in range(STORE_RETRIES + 1):
            try:
                while await self._dispatch(job_id, plan, sender, pacer):
                    pass
                break
            except StoreError as exc:  # SQLite busy or full: nothing was claimed, wait
                log.warning("campaign %s: the store failed (%s)", job_id, exc)
                if attempt == STORE_RETRIES:
                    raise  # left running with no sender: the minute job starts another
                await self.sleep(STORE_RETRY_SECONDS)
        if posting is not None:
            await posting  # the end is shown on the message, so it must be there first
        await self._end_of_run(job_id)

    async def _dispatch(
        self, job_id: int, plan: BroadcastPlan, sender: Sender, pacer: Pacer
    ) -> bool:
        """Send chunks while the campaign runs, a few at once; return once those sent are back.

        Each of `concurrency` senders takes the next chunk as soon as its last one is settled:
        a freed slot costs no hop through a semaphore and a new task. Chunks are taken one at a
        time (the pacer's waits included), as by a single dispatcher.
        True when there is more to send (it was resumed while the last answers came back).
        """
        taking = asyncio.Lock()
        failed: list[StoreError] = []

        async def send_until_done() -> None:
            while not failed:
                async with taking:
                    try:
                        chunk = await self._next_chunk(job_id, plan, pacer)
                    except StoreError as exc:  # nothing was claimed: stop, _run tries again
                        failed.append(exc)
                        return
                if chunk is None:
                    return
                try:
                    await self._send_chunk(job_id, sender, chunk)
                except Exception:  # its settle failed: left sending, recorded unknown at the end
                    log.exception("chunk %s of campaign %s was not settled", chunk.idx, job_id)

        await asyncio.gather(*(send_until_done() for _ in range(self.config.concurrency)))
        if failed:
            raise failed[0]
        running = await self.store.campaign_state(job_id) == "running"
        return running and await self.store.has_pending_chunks(job_id)

    async def _next_chunk(self, job_id: int, plan: BroadcastPlan, pacer: Pacer) -> ChunkRow | None:
        """The next chunk to send, marked sending; None when the campaign should not send now."""
        while True:
            if await self.store.campaign_state(job_id) != "running":
                return None
            chunk = await self.store.next_chunk(job_id)
            if chunk is None:
                return None
            now = self.clock()
            if plan.kind == "obd" and plan.at is None and not self._in_window(now):
                await self._pause_for_window(job_id, now)
                return None
            wait = pacer.wait(now)
            await self._renew(job_id, wait)
            if wait > 0:
                await self.sleep(wait)
                continue
            if await self.store.claim_chunk(job_id, chunk.idx):
                pacer.took(self.clock(), chunk.size)
                return chunk

    async def _send_chunk(self, job_id: int, sender: Sender, chunk: ChunkRow) -> None:
        try:
            outcome = await sender(chunk)
        except Exception:  # a bug of ours, not Kaleyra: the request may have gone out
            log.exception("chunk %s of campaign %s failed", chunk.idx, job_id)
            outcome = ChunkOutcome(chunk.idx, chunk.numbers, "unknown")
        error = outcome.error
        group_id = getattr(outcome.result, "group_id", None)
        await self.store.settle_chunk(
            job_id,
            chunk.idx,
            SETTLED[outcome.state],
            group_ids=[str(group_id)] if group_id else [],
            code=error.code if isinstance(error, KaleyraAPIError) else None,
            error=describe_kaleyra_error(error)
            if error is not None
            else (None if outcome.state == "accepted" else views.INTERNAL_ERROR),
        )
        # Not awaited: a paced Slack update must not hold up the next chunk or the job's end.
        self.background.spawn(self._refresh(job_id), name=f"obd-progress-{job_id}")

    async def _pause_for_window(self, job_id: int, now: datetime) -> None:
        if not await self.store.move_campaign(
            job_id, "paused", since=("running",), reason="window"
        ):
            return
        await self._audit_job(job_id, "paused", "outside the calling window")
        await self._refresh(job_id, force=True)
        if self.config.follow_calls:  # no scheduler to call tick(): wake ourselves
            wait = (self._next_opening(now) - now).total_seconds()
            self.background.spawn(self._wake(wait), name=f"obd-window-{job_id}", lasting=True)

    async def _wake(self, seconds: float) -> None:
        await self.sleep(seconds)
        await self.tick()

    async def _end_of_run(self, job_id: int) -> None:
        """Sending stopped: finished, paused, interrupted or cancelled. Record it and say so."""
        await self.store.settle_stray_chunks(job_id)
        campaign = await self._campaign(job_id)
        if campaign.state in ("running", "interrupted") and not await self.store.has_pending_chunks(
            job_id
        ):
            await self._finish(campaign)
        elif campaign.state == "cancelled":
            await self.store.update_job(job_id, result=await self._snapshot(campaign))
            self._forget_plan(job_id)
            await self._refresh(job_id, force=True)
        else:
            await self._refresh(job_id, force=True)

    async def _finish(self, campaign: Campaign) -> None:
        plan, job_id = campaign.plan, campaign.id
        result = await self._snapshot(campaign)
        tracking = plan.kind == "obd" and not plan.via_io and bool(result.group_ids)
        state = "tracking" if tracking else "done"
        await self.store.move_campaign(job_id, state, since=("running", "interrupted"))
        # The record first: the Slack update below may wait for the channel's pacing slot.
        await self.store.update_job(job_id, result=result)
        await self._audit_start(campaign, result)
        self._forget_plan(job_id)
        await self._refresh(job_id, force=True)
        if tracking and self.config.follow_calls:
            self.background.spawn(self.track(job_id), name=f"track-obd-{job_id}", lasting=True)
        if plan.kind == "obd" and plan.via_io:
            await self._deliver_results(await self.store.get_job(job_id), [])

    async def _snapshot(self, campaign: Campaign) -> BroadcastResult:
        """The counts when sending ended: what the record (and the digest) keep."""
        outline = await self.store.chunk_outline(campaign.id)
        counts = _counts(outline)
        plan = campaign.plan
        group_ids = [g for c in outline for g in c.group_ids]
        note = None
        if plan.kind == "obd" and counts.of("accepted") and not group_ids and not plan.via_io:
            note = "Kaleyra accepted the job without call ids, so per-number statuses cannot be followed here."
        if plan.at_text:
            note = f"Scheduled for {plan.at_text}."
        old = campaign.result or BroadcastResult()
        return old.model_copy(
            update={
                "total": plan.total,
                "accepted": counts.of("accepted"),
                "rejected": counts.of("refused"),
                "unknown": counts.of("unknown"),
                "group_ids": group_ids,
                "note": note,
            }
        )

    # ------------------------------------------------------------------ restarts and the window

    async def _interrupt(self, job_id: int) -> bool:
        """Running → interrupted (chunks caught sending become unknown, never sent again), and
        its owner gets a DM with the counts and Resume / Cancel. False when it was not running."""
        if not await self.store.interrupt_campaign(job_id):
            return False
        campaign = await self._campaign(job_id)
        counts = await self.store.chunk_counts(job_id)
        await self._audit(
            campaign,
            "interrupted",
            f"accepted {counts.of('accepted')}, unknown {counts.of('unknown')},"
            f" never sent {counts.never_sent}",
        )
        if counts.never_sent == 0:
            await self._end_of_run(job_id)  # everything had gone out: nothing to resume
        else:
            await self._refresh(job_id, force=True)
        await self.notify.post(
            campaign.user_id, views.interrupted_message(await self._progress(job_id))
        )
        return True

    async def reclaim(self) -> int:
        """Every 15 s on the scheduler's leader (and in the minute job): a running campaign whose
        sender's lease ran out is reported to its owner when another replica held it (that
        replica died: nothing is sent blind), and gets a new sender when this one did (its sender
        failed). Returns how many were reported."""
        reported = 0
        for job_id, by in await self.store.senderless_campaigns():
            if job_id in self._runners:
                continue
            if by is not None and by != REPLICA_ID:
                log.warning("campaign %s lost its sender %s: its owner is told", job_id, by)
                reported += int(await self._interrupt(job_id))
            else:
                log.warning("campaign %s was running with no sender: sending again", job_id)
                await self._audit_job(job_id, "restarted", "it was running with no sender")
                self._spawn_run(job_id)
        return reported

    async def recover_interrupted(self) -> int:
        """At start-up (the lifecycle calls this once): campaigns the last process left running
        become interrupted, and each owner gets a DM with the counts and Resume / Cancel.

        Chunks caught sending become unknown and are never sent again.
        """
        interrupted = 0
        if self.config.shared_database:  # only those whose replica is gone
            running = [j for j, by in await self.store.senderless_campaigns() if by != REPLICA_ID]
        else:  # one process on the file: whatever was running was the last process's
            running = await self.store.campaign_ids("running")
        for job_id in running:
            if job_id not in self._runners and await self._interrupt(job_id):
                interrupted += 1
        if self.config.follow_calls:  # no scheduler: follow calls and the window ourselves
            for job_id in await self.store.tracked_campaigns():
                self.background.spawn(self.track(job_id), name=f"track-obd-{job_id}", lasting=True)
            if self.config.calling_hours and await self.store.campaign_ids(
                "paused", reason="window"
            ):
                now = self.clock()
                wait = (
                    0.0 if self._in_window(now) else (self._next_opening(now) - now).total_seconds()
                )
                self.background.spawn(self._wake(wait), name="obd-window", lasting=True)
        return interrupted

    async def tick(self) -> int:
        """The scheduler's job (every minute): campaigns the calling window paused resume once
        it is open again (unless someone cancelled or paused them meanwhile); a running
        campaign nobody is sending (its sender failed, or its lease ran out) gets a sender."""
        await self.reclaim()
        if not self._in_window(self.clock()):
            return 0
        resumed = 0
        for job_id in await self.store.campaign_ids("paused", reason="window"):
            if await self.store.move_campaign(
                job_id, "running", since=("paused",), only_reason="window"
            ):
                resumed += 1
                await self._audit_job(job_id, "resumed", "the calling window opened")
                self._spawn_run(job_id)
                await self._refresh(job_id, force=True)
        return resumed


def _counts(outline: Sequence[ChunkRow]) -> CampaignCounts:
    numbers: Counter[str] = Counter()
    chunks: Counter[str] = Counter()
    for chunk in outline:
        numbers[chunk.state] += chunk.size
        chunks[chunk.state] += 1
    return CampaignCounts(numbers=dict(numbers), chunks=dict(chunks))
