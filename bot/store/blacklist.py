"""The workspace blacklist."""

from __future__ import annotations

from collections.abc import Iterable

from bot.models import BlacklistEntry
from bot.store.db import Db


class BlacklistTable(Db):
    def blacklist_add(self, numbers: Iterable[str], user_id: str, reason: str = "") -> None:
        now = self._now()
        with self._lock, self.db.conn:
            self.db.conn.executemany(
                "INSERT INTO blacklist (number, added_by, added_at, reason) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(number) DO UPDATE SET added_by = excluded.added_by,"
                " added_at = excluded.added_at, reason = excluded.reason",
                [[number, user_id, now, reason] for number in numbers],
            )

    def blacklist_remove(self, numbers: Iterable[str]) -> int:
        with self._lock, self.db.conn:
            return sum(
                self.db.execute("DELETE FROM blacklist WHERE number = ?", [n]).rowcount
                for n in numbers
            )

    def blacklisted(self, numbers: Iterable[str] | None = None) -> set[str]:
        """Which of `numbers` are blacklisted (looked up by key); every listed number without."""
        if numbers is None:
            return {r["number"] for r in self._all("SELECT number FROM blacklist")}
        wanted = list(dict.fromkeys(numbers))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self._all(f"SELECT number FROM blacklist WHERE number IN ({marks})", chunk)
            found.update(r["number"] for r in rows)
        return found

    def blacklist_entry(self, number: str) -> BlacklistEntry | None:
        """Who blacklisted `number` (E.164), when and why; None when it is not blacklisted."""
        row = self._one("SELECT * FROM blacklist WHERE number = ?", [number])
        return BlacklistEntry(**{**row, "reason": row.get("reason") or ""}) if row else None

    def blacklist_count(self) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM blacklist", [])
        return int(row["n"]) if row else 0

    def blacklist_entries(self, limit: int | None = None) -> list[BlacklistEntry]:
        """Newest first; at most `limit` when given."""
        sql = "SELECT * FROM blacklist ORDER BY added_at DESC, number"
        rows = self._all(sql + " LIMIT ?", [limit]) if limit else self._all(sql)
        return [BlacklistEntry(**{**r, "reason": r.get("reason") or ""}) for r in rows]
