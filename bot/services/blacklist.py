"""The blacklist: Kaleyra's `block`, mirrored in the store (who, when, why) and audited.

Anyone may add a number; only admins may remove one. A Kaleyra failure changes nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.kaleyra import KaleyraClient, KaleyraError
from bot.models import BlacklistPage
from bot.phones import Phone
from bot.services.agents import Agents
from bot.store import Store

LIST_LIMIT = 60


class Blacklist:
    def __init__(self, store: Store, kaleyra: KaleyraClient, agents: Agents) -> None:
        self.store = store
        self.kaleyra = kaleyra
        self.agents = agents

    async def check_remove(self, user_id: str) -> None:
        """Refuse (audited) a non-admin's removal, before anything reaches Kaleyra."""
        await self.agents.require_admin(
            user_id,
            "remove numbers from the blacklist",
            action="blacklist.remove",
            command="blacklist",
        )

    async def add(self, user_id: str, phones: Sequence[Phone], reason: str = "") -> None:
        national = [p.national for p in phones]
        await self._send(user_id, "blacklist.add", national, adding=True)
        await self.store.blacklist_add([p.e164 for p in phones], user_id, reason)
        await self.store.audit(
            user_id=user_id, action="blacklist.add", outcome="ok", numbers=national
        )

    async def remove(self, user_id: str, phones: Sequence[Phone]) -> list[Phone]:
        """Removes the numbers on the blacklist; returns those that were not (nothing sent)."""
        await self.check_remove(user_id)
        listed = await self.store.blacklisted([p.e164 for p in phones])
        unlisted = [p for p in phones if p.e164 not in listed]
        national = [p.national for p in phones if p.e164 in listed]
        if national:
            await self._send(user_id, "blacklist.remove", national, adding=False)
            await self.store.blacklist_remove(sorted(listed))
            await self.store.audit(
                user_id=user_id, action="blacklist.remove", outcome="ok", numbers=national
            )
        return unlisted

    async def _send(self, user_id: str, action: str, national: list[str], *, adding: bool) -> None:
        try:
            if adding:
                await self.kaleyra.blacklist_add(national)
            else:
                await self.kaleyra.blacklist_remove(national)
        except KaleyraError as exc:
            await self.store.audit(
                user_id=user_id,
                action=action,
                outcome="failed",
                numbers=national,
                detail={"error": str(exc)},
            )
            raise

    async def page(self, user_id: str) -> BlacklistPage:
        """The newest entries; numbers in full for admins only."""
        return BlacklistPage(
            await self.store.blacklist_entries(limit=LIST_LIMIT),
            await self.store.blacklist_count(),
            await self.agents.is_admin(user_id),
        )
