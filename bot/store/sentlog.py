"""The exactly-once sent log: reminders and digests are claimed, then sent, released or missed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.models import SentEntry
from bot.runtime.metrics import SENDS
from bot.store.db import Db, iso


def _entry(row: dict[str, Any]) -> SentEntry:
    return SentEntry(**{**row, "late": bool(row.get("late"))})


class SentLogTable(Db):
    async def claim(
        self, key: str, kind: str, due_at: datetime, *, late: bool = False, detail: str = ""
    ) -> bool:
        """Claim `key` (a job and its due time) for sending: True once, ever, for each key.

        `detail` says what it was, should the claim go stale (see `sweep_stale_claims`).
        """
        written = await self._write(
            "INSERT INTO sent_log (key, kind, due_at, state, late, at, detail)"
            " VALUES (?, ?, ?, 'claimed', ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            [key, kind, iso(due_at), int(late), self._now(), detail or None],
        )
        return written.rowcount == 1

    async def mark_sent(self, key: str) -> None:
        row = await self._one("SELECT kind, late FROM sent_log WHERE key = ?", [key])
        await self._write(
            "UPDATE sent_log SET state = 'sent', at = ? WHERE key = ?", [self._now(), key]
        )
        if row:
            SENDS.labels(row["kind"], "late" if row["late"] else "on_time").inc()

    async def release(self, key: str) -> None:
        """Sending failed: let the next run try again."""
        await self._write("DELETE FROM sent_log WHERE key = ? AND state = 'claimed'", [key])

    async def mark_missed(self, key: str, kind: str, due_at: datetime, detail: str) -> bool:
        written = await self._write(
            "INSERT INTO sent_log (key, kind, due_at, state, late, at, detail)"
            " VALUES (?, ?, ?, 'missed', 1, ?, ?) ON CONFLICT (key) DO NOTHING",
            [key, kind, iso(due_at), self._now(), detail],
        )
        if written.rowcount != 1:
            return False
        SENDS.labels(kind, "missed").inc()
        return True

    async def sweep_stale_claims(self, claimed_before: datetime) -> int:
        """Claims never confirmed sent (the process stopped mid-send) become missed items.

        They are not retried: the message may have gone out. They are listed as missed instead,
        so nothing stays claimed forever unseen.
        """
        async with self._tx() as tx:
            rows = await tx.all(
                "SELECT key, kind FROM sent_log WHERE state = 'claimed' AND at < ?",
                [iso(claimed_before)],
            )
            await tx.write(
                "UPDATE sent_log SET state = 'missed', late = 1,"
                " detail = COALESCE(detail, kind) || ' (interrupted: it may not have been sent)'"
                " WHERE state = 'claimed' AND at < ?",
                [iso(claimed_before)],
            )
        for row in rows:
            SENDS.labels(row["kind"], "missed").inc()
        return len(rows)

    async def is_sent(self, key: str) -> bool:
        """Whether `key` was sent or otherwise settled (claimed, missed, reported)."""
        return await self._one("SELECT 1 AS x FROM sent_log WHERE key = ?", [key]) is not None

    async def sent_entries(
        self, kind: str | None = None, state: str | None = None
    ) -> list[SentEntry]:
        clauses, params = [], []
        if kind:
            clauses.append("kind = ?")
            params.append(kind)
        if state:
            clauses.append("state = ?")
            params.append(state)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._all(f"SELECT * FROM sent_log{where} ORDER BY due_at", params)
        return [_entry(r) for r in rows]

    async def missed_entries(self, limit: int = 200) -> list[SentEntry]:
        """Missed items not yet reported in a digest, oldest first."""
        rows = await self._all(
            "SELECT * FROM sent_log WHERE state = 'missed' ORDER BY due_at LIMIT ?", [limit]
        )
        return [_entry(r) for r in rows]

    async def mark_reported(self, keys: Iterable[str]) -> None:
        """The digest that listed these missed items was posted."""
        async with self._tx() as tx:
            await tx.many(
                "UPDATE sent_log SET state = 'reported' WHERE key = ? AND state = 'missed'",
                [[k] for k in keys],
            )
