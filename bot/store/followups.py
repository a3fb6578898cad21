"""Follow-ups mirrored from Kaleyra, with who owns each and where its reminder stands."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.models import Followup, ReminderState
from bot.store.db import Db, iso


def _to_row(item: Followup) -> dict[str, Any]:
    return {
        "id": item.id,
        "user_id": item.user_id,
        "follower": item.follower,
        "phone": item.phone,
        "name": item.name,
        "ontime": iso(item.ontime),
        "notes": item.notes,
        "autocall": int(item.autocall),
        "state": item.state,
        "source": item.source,
        "reminder_state": item.reminder,
        "remind_at": iso(item.remind_at) if item.remind_at else None,
    }


def _from_row(row: dict[str, Any]) -> Followup:
    return Followup(
        id=row["id"],
        phone=row["phone"],
        name=row["name"] or "",
        follower=row["follower"],
        ontime=datetime.fromisoformat(row["ontime"]),
        notes=row["notes"] or "",
        autocall=bool(row["autocall"]),
        user_id=row["user_id"],
        state=row["state"] or "active",
        source=row.get("source") or "slack",
        reminder=row.get("reminder_state") or "pending",
        remind_at=datetime.fromisoformat(row["remind_at"]) if row.get("remind_at") else None,
    )


class FollowupsTable(Db):
    async def save_followup(self, item: Followup) -> None:
        """Insert or replace one follow-up (its creation time is kept)."""
        now = self._now()
        record = {**_to_row(item), "created_at": now, "updated_at": now}
        columns = ", ".join(record)
        marks = ", ".join("?" for _ in record)
        updates = ", ".join(f"{c} = excluded.{c}" for c in record if c not in {"id", "created_at"})
        await self._write(
            f"INSERT INTO followups ({columns}) VALUES ({marks})"
            f" ON CONFLICT(id) DO UPDATE SET {updates}",
            list(record.values()),
        )

    async def get_followup(self, followup_id: str) -> Followup | None:
        row = await self._one("SELECT * FROM followups WHERE id = ?", [followup_id])
        return _from_row(row) if row else None

    async def followups(self, follower: str | None = None) -> list[Followup]:
        """Active follow-ups, soonest first; of one follower number when given."""
        if follower:
            rows = await self._all(
                "SELECT * FROM followups WHERE state = 'active' AND follower = ? ORDER BY ontime",
                [follower],
            )
        else:
            rows = await self._all("SELECT * FROM followups WHERE state = 'active' ORDER BY ontime")
        return [_from_row(r) for r in rows]

    async def upcoming_followups(
        self, follower: str, after: datetime, limit: int = 5
    ) -> list[Followup]:
        """The next active follow-ups of one follower after `after` (App Home), by index."""
        rows = await self._all(
            "SELECT * FROM followups WHERE follower = ? AND ontime > ? AND state = 'active'"
            " ORDER BY ontime LIMIT ?",
            [follower, iso(after), limit],
        )
        return [_from_row(r) for r in rows]

    async def followups_to_remind(self, ontime_until: datetime, limit: int = 500) -> list[Followup]:
        """Active follow-ups whose reminder is pending and whose time is at most `ontime_until`.

        Read by the (reminder_state, ontime) index: a follow-up leaves this set once its reminder
        is sent or reported missed, so past follow-ups are not read again every minute.
        """
        rows = await self._all(
            "SELECT * FROM followups WHERE reminder_state = 'pending' AND ontime <= ?"
            " AND state = 'active' ORDER BY ontime LIMIT ?",
            [iso(ontime_until), limit],
        )
        return [_from_row(r) for r in rows]

    async def known_followup_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` the store already has (in any state)."""
        wanted = list(dict.fromkeys(ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = await self._all(f"SELECT id FROM followups WHERE id IN ({marks})", chunk)
            found.update(r["id"] for r in rows)
        return found

    async def delete_followup(self, followup_id: str) -> None:
        await self.set_followup_state(followup_id, "deleted")

    async def set_followup_state(self, followup_id: str, state: str) -> None:
        await self._write(
            "UPDATE followups SET state = ?, updated_at = ? WHERE id = ?",
            [state, self._now(), followup_id],
        )

    async def snooze_followup(self, followup_id: str, remind_at: datetime) -> None:
        """Remind again at `remind_at`."""
        await self._write(
            "UPDATE followups SET remind_at = ?, reminder_state = 'pending', updated_at = ?"
            " WHERE id = ?",
            [iso(remind_at), self._now(), followup_id],
        )

    async def set_reminder_state(self, followup_id: str, state: ReminderState) -> None:
        await self._write(
            "UPDATE followups SET reminder_state = ?, updated_at = ? WHERE id = ?",
            [state, self._now(), followup_id],
        )
