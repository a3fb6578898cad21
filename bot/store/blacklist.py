"""The workspace blacklist."""

from __future__ import annotations

from collections.abc import Iterable

from bot.models import BlacklistEntry
from bot.store.db import Db


class BlacklistTable(Db):
    async def blacklist_add(self, numbers: Iterable[str], user_id: str, reason: str = "") -> None:
        now = self._now()
        async with self._tx() as tx:
            await tx.many(
                "INSERT INTO blacklist (number, added_by, added_at, reason) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(number) DO UPDATE SET added_by = excluded.added_by,"
                " added_at = excluded.added_at, reason = excluded.reason",
                [[number, user_id, now, reason] for number in numbers],
            )

    async def blacklist_remove(self, numbers: Iterable[str]) -> int:
        async with self._tx() as tx:
            removed = 0
            for n in numbers:
                removed += (await tx.write("DELETE FROM blacklist WHERE number = ?", [n])).rowcount
            return removed

    async def blacklisted(self, numbers: Iterable[str] | None = None) -> set[str]:
        """Which of `numbers` are blacklisted (looked up by key); every listed number without."""
        if numbers is None:
            return {r["number"] for r in await self._all("SELECT number FROM blacklist")}
        wanted = list(dict.fromkeys(numbers))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = await self._all(f"SELECT number FROM blacklist WHERE number IN ({marks})", chunk)
            found.update(r["number"] for r in rows)
        return found

    async def blacklist_entry(self, number: str) -> BlacklistEntry | None:
        """Who blacklisted `number` (E.164), when and why; None when it is not blacklisted."""
        row = await self._one("SELECT * FROM blacklist WHERE number = ?", [number])
        return BlacklistEntry(**{**row, "reason": row.get("reason") or ""}) if row else None

    async def blacklist_count(self) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM blacklist", [])
        return int(row["n"]) if row else 0

    async def blacklist_entries(self, limit: int | None = None) -> list[BlacklistEntry]:
        """Newest first; at most `limit` when given."""
        sql = "SELECT * FROM blacklist ORDER BY added_at DESC, number"
        rows = await self._all(sql + " LIMIT ?", [limit]) if limit else await self._all(sql)
        return [BlacklistEntry(**{**r, "reason": r.get("reason") or ""}) for r in rows]
