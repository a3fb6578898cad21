"""Chunking shared by the client and the services: limits, order, and every chunk's outcome."""

from __future__ import annotations

import asyncio

from bot.kaleyra import bulk, client
from bot.kaleyra.bulk import (
    DIALER_IMPORT_LIMIT,
    OUTBOUND_TO_LIMIT,
    VOICE_CALL_LIMIT,
    BulkResult,
    ChunkOutcome,
    chunked,
    send_in_chunks,
)
from bot.kaleyra.errors import KaleyraAPIError, KaleyraTimeout


def test_limits_are_the_documented_ones() -> None:
    assert (VOICE_CALL_LIMIT, OUTBOUND_TO_LIMIT, DIALER_IMPORT_LIMIT) == (200, 100, 1000)


def test_still_importable_from_the_client_module() -> None:
    for name in ("chunked", "VOICE_CALL_LIMIT", "OUTBOUND_TO_LIMIT", "DIALER_IMPORT_LIMIT"):
        assert getattr(client, name) is getattr(bulk, name)
    assert client.BulkResult is BulkResult and client.ChunkOutcome is ChunkOutcome


def test_chunks_in_order_remainder_last() -> None:
    numbers = [str(n) for n in range(450)]
    parts = chunked(numbers, 200)
    assert [len(p) for p in parts] == [200, 200, 50]
    assert [n for p in parts for n in p] == numbers
    assert chunked([], 200) == []


async def test_every_chunk_is_accounted_for_in_order_whatever_finishes_first() -> None:
    numbers = [str(n) for n in range(10)]
    seen: list[int] = []
    answers = [asyncio.Event() for _ in range(4)]
    answers[3].set()  # the last chunk answers first; each answer lets the one before it go

    async def send(part: list[str]) -> str:
        index = int(part[0]) // 3
        await answers[index].wait()
        if index == 1:
            raise KaleyraAPIError("E104", "invalid number")
        if index == 2:
            raise KaleyraTimeout(outcome_unknown=True)
        return f"ok{index}"

    async def on_chunk(outcome: ChunkOutcome) -> None:
        seen.append(outcome.index)
        if outcome.index:
            answers[outcome.index - 1].set()

    result = await send_in_chunks(numbers, 3, send, concurrency=4, on_chunk=on_chunk)
    assert [c.index for c in result.chunks] == [0, 1, 2, 3]
    assert [c.state for c in result.chunks] == ["accepted", "rejected", "unknown", "accepted"]
    assert result.accepted == ["0", "1", "2", "9"] and result.rejected == ["3", "4", "5"]
    assert result.unknown == ["6", "7", "8"] and result.total == 10
    assert seen == [3, 2, 1, 0]  # reported as they finish


async def test_concurrency_is_bounded() -> None:
    running = peak = 0

    async def send(part: list[str]) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        for _ in range(3):  # let every other ready sender start meanwhile
            await asyncio.sleep(0)
        running -= 1

    await send_in_chunks([str(n) for n in range(100)], 5, send, concurrency=3)
    assert peak == 3
