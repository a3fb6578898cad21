"""Chunked jobs: the per-request limits, the chunking rule and the outcome of every chunk.

Shared by the client (which sends the chunks) and the services (which plan and report them), so a
plan's request count and the client's requests can never disagree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from bot.kaleyra.errors import KaleyraError

VOICE_CALL_LIMIT = 200  # voice.call numbers a request
OUTBOUND_TO_LIMIT = 100  # kaleyra.io `to` entries a request
DIALER_IMPORT_LIMIT = 1000  # autodial.import keeps only the first 1000 entries

T = TypeVar("T")
ChunkState = Literal["accepted", "rejected", "unknown"]


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """In order, remainder last: 450 by 200 gives 200, 200, 50."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass
class ChunkOutcome:
    index: int
    numbers: list[str]
    state: ChunkState
    result: Any = None
    error: KaleyraError | None = None


OnChunk = Callable[[ChunkOutcome], Awaitable[None]]


@dataclass
class BulkResult:
    """Every number of a chunked job, accounted for chunk by chunk."""

    chunks: list[ChunkOutcome] = field(default_factory=list)

    def numbers_in(self, state: ChunkState) -> list[str]:
        return [n for c in self.chunks if c.state == state for n in c.numbers]

    @property
    def accepted(self) -> list[str]:
        return self.numbers_in("accepted")

    @property
    def rejected(self) -> list[str]:
        return self.numbers_in("rejected")

    @property
    def unknown(self) -> list[str]:
        return self.numbers_in("unknown")

    @property
    def total(self) -> int:
        return sum(len(c.numbers) for c in self.chunks)


def outcome_of(index: int, numbers: list[str], error: KaleyraError) -> ChunkOutcome:
    """A failed chunk: unknown when the request may have reached Kaleyra, else rejected."""
    state: ChunkState = "unknown" if error.outcome_unknown else "rejected"
    return ChunkOutcome(index, numbers, state, error=error)


async def send_in_chunks(
    numbers: Sequence[str],
    size: int,
    send: Callable[[list[str]], Awaitable[Any]],
    *,
    concurrency: int,
    on_chunk: OnChunk | None = None,
) -> BulkResult:
    """Send each chunk once, `concurrency` at a time, and record every chunk's outcome in order."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, part: list[str]) -> ChunkOutcome:
        async with gate:
            try:
                outcome = ChunkOutcome(index, part, "accepted", result=await send(part))
            except KaleyraError as exc:
                outcome = outcome_of(index, part, exc)
        if on_chunk is not None:
            await on_chunk(outcome)
        return outcome

    parts = chunked(list(numbers), size)
    if len(parts) == 1:  # one request (a campaign's chunk): no task to gather
        return BulkResult([await one(0, parts[0])])
    return BulkResult(list(await asyncio.gather(*(one(i, p) for i, p in enumerate(parts)))))
