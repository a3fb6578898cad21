"""Work that follows an ack: asyncio tasks, kept referenced, errors logged, drainable in tests."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("voicebot.background")


class Turns:
    """Background steps take turns: at most one resumes per turn of the event loop.

    Replies to work sent together come back together: twenty Kaleyra answers, then twenty card
    posts. Run in one turn of the loop, their continuations held every ack waiting behind them
    (a 40-100 ms stall in the benchmarks); taking turns spreads them out, one per turn, with
    the acks that arrived in between served first.
    """

    def __init__(self) -> None:
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._releasing = False

    async def take(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append(future)
        if not self._releasing:
            self._releasing = True
            loop.call_soon(self._release_one)
        await future

    def _release_one(self) -> None:
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():  # a cancelled waiter gives up its turn
                future.set_result(None)
                break
        if self._waiting:
            asyncio.get_running_loop().call_soon(self._release_one)
        else:
            self._releasing = False


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lasting: set[asyncio.Task[Any]] = set()  # runs for minutes by design
        self._turns = Turns()

    async def turn(self) -> None:
        """Wait for this step's turn; call before a burst-prone piece of work after an await."""
        await self._turns.take()

    def spawn(
        self, coro: Coroutine[Any, Any, Any], name: str = "work", *, lasting: bool = False
    ) -> asyncio.Task[Any]:
        """`lasting`: work that runs for minutes by design (a paced campaign's sender, a tracker,
        a wait for the calling window), which `drain(lasting=False)` does not wait for."""
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if lasting:
            self._lasting.add(task)
            task.add_done_callback(self._lasting.discard)
        return task

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, Any], name: str) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s failed", name)
            return None

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 30.0, *, lasting: bool = True) -> None:
        """Wait for everything spawned so far, and for what that spawns in turn (without
        `lasting`: all but the work that runs for minutes by design)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while waiting := (self._tasks if lasting else self._tasks - self._lasting):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{len(waiting)} background tasks still running")
            await asyncio.wait(set(waiting), timeout=remaining, return_when=asyncio.FIRST_COMPLETED)

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
