"""The workspace blacklist."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.store.db import Db


class BlacklistTable(Db):
    def blacklist_add(self, numbers: Iterable[str], user_id: str, reason: str = "") -> None:
        now = self._now()
        with self._lock, self.db.conn:
            for number in numbers:
                self.db.execute(
                    "INSERT INTO blacklist (number, added_by, added_at, reason) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(number) DO UPDATE SET added_by = excluded.added_by,"
                    " added_at = excluded.added_at, reason = excluded.reason",
                    [number, user_id, now, reason],
                )

    def blacklist_remove(self, numbers: Iterable[str]) -> int:
        with self._lock, self.db.conn:
            return sum(
                self.db.execute("DELETE FROM blacklist WHERE number = ?", [n]).rowcount
                for n in numbers
            )

    def blacklisted(self, numbers: Iterable[str] | None = None) -> set[str]:
        rows = self._all("SELECT number FROM blacklist")
        listed = {r["number"] for r in rows}
        return listed if numbers is None else listed & set(numbers)

    def blacklist_entries(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM blacklist ORDER BY added_at DESC, number")
