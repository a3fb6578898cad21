"""Agents and admin roles."""

from __future__ import annotations

from bot.models import Agent
from bot.phones import mask
from bot.store.db import Db, StoreError


class AgentsTable(Db):
    def get_agent(self, user_id: str) -> Agent | None:
        # Read on every dial; changed only through register/unregister below, so cached.
        if user_id in self._agents:
            return self._agents[user_id]
        row = self._one("SELECT * FROM agents WHERE user_id = ?", [user_id])
        agent = Agent(**row) if row else None
        self._agents[user_id] = agent
        return agent

    def agent_by_number(self, number: str) -> Agent | None:
        """The user who has proven `number` (reminders and follow-up rights go only to them)."""
        row = self._one(
            "SELECT a.* FROM agents a JOIN verifications v ON v.user_id = a.user_id"
            " AND v.number = a.number AND v.state = 'verified' WHERE a.number = ?",
            [number],
        )
        return Agent(**row) if row else None

    def holder_of(self, number: str) -> Agent | None:
        """Whoever registered `number`, proven or not."""
        row = self._one("SELECT * FROM agents WHERE number = ?", [number])
        return Agent(**row) if row else None

    def register_agent(self, user_id: str, number: str) -> Agent:
        """One number per user, one user per number: a number held by someone else is refused."""
        with self._lock, self.db.conn:
            self._agents.pop(user_id, None)
            holder = self.holder_of(number)
            if holder and holder.user_id != user_id:
                raise StoreError(
                    f"{mask(number)} is already registered to another Slack user; "
                    "ask an admin to move it."
                )
            now = self._now()
            current = self.get_agent(user_id)
            self.db["agents"].upsert(
                {
                    "user_id": user_id,
                    "number": number,
                    "role": current.role if current else "agent",
                    "created_at": current.created_at if current else now,
                    "updated_at": now,
                },
                pk="user_id",
            )
            self._agents.pop(user_id, None)
        agent = self.get_agent(user_id)
        assert agent is not None
        return agent

    def unregister_agent(self, user_id: str) -> bool:
        with self._lock, self.db.conn:
            cursor = self.db.execute("DELETE FROM agents WHERE user_id = ?", [user_id])
            self._agents.pop(user_id, None)
            return cursor.rowcount > 0

    def admins(self) -> set[str]:
        return {r["user_id"] for r in self._all("SELECT user_id FROM roles WHERE role = 'admin'")}

    def grant_admin(self, user_id: str, granted_by: str) -> None:
        self._write(
            "INSERT INTO roles (user_id, role, granted_by, at) VALUES (?, 'admin', ?, ?)"
            " ON CONFLICT(user_id) DO UPDATE SET role = 'admin', granted_by = excluded.granted_by, at = excluded.at",
            [user_id, granted_by, self._now()],
        )

    def revoke_admin(self, user_id: str) -> bool:
        return self._write("DELETE FROM roles WHERE user_id = ?", [user_id]).rowcount > 0

    def is_admin(self, user_id: str) -> bool:
        return (
            self._one("SELECT 1 AS yes FROM roles WHERE user_id = ? AND role = 'admin'", [user_id])
            is not None
        )
