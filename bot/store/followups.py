"""Follow-ups mirrored from Kaleyra."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.db import Db, iso


class FollowupsTable(Db):
    def save_followup(self, record: dict[str, Any]) -> None:
        now = self._now()
        record = {"state": "active", "created_at": now, **record, "updated_at": now}
        columns = ", ".join(record)
        marks = ", ".join("?" for _ in record)
        updates = ", ".join(f"{c} = excluded.{c}" for c in record if c not in {"id", "created_at"})
        self._write(
            f"INSERT INTO followups ({columns}) VALUES ({marks})"
            f" ON CONFLICT(id) DO UPDATE SET {updates}",
            list(record.values()),
        )

    def get_followup(self, followup_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM followups WHERE id = ?", [followup_id])

    def followups(self, follower: str | None = None) -> list[dict[str, Any]]:
        if follower:
            return self._all(
                "SELECT * FROM followups WHERE state = 'active' AND follower = ? ORDER BY ontime",
                [follower],
            )
        return self._all("SELECT * FROM followups WHERE state = 'active' ORDER BY ontime")

    def delete_followup(self, followup_id: str) -> None:
        self._write(
            "UPDATE followups SET state = 'deleted', updated_at = ? WHERE id = ?",
            [self._now(), followup_id],
        )

    def set_followup_state(self, followup_id: str, state: str) -> None:
        self._write(
            "UPDATE followups SET state = ?, updated_at = ? WHERE id = ?",
            [state, self._now(), followup_id],
        )

    def snooze_followup(self, followup_id: str, remind_at: datetime) -> None:
        self._write(
            "UPDATE followups SET remind_at = ?, updated_at = ? WHERE id = ?",
            [iso(remind_at), self._now(), followup_id],
        )
