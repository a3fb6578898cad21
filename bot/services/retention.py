"""Old history pruned in the background: small batches, yielding between them, so no ack waits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.store import Store

log = logging.getLogger("voicebot.retention")
Clock = Callable[[], datetime]


class Retention:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        audit_days: int,
        call_days: int,
        batch: int = 100,
        pause_seconds: float = 0.05,
    ) -> None:
        self.store = store
        self.clock = clock
        self.audit_days = audit_days
        self.call_days = call_days
        self.batch = batch
        self.pause_seconds = pause_seconds

    async def prune(self, *, max_batches: int = 1000) -> int:
        """Audit rows and settled calls past their retention; returns how many rows went."""
        pruned = 0
        for _ in range(max_batches):  # bounded: the next run carries on
            gone = await self.store.prune_history(
                self.clock(), self.audit_days, self.call_days, batch=self.batch
            )
            pruned += gone
            if gone == 0:
                break
            await asyncio.sleep(self.pause_seconds)  # acks go first between batches
        if pruned:
            log.info("pruned %d history rows", pruned)
        return pruned
