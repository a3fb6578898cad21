"""Slack deliveries taken once: a retry of one that was handled is ignored, of one that failed is
handled. The store keeps the identities, so every replica sees the same."""

from __future__ import annotations

import logging

from bot.store import Store, StoreUnavailable

log = logging.getLogger("voicebot.server")


class Deliveries:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def first(self, identity: str) -> bool:
        """The store decides; when it cannot (a lock held elsewhere, a full disk), the delivery
        is handled, and the handler's own store write gives the user the clear answer."""
        try:
            return await self.store.first_delivery(identity)
        except StoreUnavailable:
            log.warning("Slack delivery not de-duplicated: the store is unavailable")
            return True

    async def forget(self, identity: str) -> None:
        """The delivery failed: its retry is handled as new."""
        try:
            await self.store.forget_delivery(identity)
        except StoreUnavailable:
            log.warning("a failed Slack delivery could not be forgotten; its retry is ignored")
