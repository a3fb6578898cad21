"""Broadcast and dialer jobs."""

from __future__ import annotations

import json
from typing import Any

from bot.store.db import Db


class JobsTable(Db):
    def create_job(self, kind: str, user_id: str, payload: dict[str, Any]) -> int:
        now = self._now()
        cursor = self._write(
            "INSERT INTO jobs (kind, user_id, state, payload, created_at, updated_at)"
            " VALUES (?, ?, 'pending', ?, ?, ?)",
            [kind, user_id, json.dumps(payload), now, now],
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def get_job(self, job_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM jobs WHERE id = ?", [job_id])
        if row:
            row["payload"] = json.loads(row["payload"])
            row["result"] = json.loads(row["result"]) if row["result"] else None
        return row

    def claim_job(self, job_id: int, user_id: str) -> bool:
        """Move a pending job to running once: a double click or a retry claims nothing."""
        cursor = self._write(
            "UPDATE jobs SET state = 'running', updated_at = ? WHERE id = ? AND user_id = ?"
            " AND state = 'pending'",
            [self._now(), job_id, user_id],
        )
        return cursor.rowcount == 1

    def update_job(self, job_id: int, **fields: Any) -> None:
        if "result" in fields:
            fields["result"] = json.dumps(fields["result"])
        fields["updated_at"] = self._now()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self._write(f"UPDATE jobs SET {assignments} WHERE id = ?", [*fields.values(), job_id])
