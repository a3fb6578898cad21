"""Sending one chunk: the Kaleyra request a chunk of a plan becomes, and the pace between
chunk starts."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.kaleyra import ChunkOutcome, KaleyraClient, KaleyraError
from bot.kaleyra.bulk import (
    VOICE_CALL_LIMIT,
    chunked,
    outcome_of,
)
from bot.kaleyra.models import (
    DialerRow,
    ObdJsonCall,
    ObdJsonRequest,
    ObdRequest,
    OutboundRequest,
    OutboundTarget,
)
from bot.models import (
    BroadcastPlan,
    ChunkRow,
)
from bot.services.obd.config import BroadcastConfig


class Pacer:
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


class Sender:
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


def _io_target(play: str) -> OutboundTarget:
    if play.endswith(".sound"):
        return OutboundTarget.for_sounds(int(play.removesuffix(".sound")))
    return OutboundTarget.for_ivr(play.removeprefix("ivr:").removesuffix(".ivr"))
