"""The exactly-once sent log."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from bot.runtime.metrics import SENDS
from bot.store.db import Db, iso


class SentLogTable(Db):
    def claim(self, key: str, kind: str, due_at: datetime, *, late: bool = False) -> bool:
        """Claim `key` (a job and its due time) for sending: True once, ever, for each key."""
        try:
            self._write(
                "INSERT INTO sent_log (key, kind, due_at, state, late, at) VALUES (?, ?, ?, 'claimed', ?, ?)",
                [key, kind, iso(due_at), int(late), self._now()],
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def mark_sent(self, key: str) -> None:
        row = self._one("SELECT kind, late FROM sent_log WHERE key = ?", [key])
        self._write("UPDATE sent_log SET state = 'sent', at = ? WHERE key = ?", [self._now(), key])
        if row:
            SENDS.labels(row["kind"], "late" if row["late"] else "on_time").inc()

    def release(self, key: str) -> None:
        """Sending failed: let the next run try again."""
        self._write("DELETE FROM sent_log WHERE key = ? AND state = 'claimed'", [key])

    def mark_missed(self, key: str, kind: str, due_at: datetime, detail: str) -> bool:
        try:
            self._write(
                "INSERT INTO sent_log (key, kind, due_at, state, late, at, detail) VALUES (?, ?, ?, 'missed', 1, ?, ?)",
                [key, kind, iso(due_at), self._now(), detail],
            )
        except sqlite3.IntegrityError:
            return False
        SENDS.labels(kind, "missed").inc()
        return True

    def sent_entries(
        self, kind: str | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        if kind:
            clauses.append("kind = ?")
            params.append(kind)
        if state:
            clauses.append("state = ?")
            params.append(state)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._all(f"SELECT * FROM sent_log{where} ORDER BY due_at", params)

    def take_missed(self) -> list[dict[str, Any]]:
        """Missed items not yet reported in a digest; marks them reported."""
        rows = self.sent_entries(state="missed")
        for row in rows:
            self._write("UPDATE sent_log SET state = 'reported' WHERE key = ?", [row["key"]])
        return rows

    def jobs_in_state(self, state: str) -> list[dict[str, Any]]:
        return self._all("SELECT id, kind, user_id FROM jobs WHERE state = ? ORDER BY id", [state])
