"""Agents and admin roles."""

from __future__ import annotations

from bot.models import Agent
from bot.phones import mask
from bot.store.db import Db, StoreError


class AgentsTable(Db):
    async def get_agent(self, user_id: str) -> Agent | None:
        # Read on every dial: cached while `caches_agents` (db.py says when).
        if self.caches_agents and user_id in self._agents:
            return self._agents[user_id]
        generation = self._people_generation
        row = await self._one("SELECT * FROM agents WHERE user_id = ?", [user_id])
        agent = Agent(**row) if row else None
        if self.caches_agents and generation == self._people_generation:
            self._agents[user_id] = agent
        return agent

    async def agent_by_number(self, number: str) -> Agent | None:
        """The user who has proven `number` (reminders and follow-up rights go only to them)."""
        row = await self._one(
            "SELECT a.* FROM agents a JOIN verifications v ON v.user_id = a.user_id"
            " AND v.number = a.number AND v.state = 'verified' WHERE a.number = ?",
            [number],
        )
        return Agent(**row) if row else None

    async def holder_of(self, number: str) -> Agent | None:
        """Whoever registered `number`, proven or not."""
        row = await self._one("SELECT * FROM agents WHERE number = ?", [number])
        return Agent(**row) if row else None

    async def register_agent(self, user_id: str, number: str) -> Agent:
        """One number per user, one user per number: a number held by someone else is refused."""
        self._agents.pop(user_id, None)
        now = self._now()
        async with self._tx() as tx:
            holder = await tx.one("SELECT * FROM agents WHERE number = ?", [number])
            if holder and holder["user_id"] != user_id:
                raise StoreError(
                    f"{mask(number)} is already registered to another Slack user; "
                    "ask an admin to move it."
                )
            await tx.write(
                "INSERT INTO agents (user_id, number, role, created_at, updated_at)"
                " VALUES (?, ?, 'agent', ?, ?) ON CONFLICT(user_id) DO UPDATE"
                " SET number = excluded.number, updated_at = excluded.updated_at",
                [user_id, number, now, now],
            )
        self._agents.pop(user_id, None)
        agent = await self.get_agent(user_id)
        assert agent is not None
        return agent

    async def unregister_agent(self, user_id: str) -> bool:
        written = await self._write("DELETE FROM agents WHERE user_id = ?", [user_id])
        self._agents.pop(user_id, None)
        return written.rowcount > 0

    async def admins(self) -> set[str]:
        return {
            r["user_id"] for r in await self._all("SELECT user_id FROM roles WHERE role = 'admin'")
        }

    async def grant_admin(self, user_id: str, granted_by: str) -> None:
        await self._write(
            "INSERT INTO roles (user_id, role, granted_by, at) VALUES (?, 'admin', ?, ?)"
            " ON CONFLICT(user_id) DO UPDATE SET role = 'admin', granted_by = excluded.granted_by, at = excluded.at",
            [user_id, granted_by, self._now()],
        )
        self._admin_cache.pop(user_id, None)

    async def revoke_admin(self, user_id: str) -> bool:
        revoked = await self._write("DELETE FROM roles WHERE user_id = ?", [user_id])
        self._admin_cache.pop(user_id, None)
        return revoked.rowcount > 0

    async def is_admin(self, user_id: str) -> bool:
        if self.caches_agents and user_id in self._admin_cache:
            return self._admin_cache[user_id]
        generation = self._people_generation
        row = await self._one(
            "SELECT 1 AS yes FROM roles WHERE user_id = ? AND role = 'admin'", [user_id]
        )
        if self.caches_agents and generation == self._people_generation:
            self._admin_cache[user_id] = row is not None
        return row is not None
