"""Background work: steps take turns so a burst of replies cannot hold up the acks."""

from __future__ import annotations

import asyncio

from bot.runtime.background import Background


def start_steps(background: Background, names: str, resumed: list[str]) -> list[asyncio.Task]:
    """One task per name: each waits for its turn, then says it resumed."""

    async def step(name: str) -> None:
        await background.turn()
        resumed.append(name)

    return [asyncio.create_task(step(name)) for name in names]


async def test_waiting_steps_resume_one_per_turn_of_the_loop_in_order() -> None:
    resumed: list[str] = []
    tasks = start_steps(Background(), "abcd", resumed)
    seen_per_turn = []
    for _ in range(8):
        await asyncio.sleep(0)  # one turn of the loop
        seen_per_turn.append(len(resumed))
    await asyncio.gather(*tasks)
    assert resumed == ["a", "b", "c", "d"]
    # Never two in the same turn: the count grows by at most one each time.
    assert all(b - a <= 1 for a, b in zip([0, *seen_per_turn], seen_per_turn, strict=False))


async def test_a_cancelled_waiter_gives_up_its_turn() -> None:
    resumed: list[str] = []
    first, second, third = start_steps(Background(), "xyz", resumed)
    await asyncio.sleep(0)  # all three are waiting now
    second.cancel()
    await asyncio.gather(first, third)
    assert resumed == ["x", "z"] and second.cancelled()
