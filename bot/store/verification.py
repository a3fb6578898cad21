"""Proof of possession of agent numbers: pending codes (hashed), tries, and who verified."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.models import Verification
from bot.store.agents import AgentsTable
from bot.store.db import iso

CALL_BUDGET_WINDOW = timedelta(hours=24)


class VerificationTable(AgentsTable):
    def _verifications(self) -> dict[str, Verification | None]:
        # Read on every dial (is this number proven?): cached while `caches_agents` (db.py).
        return self._verification_cache if self.caches_agents else {}

    async def proven_number(self, user_id: str) -> str | None:
        """The user's registered number when it is proven (or was assigned by an admin).

        Read on every dial: from the caches in one process, in one statement with replicas.
        """
        if self.caches_agents:
            agent = await self.get_agent(user_id)
            if agent is None:
                return None
            proof = await self.verification(user_id)
            if proof is None or proof.state != "verified" or proof.number != agent.number:
                return None
            return agent.number
        row = await self._one(
            "SELECT a.number FROM agents a JOIN verifications v ON v.user_id = a.user_id"
            " AND v.number = a.number AND v.state = 'verified' WHERE a.user_id = ?",
            [user_id],
        )
        return row["number"] if row else None

    async def verification(self, user_id: str, *, fresh: bool = False) -> Verification | None:
        """The user's proof or pending code, or None when they never registered themselves.

        `fresh`: read from the database even when cached (checking a code)."""
        cache = self._verifications()
        if user_id in cache and not fresh:
            return cache[user_id]
        generation = self._people_generation
        row = await self._one("SELECT * FROM verifications WHERE user_id = ?", [user_id])
        found = Verification.from_row(row) if row else None
        if generation == self._people_generation:
            self._verifications()[user_id] = found
        return found

    async def start_verification(
        self, user_id: str, number: str, code_hash: str, expires_at: datetime
    ) -> Verification:
        """A new code for `number` (any earlier code of this user is void); counts the call."""
        now = self.clock()
        self._verifications().pop(user_id, None)
        current = await self.verification(user_id)
        in_window = (
            current is not None
            and current.first_call_at is not None
            and now - datetime.fromisoformat(current.first_call_at) < CALL_BUDGET_WINDOW
        )
        calls = current.calls_sent + 1 if current and in_window else 1
        first = current.first_call_at if current and in_window else iso(now)
        await self._upsert(
            user_id,
            number=number,
            state="pending",
            code_hash=code_hash,
            tries=0,
            expires_at=iso(expires_at),
            verified_by=None,
            calls_sent=calls,
            first_call_at=first,
            created_at=current.created_at if current else iso(now),
        )
        return await self._fresh(user_id)

    async def wrong_code(self, user_id: str) -> int:
        """One more wrong code typed; returns how many so far for the current code."""
        await self._write(
            "UPDATE verifications SET tries = tries + 1, updated_at = ? WHERE user_id = ?",
            [self._now(), user_id],
        )
        self._verifications().pop(user_id, None)
        found = await self.verification(user_id)
        return found.tries if found else 0

    async def set_verified(self, user_id: str, number: str, by: str) -> Verification:
        """`number` is proven for `user_id` (by a code: by="self"; else the assigning admin)."""
        self._verifications().pop(user_id, None)
        current = await self.verification(user_id)
        await self._upsert(
            user_id,
            number=number,
            state="verified",
            code_hash=None,
            tries=0,
            expires_at=None,
            verified_by=by,
            calls_sent=current.calls_sent if current else 0,
            first_call_at=current.first_call_at if current else None,
            created_at=current.created_at if current else self._now(),
        )
        return await self._fresh(user_id)

    async def drop_verification(self, user_id: str) -> None:
        """Forget the proof (the number was unregistered or moved); the call budget is kept."""
        await self._write(
            "UPDATE verifications SET state = 'pending', code_hash = NULL, expires_at = NULL,"
            " number = '', updated_at = ? WHERE user_id = ?",
            [self._now(), user_id],
        )
        self._verifications().pop(user_id, None)

    async def _upsert(self, user_id: str, **fields: object) -> None:
        record = {"user_id": user_id, **fields, "updated_at": self._now()}
        columns = ", ".join(record)
        marks = ", ".join("?" for _ in record)
        updates = ", ".join(f"{c} = excluded.{c}" for c in record if c != "user_id")
        await self._write(
            f"INSERT INTO verifications ({columns}) VALUES ({marks})"
            f" ON CONFLICT(user_id) DO UPDATE SET {updates}",
            list(record.values()),
        )

    async def _fresh(self, user_id: str) -> Verification:
        self._verifications().pop(user_id, None)
        found = await self.verification(user_id)
        assert found is not None
        return found
