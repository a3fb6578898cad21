"""Broadcasts as durable campaigns: plan, confirm, send chunk by chunk, pause, resume, cancel,
pace, follow the calls, report the results and call the unreached again.

Nothing about a campaign lives only in memory. Its row and one row per Kaleyra request (chunk)
are in the store: a chunk is marked *sending* before its request and settled after it, each in
its own transaction, so after a crash the owner is told what went out and Resume sends only
what never did. What is kept here (runner tasks, the pacing clock, progress throttling, a cache
of plans) is rebuilt from the store by a new process.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import sys
import time as monotonic
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.grammar import UsageError
from bot.grammar.csvnumbers import MAX_BYTES, CsvResult, neutralise, parse_csv
from bot.grammar.obd import DialerUpload, ObdForm, ObdStart, ObdStatus
from bot.kaleyra import ChunkOutcome, KaleyraAPIError, KaleyraClient, KaleyraError
from bot.kaleyra.bulk import (
    DIALER_IMPORT_LIMIT,
    OUTBOUND_TO_LIMIT,
    VOICE_CALL_LIMIT,
    chunked,
    outcome_of,
)
from bot.kaleyra.models import (
    FINAL_STATUSES,
    DialerRow,
    ObdCall,
    ObdJsonCall,
    ObdJsonRequest,
    ObdRequest,
    OutboundRequest,
    OutboundTarget,
)
from bot.models import (
    CONFIRMATION_MINUTES,
    RETRYABLE_STATUSES,
    BroadcastPlan,
    BroadcastResult,
    Campaign,
    CampaignCounts,
    CampaignListing,
    CampaignProgress,
    CampaignResults,
    ChunkRow,
    ControlOutcome,
    NumberOutcome,
    StartOutcome,
)
from bot.phones import InvalidNumber, Phone, parse_number_list, parse_phone
from bot.runtime.background import Background
from bot.services.agents import Agents
from bot.slack.notify import Notifier
from bot.store import Store
from bot.store.db import StoreError, iso
from bot.views import obd as views
from bot.views.common import describe_kaleyra_error

log = logging.getLogger("voicebot.obd")

JSON_CALL_GROUPS = 5  # call groups per voice.json request
Sleep = Callable[[float], Awaitable[Any]]
Fetch = Callable[[dict[str, Any], int], Awaitable[bytes]]  # (Slack file, size limit)
Clock = Callable[[], datetime]
_SETTLED = {"accepted": "accepted", "rejected": "refused", "unknown": "unknown"}
_PLANS_KEPT = 16  # plans of running campaigns kept in memory (a 100 000-number plan is ~3 MB)
STORE_RETRIES, STORE_RETRY_SECONDS = 5, 2.0


@dataclass(frozen=True)
class BroadcastConfig:
    """The settings and tuning Broadcasts reads, as values."""

    timezone: str = "Asia/Kolkata"
    region: str = "IN"
    via_io: bool = False  # KALEYRA_SID set: broadcasts go to kaleyra.io Outbound Calling
    bridge: str | None = None  # KALEYRA_BRIDGE
    calling_hours: tuple[time, time] | None = None  # OBD_CALLING_HOURS
    calls_per_minute: int | None = None  # OBD_CALLS_PER_MINUTE; None = no limit
    concurrency: int = 4  # requests of one campaign in flight at once
    progress_interval: float = 1.0  # at most one progress update a second per message
    follow_calls: bool = True  # no scheduler: the service follows calls and the window itself
    track_every: float = 15.0
    track_for: float = 3 * 3600

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def window_text(self) -> str | None:
        if not self.calling_hours:
            return None
        start, end = self.calling_hours
        return f"{start:%H:%M}-{end:%H:%M} {self.timezone}"


class Broadcasts:
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

    @property
    def via_io(self) -> bool:
        return self.config.via_io

    def require_admin(self, user_id: str) -> None:
        self.agents.require_admin(
            user_id, "start broadcasts or dialer uploads", action="obd", command="obd"
        )

    # ------------------------------------------------------------------ planning

    def propose(self, user_id: str, command: ObdStart | DialerUpload) -> Campaign:
        """Check a typed command and store it as a pending campaign awaiting its Start click."""
        self.require_admin(user_id)
        if isinstance(command, DialerUpload):
            return self._create(user_id, self.plan_dialer(command))
        return self._create(user_id, self.plan(command))

    async def propose_form(self, user_id: str, form: ObdForm) -> Campaign:
        """The form's job, planned off the event loop (a 100 000-row file takes seconds)."""
        self.require_admin(user_id)
        if form.files:
            data = await self._download(form.files[0])
            plan = await asyncio.to_thread(self._plan_upload, data, form)
        elif form.dialer:
            plan = await asyncio.to_thread(
                self.plan_dialer, DialerUpload(form.dialer, form.numbers_text)
            )
        else:
            plan = await asyncio.to_thread(self.plan, form.start())
        return self._create(user_id, plan)

    def again(self, job_id: int, user_id: str) -> Campaign:
        """A new campaign, to confirm like any other, of the numbers a finished one did not reach
        (busy, no answer, failed, congestion, unavailable; the blacklist is checked again)."""
        self.require_admin(user_id)
        campaign = self.store.get_job(job_id)
        unreached = campaign.result.unreached if campaign and campaign.result else []
        if campaign is None or not unreached:
            raise UsageError(f"Broadcast #{job_id} has no unreached number to call again.")
        old = campaign.plan
        start = ObdStart(play=old.play, say=old.say, campaign=old.campaign, retries=old.retries)
        numbers = self._screen([Phone.known(n) for n in unreached], [], [])
        plan = self.plan(start, numbers)
        messages = {n: old.messages[n] for n in plan.numbers if n in old.messages}
        plan = plan.model_copy(update={"again_of": job_id, "messages": messages})
        return self._create(user_id, self._with_requests(plan))

    def _create(self, user_id: str, plan: BroadcastPlan) -> Campaign:
        job_id = self.store.create_job(plan.kind, user_id, plan)
        now = iso(self.clock())
        return Campaign(
            id=job_id,
            kind=plan.kind,
            user_id=user_id,
            state="pending",
            plan=plan,
            created_at=now,
            updated_at=now,
        )

    async def _download(self, file: dict[str, Any]) -> bytes:
        if self.fetch is None:
            raise UsageError("Uploaded files cannot be read here.")
        try:
            return await self.fetch(file, MAX_BYTES)
        except ValueError as exc:  # larger than the limit: the message says so
            raise UsageError(f"I could not read the uploaded file: {exc}.") from None
        except Exception as exc:  # a download that failed: say so, without a stack trace
            raise UsageError(
                f"I could not read the uploaded file ({type(exc).__name__})."
            ) from None

    def _plan_upload(self, data: bytes, form: ObdForm) -> BroadcastPlan:
        foreign = self.via_io and not form.dialer
        result = parse_csv(data, self.config.region, allow_foreign=foreign)
        if form.numbers_text:
            typed = form.numbers_text.replace(",", "\n").encode()
            result = result.merged(parse_csv(typed, self.config.region, allow_foreign=foreign))
        return self.plan_rows(result, form.start(), form.dialer)

    def _numbers(self, text: str, *, allow_foreign: bool) -> dict[str, Any]:
        parsed = parse_number_list(text, self.config.region, allow_foreign=allow_foreign)
        return self._screen(
            parsed.valid, [str(b) for b in parsed.invalid], [str(b) for b in parsed.duplicates]
        )

    def _screen(
        self, phones: Sequence[Phone], invalid: list[str], duplicates: list[str]
    ) -> dict[str, Any]:
        """The numbers to call, without the blacklisted (named, as skipped)."""
        listed = self.store.blacklisted(p.e164 for p in phones)
        keep = [p for p in phones if p.e164 not in listed]
        return {
            "numbers": [p.e164 for p in keep],
            "national": [p.national for p in keep],  # parsed once here, not again at the click
            "invalid": invalid,
            "duplicates": duplicates,
            "blacklisted": [Phone.known(n).pretty for n in sorted(listed)],
        }

    def plan(self, start: ObdStart, numbers: dict[str, Any] | None = None) -> BroadcastPlan:
        if start.group and self.via_io:
            raise UsageError(
                "Contact groups work with the legacy Voice API only; list the numbers instead."
            )
        if self.via_io and not self.config.bridge:
            raise UsageError(
                "KALEYRA_SID is set but KALEYRA_BRIDGE is not: an admin must set the DID to call from."
            )
        if not start.group:
            numbers = numbers or self._numbers(start.numbers_text, allow_foreign=self.via_io)
            if not numbers["numbers"]:
                shown = numbers["invalid"][:5] + numbers["blacklisted"][:5]
                raise UsageError(
                    "No number is left to call: "
                    + "; ".join(shown + numbers["duplicates"][:5])
                    + "."
                )
        plan = BroadcastPlan(
            kind="obd",
            group=start.group,
            play=start.play,
            say=start.say,
            campaign=start.campaign,
            retries=start.retries,
            via_io=self.via_io,
            calls_per_minute=self.config.calls_per_minute,
            api_name="kaleyra.io Outbound Calling" if self.via_io else "the Voice API (voice.call)",
            **(numbers or {}),
        )
        when, at_text = self._check_schedule(start.at, plan)
        return self._with_requests(plan.model_copy(update={"at": when, "at_text": at_text}))

    def plan_dialer(
        self, upload: DialerUpload, numbers: dict[str, Any] | None = None
    ) -> BroadcastPlan:
        numbers = numbers or self._numbers(upload.numbers_text, allow_foreign=False)
        if not numbers["numbers"]:
            raise UsageError(
                "No number is left to upload: "
                + "; ".join(numbers["invalid"][:5] + numbers["blacklisted"][:5])
                + "."
            )
        count = len(numbers["numbers"])
        plan = BroadcastPlan(
            kind="dialer",
            campaign=upload.campaign,
            api_name="autodial.add" if count == 1 else "autodial.import",
            **numbers,
        )
        return self._with_requests(plan)

    def plan_rows(self, result: CsvResult, start: ObdStart, dialer: str | None) -> BroadcastPlan:
        """A plan from an uploaded CSV: every row called, skipped with its reason, or uploaded."""
        numbers = self._screen([r.phone for r in result.rows], result.errors, result.duplicates)
        kept = set(numbers["numbers"])
        keep = [r for r in result.rows if r.phone.e164 in kept]
        if dialer:
            plan = self.plan_dialer(DialerUpload(dialer, ""), numbers)
            return plan.model_copy(update={"fields": {r.phone.e164: r.fields for r in keep}})
        column = next((k for r in keep for k in r.fields if k.lower() == "message"), None)
        messages = {r.phone.e164: r.fields[column] for r in keep if column and r.fields.get(column)}
        if messages and self.via_io:
            raise UsageError(
                "A message per row needs the legacy Voice API (voice.json); KALEYRA_SID routes broadcasts to kaleyra.io."
            )
        if len(messages) < len(keep) and not (start.play or start.say):
            raise UsageError(
                f"{len(keep) - len(messages)} rows have no message: give a sound or a message for them in the form."
            )
        plan = self.plan(start, numbers)
        if not messages:
            return plan
        update = {"messages": messages, "api_name": "the Voice API (voice.json, a message per row)"}
        return self._with_requests(plan.model_copy(update=update))

    def _with_requests(self, plan: BroadcastPlan) -> BroadcastPlan:
        return plan.model_copy(update={"requests": len(self.chunks_of(plan))})

    def _check_schedule(
        self, at: datetime | None, plan: BroadcastPlan
    ) -> tuple[datetime | None, str | None]:
        tz = self.config.tz
        now = self.clock().astimezone(tz)
        when = (at if at.tzinfo else at.replace(tzinfo=tz)).astimezone(tz) if at else None
        if when is not None:
            if when < now + timedelta(minutes=15):
                raise UsageError(
                    f"The time {when:%Y-%m-%d %H:%M} must be at least 15 minutes from now ({now:%Y-%m-%d %H:%M} {self.config.timezone})."
                )
            limit = timedelta(days=90) if self.via_io else timedelta(days=61)
            if when > now + limit:
                raise UsageError(
                    f"The time {when:%Y-%m-%d %H:%M} is too far ahead: at most {'90 days' if self.via_io else '2 months'}."
                )
        moment = when or now
        if not self._in_window(moment):
            raise UsageError(self._outside_window(moment, now, scheduled=when is not None))
        minutes = plan.estimated_minutes
        window = self.config.calling_hours
        if when is not None and minutes and window:
            end = when + timedelta(minutes=minutes)
            if end.date() != when.date() or end.time() > window[1]:
                raise UsageError(
                    f"At {plan.calls_per_minute} calls a minute the {plan.total} numbers take "
                    f"{views.duration(minutes)}, so starting at {when:%H:%M} they would ring past "
                    f"{window[1]:%H:%M} {self.config.timezone}. Start earlier or send fewer numbers."
                )
        return when, (f"{when:%Y-%m-%d %H:%M} {self.config.timezone}" if when else None)

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

    # ------------------------------------------------------------------ chunks

    def chunks_of(self, plan: BroadcastPlan) -> list[tuple[list[str], int]]:
        """(numbers, size) of every request, in sending order: filled in order, remainder last.

        With OBD_CALLS_PER_MINUTE below a request's limit, a request holds at most a minute's
        numbers, so no minute sends more than the rate.
        """
        if plan.group:
            return [([], 1)]
        if plan.kind == "dialer":
            size = 1 if len(plan.numbers) == 1 else DIALER_IMPORT_LIMIT
            return [(part, len(part)) for part in chunked(plan.numbers, size)]
        cap = plan.calls_per_minute if plan.paced else None
        if plan.messages:
            parts = _json_parts(plan, cap)
        else:
            limit = OUTBOUND_TO_LIMIT if plan.via_io else VOICE_CALL_LIMIT
            parts = chunked(plan.numbers, min(limit, cap or limit))
        return [(part, len(part)) for part in parts]

    # ------------------------------------------------------------------ starting

    async def start(self, job_id: int, user_id: str) -> StartOutcome | None:
        """The Start click: re-check expiry, the window and the blacklist, then send.

        None when there is nothing to do: another user's job, a double click, a job that is gone.
        """
        self.require_admin(user_id)
        # Off the loop: reading a 100 000-number plan back takes a fifth of a second.
        campaign = await asyncio.to_thread(self.store.get_job, job_id)
        if campaign is None or campaign.user_id != user_id or campaign.state != "pending":
            return None
        created = datetime.fromisoformat(campaign.created_at)
        if self.clock() - created > timedelta(minutes=CONFIRMATION_MINUTES):
            if not self.store.expire_job(job_id):
                return None
            self._audit(campaign, "expired", "confirmation expired")
            return StartOutcome(job_id, campaign.kind, started=False)
        plan = await asyncio.to_thread(self._recheck, campaign.plan)
        chunks = await asyncio.to_thread(self.chunks_of, plan)
        # One transaction: the claim and every chunk row; the plan is written again only when
        # the re-check changed it (a 100 000-number plan is megabytes).
        changed = plan if plan is not campaign.plan else None
        if not await asyncio.to_thread(self.store.start_campaign, job_id, user_id, changed, chunks):
            return None
        self._keep_plan(job_id, plan)
        self._spawn_run(job_id)
        left_out = len(campaign.plan.numbers) - len(plan.numbers)
        return StartOutcome(job_id, plan.kind, started=True, left_out=left_out)

    def _recheck(self, plan: BroadcastPlan) -> BroadcastPlan:
        """What may have changed since the confirmation: the clock and the blacklist."""
        if plan.kind == "obd":
            try:
                self._check_schedule(plan.at, plan)
            except UsageError as exc:
                raise UsageError(f"{exc} Nothing was sent.") from None
        listed = self.store.blacklisted(plan.numbers)
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

    def discard(self, job_id: int, user_id: str) -> bool:
        """Cancel on a confirmation: nothing was sent, nothing will be."""
        return self.store.cancel_pending(job_id, user_id)

    # ------------------------------------------------------------------ running

    def _spawn_run(self, job_id: int) -> None:
        if job_id not in self._runners:
            self._runners[job_id] = self.background.spawn(self._run(job_id), name=f"obd-{job_id}")

    async def _run(self, job_id: int) -> None:
        posting: asyncio.Task[Any] | None = None
        try:
            campaign = self._campaign(job_id)
            if campaign.message_ts is None:
                # Posted while the first chunks go: Slack's round trip does not hold them up.
                posting = self.background.spawn(
                    self._post_progress(campaign), name=f"obd-post-{job_id}"
                )
            plan = campaign.plan
            sender = _Sender(self.kaleyra, plan, self.store.chunk_outline(job_id), self.config)
            pacer = _Pacer(plan.calls_per_minute if plan.paced and not plan.at else None)
            for attempt in range(STORE_RETRIES + 1):
                try:
                    while await self._dispatch(job_id, plan, sender, pacer):
                        pass
                    break
                except StoreError as exc:  # SQLite busy or full: nothing was claimed, wait
                    log.warning("campaign %s: the store failed (%s)", job_id, exc)
                    if attempt == STORE_RETRIES:
                        raise  # left running: the next start reports it as interrupted
                    await self.sleep(STORE_RETRY_SECONDS)
            if posting is not None:
                await posting  # the end is shown on the message, so it must be there first
            await self._end_of_run(job_id)
        finally:
            self._runners.pop(job_id, None)

    async def _dispatch(
        self, job_id: int, plan: BroadcastPlan, sender: _Sender, pacer: _Pacer
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
        running = self.store.campaign_state(job_id) == "running"
        return running and self.store.has_pending_chunks(job_id)

    async def _next_chunk(self, job_id: int, plan: BroadcastPlan, pacer: _Pacer) -> ChunkRow | None:
        """The next chunk to send, marked sending; None when the campaign should not send now."""
        while True:
            if self.store.campaign_state(job_id) != "running":
                return None
            chunk = self.store.next_chunk(job_id)
            if chunk is None:
                return None
            now = self.clock()
            if plan.kind == "obd" and plan.at is None and not self._in_window(now):
                await self._pause_for_window(job_id, now)
                return None
            wait = pacer.wait(now)
            if wait > 0:
                await self.sleep(wait)
                continue
            if self.store.claim_chunk(job_id, chunk.idx):
                pacer.took(self.clock(), chunk.size)
                return chunk

    async def _send_chunk(self, job_id: int, sender: _Sender, chunk: ChunkRow) -> None:
        try:
            outcome = await sender(chunk)
        except Exception:  # a bug of ours, not Kaleyra: the request may have gone out
            log.exception("chunk %s of campaign %s failed", chunk.idx, job_id)
            outcome = ChunkOutcome(chunk.idx, chunk.numbers, "unknown")
        error = outcome.error
        group_id = getattr(outcome.result, "group_id", None)
        self.store.settle_chunk(
            job_id,
            chunk.idx,
            _SETTLED[outcome.state],
            group_ids=[str(group_id)] if group_id else [],
            code=error.code if isinstance(error, KaleyraAPIError) else None,
            error=describe_kaleyra_error(error)
            if error is not None
            else (None if outcome.state == "accepted" else views.INTERNAL_ERROR),
        )
        # Not awaited: a paced Slack update must not hold up the next chunk or the job's end.
        self.background.spawn(self._refresh(job_id), name=f"obd-progress-{job_id}")

    async def _pause_for_window(self, job_id: int, now: datetime) -> None:
        if not self.store.move_campaign(job_id, "paused", since=("running",), reason="window"):
            return
        self._audit_job(job_id, "paused", "outside the calling window")
        await self._refresh(job_id, force=True)
        if self.config.follow_calls:  # no scheduler to call tick(): wake ourselves
            wait = (self._next_opening(now) - now).total_seconds()
            self.background.spawn(self._wake(wait), name=f"obd-window-{job_id}")

    async def _wake(self, seconds: float) -> None:
        await self.sleep(seconds)
        await self.tick()

    async def _end_of_run(self, job_id: int) -> None:
        """Sending stopped: finished, paused, interrupted or cancelled. Record it and say so."""
        self.store.settle_stray_chunks(job_id)
        campaign = self._campaign(job_id)
        if campaign.state in ("running", "interrupted") and not self.store.has_pending_chunks(
            job_id
        ):
            await self._finish(campaign)
        elif campaign.state == "cancelled":
            self.store.update_job(job_id, result=self._snapshot(campaign))
            self._forget_plan(job_id)
            await self._refresh(job_id, force=True)
        else:
            await self._refresh(job_id, force=True)

    async def _finish(self, campaign: Campaign) -> None:
        plan, job_id = campaign.plan, campaign.id
        result = self._snapshot(campaign)
        tracking = plan.kind == "obd" and not plan.via_io and bool(result.group_ids)
        state = "tracking" if tracking else "done"
        self.store.move_campaign(job_id, state, since=("running", "interrupted"))
        # The record first: the Slack update below may wait for the channel's pacing slot.
        self.store.update_job(job_id, result=result)
        self._audit_start(campaign, result)
        self._forget_plan(job_id)
        await self._refresh(job_id, force=True)
        if tracking and self.config.follow_calls:
            self.background.spawn(self.track(job_id), name=f"track-obd-{job_id}")
        if plan.kind == "obd" and plan.via_io:
            await self._deliver_results(self.store.get_job(job_id), [])

    def _snapshot(self, campaign: Campaign) -> BroadcastResult:
        """The counts when sending ended: what the record (and the digest) keep."""
        outline = self.store.chunk_outline(campaign.id)
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

    # ------------------------------------------------------------------ pause, resume, cancel

    async def control(
        self, job_id: int, user_id: str, verb: Literal["pause", "resume", "cancel"]
    ) -> ControlOutcome:
        """Pause, Resume or Cancel a campaign: its owner, or an admin. Acts on unsent chunks."""
        campaign = self.store.get_job(job_id)
        if campaign is None or campaign.state in ("pending", "expired"):
            raise UsageError(f"There is no started broadcast #{job_id}.")
        if user_id != campaign.user_id:
            self.agents.require_admin(
                user_id,
                "pause, resume or cancel someone else's broadcast",
                action="obd",
                command="obd",
            )
        if verb == "pause":
            outcome = self._pause(campaign, user_id)
        elif verb == "resume":
            outcome = self._resume(campaign, user_id)
        else:
            outcome = await self._cancel(campaign, user_id)
        if outcome.changed:
            await self._refresh(job_id, force=True)
        return outcome

    def _pause(self, campaign: Campaign, user_id: str) -> ControlOutcome:
        job_id = campaign.id
        changed = self.store.move_campaign(
            job_id, "paused", since=("running", "interrupted"), reason="user", by=user_id
        ) or self.store.move_campaign(
            job_id, "paused", since=("paused",), reason="user", by=user_id, only_reason="window"
        )
        if changed:
            self._audit(campaign, "pause", "paused", actor=user_id)
        return ControlOutcome(job_id, "pause", changed, self.store.campaign_state(job_id) or "")

    def _resume(self, campaign: Campaign, user_id: str) -> ControlOutcome:
        job_id, now = campaign.id, self.clock()
        plan = campaign.plan
        if plan.kind == "obd" and plan.at is None and not self._in_window(now):
            changed = self.store.move_campaign(
                job_id, "paused", since=("paused", "interrupted"), reason="window"
            )
            opening = f"{self._next_opening(now):%Y-%m-%d %H:%M}"
            if changed and self.config.follow_calls:
                wait = (self._next_opening(now) - now).total_seconds()
                self.background.spawn(self._wake(wait), name=f"obd-window-{job_id}")
            return ControlOutcome(job_id, "resume", changed, "paused", resumes_at=opening)
        changed = self.store.move_campaign(job_id, "running", since=("paused", "interrupted"))
        if changed:
            self._audit(campaign, "resume", "resumed", actor=user_id)
            self._spawn_run(job_id)
        return ControlOutcome(job_id, "resume", changed, self.store.campaign_state(job_id) or "")

    async def _cancel(self, campaign: Campaign, user_id: str) -> ControlOutcome:
        job_id = campaign.id
        not_called = self.store.cancel_campaign(job_id)
        if not_called is None:
            return ControlOutcome(job_id, "cancel", False, campaign.state)
        self._audit(campaign, "cancel", f"cancelled, {not_called} not called", actor=user_id)
        if job_id not in self._runners:  # nothing running will record the end: do it here
            await self._end_of_run(job_id)
        return ControlOutcome(job_id, "cancel", True, "cancelled", not_called=not_called)

    # ------------------------------------------------------------------ restarts and the window

    async def recover_interrupted(self) -> int:
        """At start-up (the lifecycle calls this once): campaigns the last process left running
        become interrupted, and each owner gets a DM with the counts and Resume / Cancel.

        Chunks caught sending become unknown and are never sent again.
        """
        interrupted = 0
        for job_id in self.store.campaign_ids("running"):
            if job_id in self._runners or not self.store.interrupt_campaign(job_id):
                continue
            interrupted += 1
            campaign = self._campaign(job_id)
            counts = self.store.chunk_counts(job_id)
            self._audit(
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
                campaign.user_id, views.interrupted_message(self._progress(job_id))
            )
        if self.config.follow_calls:  # no scheduler: follow calls and the window ourselves
            for job_id in self.store.tracked_campaigns():
                self.background.spawn(self.track(job_id), name=f"track-obd-{job_id}")
            if self.config.calling_hours and self.store.campaign_ids("paused", reason="window"):
                now = self.clock()
                wait = (
                    0.0 if self._in_window(now) else (self._next_opening(now) - now).total_seconds()
                )
                self.background.spawn(self._wake(wait), name="obd-window")
        return interrupted

    async def tick(self) -> int:
        """The scheduler's job (every minute): campaigns the calling window paused resume once
        it is open again (unless someone cancelled or paused them meanwhile)."""
        if not self._in_window(self.clock()):
            return 0
        resumed = 0
        for job_id in self.store.campaign_ids("paused", reason="window"):
            if self.store.move_campaign(job_id, "running", since=("paused",), only_reason="window"):
                resumed += 1
                self._audit_job(job_id, "resumed", "the calling window opened")
                self._spawn_run(job_id)
                await self._refresh(job_id, force=True)
        return resumed

    # ------------------------------------------------------------------ reading

    async def status(self, query: ObdStatus) -> CampaignProgress | tuple[str, list[ObdCall]]:
        """`/obd status`: one of our campaigns (`#12`, or short digits that name one), else a
        Kaleyra group or call."""
        job_id = query.maybe_campaign
        if job_id is not None:
            state = self.store.campaign_state(job_id)
            if state is not None and state not in ("pending", "expired"):
                return self._progress(job_id)
            if query.campaign is not None:
                raise UsageError(
                    f"There is no started broadcast #{job_id}. `/obd list` shows the recent ones."
                )
        if query.is_group:
            return query.ident, await self.kaleyra.obd_group_status(query.ident)
        return query.ident, await self.kaleyra.obd_status(query.ident)

    def recent(self, limit: int = 10) -> list[CampaignListing]:
        return self.store.recent_campaigns(limit)

    def _campaign(self, job_id: int) -> Campaign:
        """The campaign row, its plan read once while it runs (plans do not change after Start)."""
        plan = self._plans.get(job_id)
        campaign = self.store.get_job(job_id, plan=plan)
        assert campaign is not None
        if plan is None and campaign.state in ("running", "paused", "interrupted"):
            self._keep_plan(job_id, campaign.plan)
        return campaign

    def _keep_plan(self, job_id: int, plan: BroadcastPlan) -> None:
        while len(self._plans) >= _PLANS_KEPT:
            self._plans.pop(next(iter(self._plans)))
        self._plans[job_id] = plan

    def _forget_plan(self, job_id: int) -> None:
        self._plans.pop(job_id, None)

    def _progress(self, job_id: int, campaign: Campaign | None = None) -> CampaignProgress:
        campaign = campaign or self._campaign(job_id)
        # Read once a second while sending: counts, errors and group ids, no model per chunk.
        counts, errors, group_ids = self.store.chunk_summary(job_id)
        by_window = campaign.state == "paused" and campaign.pause_reason == "window"
        return CampaignProgress(
            campaign=campaign,
            counts=counts,
            errors=tuple(f"Request {idx + 1}: {error}" for idx, error in errors),
            group_ids=tuple(group_ids),
            window=self.config.window_text if by_window else None,
            resumes_at=f"{self._next_opening(self.clock()):%Y-%m-%d %H:%M}" if by_window else None,
        )

    # ------------------------------------------------------------------ the progress message

    # Messages to the owner are posted to their user id, which lands in the app's DM with them
    # (Slack answers with that DM's channel id, kept for updates and the results CSV).

    async def _post_progress(self, campaign: Campaign) -> None:
        posted = await self.notify.post(
            campaign.user_id, views.progress_message(self._progress(campaign.id, campaign))
        )
        if posted is not None:
            self.store.update_job(campaign.id, channel=posted.channel, message_ts=posted.ts)

    async def _refresh(self, job_id: int, force: bool = False) -> None:
        now = monotonic.monotonic()
        if not force and now - self._last_update.get(job_id, 0.0) < self.config.progress_interval:
            return  # Slack allows about one update a second per message
        self._last_update[job_id] = now
        await self.background.turn()  # twenty jobs' chunks finish together
        # One update at a time per message, each reading the store when its turn comes, so the
        # last one Slack gets is the newest state.
        async with self._update_locks.setdefault(job_id, asyncio.Lock()):
            campaign = self._campaign(job_id)
            if campaign.channel and campaign.message_ts:
                await self.notify.update(
                    campaign.channel,
                    campaign.message_ts,
                    views.progress_message(self._progress(job_id, campaign)),
                )

    # ------------------------------------------------------------------ following the calls

    async def poll_once(self, job_id: int) -> bool:
        """Read voice.groupstatus for every group of the campaign; True once every call is final
        (then the owner gets the summary and the CSV)."""
        campaign = self.store.get_job(job_id)
        if campaign is None or campaign.state not in ("tracking", "cancelled"):
            return True
        if campaign.results_at is not None:
            return True
        if campaign.plan.at is not None and self.clock() < campaign.plan.at:
            return False  # scheduled: nothing rings yet
        chunks = self.store.chunk_outline(job_id)  # group ids are enough: not 100 000 numbers
        try:
            calls = await self._read_calls(chunks)
        except KaleyraError as exc:
            log.warning("status of campaign %s not read: %s", job_id, exc)
            return False
        counts = Counter((call.status or "UNKNOWN").upper() for _, call in calls)
        final = bool(counts) and all(status in FINAL_STATUSES for status in counts)
        result = (campaign.result or BroadcastResult()).model_copy(
            update={"statuses": dict(counts)}
        )
        if final:
            result = result.model_copy(update={"unreached": self._unreached(campaign, calls)})
        self.store.update_job(job_id, result=result)
        await self._refresh(job_id, force=True)
        if final:
            await self._deliver_results(campaign.model_copy(update={"result": result}), calls)
        return final

    async def _read_calls(self, chunks: list[ChunkRow]) -> list[tuple[ChunkRow, _Call]]:
        gate = asyncio.Semaphore(self.config.concurrency)

        async def read(chunk: ChunkRow, group_id: str) -> list[tuple[ChunkRow, _Call]]:
            async with gate:
                calls = await self.kaleyra.obd_group_status(group_id)
            return [(chunk, _Call.of(c)) for c in calls]  # a tenth of the model's memory

        reads = [read(c, g) for c in chunks if c.state == "accepted" for g in c.group_ids]
        return [pair for rows in await asyncio.gather(*reads) for pair in rows]

    def _unreached(self, campaign: Campaign, calls: list[tuple[ChunkRow, _Call]]) -> list[str]:
        numbers = _by_national(campaign.plan)
        found = (
            self._e164(numbers, call.mobile)
            for _, call in calls
            if (call.status or "").upper() in RETRYABLE_STATUSES
        )
        return list(dict.fromkeys(n for n in found if n.startswith("+")))

    def _e164(self, numbers: dict[str, str], mobile: str | None) -> str:
        if not mobile:
            return ""
        if mobile in numbers:
            return numbers[mobile]
        try:
            return parse_phone(mobile, self.config.region, allow_foreign=True).e164
        except InvalidNumber:
            return mobile

    async def poll_tracking(self) -> None:
        """The scheduler's job: follow every campaign whose calls are still in progress."""
        for job_id in self.store.tracked_campaigns():
            await self.poll_once(job_id)

    async def track(self, job_id: int) -> None:
        """Without a scheduler: follow one campaign's calls until they are final."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.track_for
        while loop.time() < deadline:
            await self.sleep(self.config.track_every)
            if await self.poll_once(job_id):
                return

    async def _deliver_results(
        self, campaign: Campaign | None, calls: list[tuple[ChunkRow, _Call]]
    ) -> bool:
        """The owner's summary by outcome and the CSV of every number; once."""
        if campaign is None or campaign.results_at is not None:
            return False
        chunks = await asyncio.to_thread(self.store.chunks, campaign.id)
        # One pass, row by row: the CSV and the counts, with no list of 100 000 rows.
        outcomes: Counter[str] = Counter()
        rows = self._outcome_rows(campaign, chunks, calls)
        content = await asyncio.to_thread(results_csv, rows, outcomes)
        summary = CampaignResults(
            campaign=campaign,
            outcomes=dict(outcomes),
            unreached=len(campaign.result.unreached) if campaign.result else 0,
            status_api=not campaign.plan.via_io,
        )
        posted = await self.notify.post(campaign.user_id, views.results_message(summary))
        if posted is None:
            return False  # tried again at the next poll
        self.store.update_job(
            campaign.id,
            state="done" if campaign.state == "tracking" else None,
            results_at=iso(self.clock()),
        )
        await self.notify.upload(
            posted.channel,
            filename=f"broadcast-{campaign.id}-results.csv",
            content=content,
            title=f"Broadcast #{campaign.id} results",
            comment=f"Every number of broadcast #{campaign.id} and its outcome.",
        )
        return True

    def _outcome_rows(
        self,
        campaign: Campaign,
        chunks: list[ChunkRow],
        calls: list[tuple[ChunkRow, _Call]],
    ) -> Iterator[NumberOutcome]:
        """Every number of the campaign with what came of it, in sending order, one at a time."""
        numbers = _by_national(campaign.plan)
        reported: dict[int, list[_Call]] = {}
        for chunk, call in calls:
            reported.setdefault(chunk.idx, []).append(call)
        for chunk in chunks:
            listed: set[str] = set()
            for call in reported.get(chunk.idx, []):
                row = NumberOutcome(
                    number=self._e164(numbers, call.mobile),
                    outcome=(call.status or "UNKNOWN").upper(),
                    call_id=call.id,
                    sent_at=call.senttime or _local(chunk.sent_at, self.config.tz),
                    chunk=chunk.idx + 1,
                )
                listed.add(row.number)
                yield row
            outcome = _chunk_outcome(chunk)
            sent_at = _local(chunk.sent_at, self.config.tz)
            for n in chunk.numbers:
                if n not in listed:
                    yield NumberOutcome(
                        n, outcome, "", sent_at, chunk.idx + 1 if chunk.sent_at else 0
                    )

    # ------------------------------------------------------------------ the audit trail

    def _audit_start(self, campaign: Campaign, result: BroadcastResult) -> None:
        codes = [c.code for c in self.store.chunk_outline(campaign.id) if c.code]
        self.store.audit(
            user_id=campaign.user_id,
            action=f"{campaign.kind}.start",
            outcome=f"accepted {result.accepted}, rejected {result.rejected}, unknown {result.unknown}",
            numbers=campaign.plan.numbers[:50],
            kaleyra_ids=result.group_ids,
            detail={"job": campaign.id, "codes": codes, "total": result.total},
        )

    def _audit(
        self, campaign: Campaign, what: str, outcome: str, *, actor: str | None = None
    ) -> None:
        self.store.audit(
            user_id=actor or campaign.user_id,
            action=f"{campaign.kind}.{what}",
            outcome=outcome,
            detail={"job": campaign.id, "owner": campaign.user_id},
        )

    def _audit_job(self, job_id: int, what: str, outcome: str) -> None:
        self._audit(self._campaign(job_id), what, outcome)


# ---------------------------------------------------------------------- sending one chunk


@dataclass(frozen=True, slots=True)
class _Call:
    """What the results need of a call Kaleyra reported: 100 000 of them are kept at once."""

    id: str
    mobile: str | None
    status: str | None
    senttime: str | None

    @classmethod
    def of(cls, call: ObdCall) -> _Call:
        status = sys.intern(call.status) if call.status else None  # a dozen distinct values
        return cls(call.id, call.mobile, status, call.senttime)


class _Pacer:
    """Spaces chunk starts so that at most `per_minute` numbers go out in any minute."""

    def __init__(self, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self.next_at: datetime | None = None

    def wait(self, now: datetime) -> float:
        if self.per_minute is None or self.next_at is None:
            return 0.0
        return max(0.0, (self.next_at - now).total_seconds())

    def took(self, now: datetime, size: int) -> None:
        if self.per_minute is not None:
            self.next_at = now + timedelta(seconds=size * 60 / self.per_minute)


class _Sender:
    """Turns one chunk of a plan into its Kaleyra request and returns the chunk's outcome."""

    def __init__(
        self,
        kaleyra: KaleyraClient,
        plan: BroadcastPlan,
        chunks: list[ChunkRow],
        config: BroadcastConfig,
    ) -> None:
        self.kaleyra, self.plan, self.bridge = kaleyra, plan, config.bridge
        self.national = dict(zip(plan.numbers, plan.national, strict=False))
        # A scheduled, paced campaign is spread by its schedule times instead of by waiting.
        self.offsets: dict[int, float] = {}
        if plan.at is not None and plan.paced and plan.calls_per_minute:
            before = 0
            for chunk in chunks:
                self.offsets[chunk.idx] = before * 60 / plan.calls_per_minute
                before += chunk.size

    async def __call__(self, chunk: ChunkRow) -> ChunkOutcome:
        try:
            return await self._send(chunk)
        except KaleyraError as exc:
            return outcome_of(chunk.idx, chunk.numbers, exc)

    def _when(self, chunk: ChunkRow) -> datetime | None:
        if self.plan.at is None:
            return None
        return self.plan.at + timedelta(seconds=self.offsets.get(chunk.idx, 0.0))

    async def _send(self, chunk: ChunkRow) -> ChunkOutcome:
        plan, numbers = self.plan, chunk.numbers
        if plan.kind == "dialer":
            return await self._dialer(chunk)
        when = self._when(chunk)
        if plan.messages:
            answer = await self.kaleyra.obd_json(self._json_request(numbers, when))
            return ChunkOutcome(chunk.idx, numbers, "accepted", result=answer)
        if plan.via_io:
            target = OutboundTarget.for_text(plan.say) if plan.say else _io_target(plan.play or "")
            request = OutboundRequest(
                to=numbers,
                target=[target],
                bridge=self.bridge,
                time=when,
                retry=plan.retries,
                custom=plan.campaign,
            )
            return _only((await self.kaleyra.outbound(request)).chunks, chunk)
        legacy = ObdRequest(
            numbers=[self.national[n] for n in numbers],
            group=plan.group,
            play=plan.play,
            message=plan.say,
            retries=plan.retries,
            campaign=plan.campaign,
            scheduletime=when.replace(tzinfo=None) if when else None,
        )
        return _only((await self.kaleyra.obd_call(legacy)).chunks, chunk)

    async def _dialer(self, chunk: ChunkRow) -> ChunkOutcome:
        plan, numbers = self.plan, chunk.numbers
        assert plan.campaign is not None
        if len(plan.numbers) == 1:
            answer = await self.kaleyra.dialer_add(plan.campaign, self.national[numbers[0]])
            return ChunkOutcome(chunk.idx, numbers, "accepted", result=answer)
        rows = [
            DialerRow.model_validate({**plan.fields.get(n, {}), "number": self.national[n]})
            for n in numbers
        ]
        return _only((await self.kaleyra.dialer_import(plan.campaign, rows)).chunks, chunk)

    def _json_request(self, numbers: list[str], when: datetime | None) -> ObdJsonRequest:
        """The chunk's numbers grouped by message again, as when it was planned."""
        plan = self.plan
        cap = plan.calls_per_minute if plan.paced else None
        by_message: dict[str | None, list[str]] = {}
        for number in numbers:
            by_message.setdefault(plan.messages.get(number), []).append(self.national[number])
        calls = [
            ObdJsonCall(
                to=",".join(part),
                message=message or plan.say,
                play=None if message else plan.play,
            )
            for message, group in by_message.items()
            for part in chunked(group, min(VOICE_CALL_LIMIT, cap or VOICE_CALL_LIMIT))
        ]
        return ObdJsonRequest(
            call=calls,
            campaign=plan.campaign,
            retries=plan.retries,
            scheduletime=when.strftime("%Y-%m-%d %H:%M:%S") if when else None,
        )


def _only(outcomes: list[ChunkOutcome], chunk: ChunkRow) -> ChunkOutcome:
    """The client's one outcome for a request of one chunk, numbered as ours."""
    [outcome] = outcomes
    return ChunkOutcome(chunk.idx, chunk.numbers, outcome.state, outcome.result, outcome.error)


def _json_parts(plan: BroadcastPlan, cap: int | None) -> list[list[str]]:
    """voice.json requests: numbers grouped by message, 200 to a call group, five call groups
    (and at most `cap` numbers, when paced) to a request."""
    by_message: dict[str | None, list[str]] = {}
    for number in plan.numbers:
        by_message.setdefault(plan.messages.get(number), []).append(number)
    size = min(VOICE_CALL_LIMIT, cap or VOICE_CALL_LIMIT)
    groups = [part for numbers in by_message.values() for part in chunked(numbers, size)]
    requests: list[list[str]] = []
    current: list[str] = []
    count = 0
    for group in groups:
        if current and (count == JSON_CALL_GROUPS or (cap and len(current) + len(group) > cap)):
            requests.append(current)
            current, count = [], 0
        current.extend(group)
        count += 1
    if current:
        requests.append(current)
    return requests


def _io_target(play: str) -> OutboundTarget:
    if play.endswith(".sound"):
        return OutboundTarget.for_sounds(int(play.removesuffix(".sound")))
    return OutboundTarget.for_ivr(play.removeprefix("ivr:").removesuffix(".ivr"))


def _counts(outline: Sequence[ChunkRow]) -> CampaignCounts:
    numbers: Counter[str] = Counter()
    chunks: Counter[str] = Counter()
    for chunk in outline:
        numbers[chunk.state] += chunk.size
        chunks[chunk.state] += 1
    return CampaignCounts(numbers=dict(numbers), chunks=dict(chunks))


def _by_national(plan: BroadcastPlan) -> dict[str, str]:
    return dict(zip(plan.national, plan.numbers, strict=False))


def _chunk_outcome(chunk: ChunkRow) -> str:
    """What a number of this chunk came to when Kaleyra reported no call for it."""
    if chunk.state == "accepted":
        return "NOT_REPORTED" if chunk.group_ids else "SUBMITTED"
    return {"refused": "REFUSED", "unknown": "UNKNOWN"}.get(chunk.state, "NOT_SENT")


def _local(moment: str | None, tz: ZoneInfo) -> str:
    return f"{datetime.fromisoformat(moment).astimezone(tz):%Y-%m-%d %H:%M:%S}" if moment else ""


def results_csv(rows: Iterable[NumberOutcome], counts: Counter[str] | None = None) -> str:
    """number, outcome, call id, sent at, chunk: one line per number; Kaleyra's text defused.

    `counts`, when given, counts the rows by outcome on the way."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", "outcome", "call id", "sent at", "chunk"])
    for row in rows:
        if counts is not None:
            counts[row.outcome] += 1
        writer.writerow(
            [
                neutralise(row.number),
                neutralise(views.outcome_words(row.outcome)),
                neutralise(row.call_id),
                neutralise(row.sent_at),
                row.chunk or "",
            ]
        )
    return out.getvalue()
