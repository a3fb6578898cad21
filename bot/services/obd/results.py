"""Following a campaign's calls to their final status and reporting the results: the owner's
summary by outcome and the CSV of every number."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.grammar import UsageError
from bot.grammar.csvnumbers import neutralise
from bot.kaleyra import KaleyraError
from bot.kaleyra.models import (
    FINAL_STATUSES,
    ObdCall,
)
from bot.models import (
    RETRYABLE_STATUSES,
    BroadcastPlan,
    BroadcastResult,
    Campaign,
    CampaignResults,
    ChunkRow,
    NumberOutcome,
)
from bot.phones import InvalidNumber, parse_phone
from bot.services.obd.base import BroadcastsBase
from bot.services.obd.config import log
from bot.store.db import iso
from bot.views import obd as views
from bot.views.obd import NO_FINAL


class Results(BroadcastsBase):
    # ------------------------------------------------------------------ following the calls

    async def poll_once(self, job_id: int) -> bool:
        """Read voice.groupstatus for every group of the campaign; True once every call is final
        (then the owner gets the summary and the CSV).

        Bounded: `track_for` (3 hours) after its last request (or its scheduled time), the calls
        Kaleyra still reports no final status for are reported as such, and the results go out.
        """
        campaign = await self.store.get_job(job_id)
        if campaign is None or campaign.state not in ("tracking", "cancelled"):
            return True
        if campaign.results_at is not None:
            return True
        if campaign.plan.at is not None and self.clock() < campaign.plan.at:
            return False  # scheduled: nothing rings yet
        overdue = await self._tracking_over(campaign)
        chunks = await self.store.chunk_outline(job_id)  # group ids are enough: not 100 000 numbers
        try:
            calls = await self._read_calls(chunks)
        except KaleyraError as exc:
            log.warning("status of campaign %s not read: %s", job_id, exc)
            if not overdue:
                return False
            calls = []  # their numbers are reported as not reported by Kaleyra
        if overdue:
            calls = [(chunk, call.settled()) for chunk, call in calls]
        counts = Counter((call.status or "UNKNOWN").upper() for _, call in calls)
        final = overdue or (bool(counts) and all(status in FINAL_STATUSES for status in counts))
        result = (campaign.result or BroadcastResult()).model_copy(
            update={"statuses": dict(counts)}
        )
        if final:
            result = result.model_copy(update={"unreached": self._unreached(campaign, calls)})
        await self.store.update_job(job_id, result=result)
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

    async def _tracking_over(self, campaign: Campaign) -> bool:
        """Past the bound of following its calls: `track_for` after sending ended."""
        ended = await self.store.sending_ended_at(campaign.id) or campaign.updated_at
        since = datetime.fromisoformat(ended)
        if campaign.plan.at is not None:
            since = max(since, campaign.plan.at)
        return self.clock() - since >= timedelta(seconds=self.config.track_for)

    async def poll_tracking(self) -> None:
        """The scheduler's job: follow every campaign whose calls are still in progress."""
        for job_id in await self.store.tracked_campaigns():
            await self.poll_once(job_id)

    async def track(self, job_id: int) -> None:
        """Without a scheduler: follow one campaign's calls until they are final."""
        # poll_once ends it `track_for` after sending; the margin covers a Slack that fails.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * self.config.track_for
        while loop.time() < deadline:
            await self.sleep(self.config.track_every)
            if await self.poll_once(job_id):
                return

    async def _deliver_results(
        self, campaign: Campaign | None, calls: list[tuple[ChunkRow, _Call]]
    ) -> bool:
        """The owner's summary by outcome and the CSV of every number; once.

        The CSV holds every number in full: it goes to the owner only while they are an admin
        (read now, not when they started it); otherwise admins get it with `/obd status #id`.
        """
        if campaign is None or campaign.results_at is not None:
            return False
        withheld = not await self.agents.is_admin(campaign.user_id)
        summary, content = await self._results(campaign, calls, withheld=withheld)
        posted = await self.notify.post(campaign.user_id, views.results_message(summary))
        if posted is None:
            return False  # tried again at the next poll
        result = (campaign.result or BroadcastResult()).model_copy(
            update={"file_withheld": withheld}
        )
        await self.store.update_job(
            campaign.id,
            state="done" if campaign.state == "tracking" else None,
            result=result,
            results_at=iso(self.clock()),
        )
        if withheld:
            await self._audit(campaign, "results", "file withheld: the owner is no longer an admin")
            return True
        await self._upload_results(posted.channel, campaign, content)
        return True

    async def send_results(self, job_id: int, user_id: str) -> None:
        """An admin's "Send me the results file": the CSV of a campaign whose results are out,
        read again from Kaleyra, to the admin's DM."""
        await self.agents.require_admin(
            user_id, "get a broadcast's results file", action="obd", command="obd"
        )
        campaign = await self.store.get_job(job_id)
        if campaign is None or campaign.results_at is None:
            raise UsageError(f"Broadcast #{job_id} has no results yet.")
        calls: list[tuple[ChunkRow, _Call]] = []
        if not campaign.plan.via_io:
            calls = await self._read_calls(await self.store.chunk_outline(job_id))
            if await self._tracking_over(campaign):
                calls = [(chunk, call.settled()) for chunk, call in calls]
        summary, content = await self._results(campaign, calls, withheld=False)
        posted = await self.notify.post(user_id, views.results_message(summary, again=False))
        if posted is None:
            raise UsageError("Slack did not take the message; try again in a minute.")
        await self._audit(campaign, "results", "file sent to an admin", actor=user_id)
        await self._upload_results(posted.channel, campaign, content)

    async def _results(
        self, campaign: Campaign, calls: list[tuple[ChunkRow, _Call]], *, withheld: bool
    ) -> tuple[CampaignResults, str]:
        chunks = await self.store.chunks(campaign.id)
        # One pass, row by row: the CSV and the counts, with no list of 100 000 rows.
        outcomes: Counter[str] = Counter()
        rows = self._outcome_rows(campaign, chunks, calls)
        content = await asyncio.to_thread(results_csv, rows, outcomes)
        summary = CampaignResults(
            campaign=campaign,
            outcomes=dict(outcomes),
            unreached=len(campaign.result.unreached) if campaign.result else 0,
            status_api=not campaign.plan.via_io,
            tracked_for=views.duration(self.config.track_for / 60),
            file_withheld=withheld,
        )
        return summary, content

    async def _upload_results(self, channel: str, campaign: Campaign, content: str) -> None:
        await self.notify.upload(
            channel,
            filename=f"broadcast-{campaign.id}-results.csv",
            content=content,
            title=f"Broadcast #{campaign.id} results",
            comment=f"Every number of broadcast #{campaign.id} and its outcome.",
        )

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


@dataclass(frozen=True, slots=True)
class _Call:
    """What the results need of a call Kaleyra reported: 100 000 of them are kept at once."""

    id: str
    mobile: str | None
    status: str | None
    senttime: str | None

    def settled(self) -> _Call:
        """Itself once final; else NO_FINAL: Kaleyra gave no final status in time."""
        if (self.status or "").upper() in FINAL_STATUSES:
            return self
        return _Call(self.id, self.mobile, NO_FINAL, self.senttime)

    @classmethod
    def of(cls, call: ObdCall) -> _Call:
        status = sys.intern(call.status) if call.status else None  # a dozen distinct values
        return cls(call.id, call.mobile, status, call.senttime)


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
