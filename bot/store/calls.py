"""Calls the bot placed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from bot.models import CallRow, OpenCall
from bot.store.db import Db, StoreError, iso


class CallsTable(Db):
    async def create_calls(
        self,
        kind: str,
        calls: Iterable[tuple[str, str, str]],
        token_for: Callable[[int], str] | None = None,
    ) -> list[CallRow]:
        """Insert (user_id, agent_number, customer_number) calls in one transaction.

        A burst of dials is recorded with one commit; `token_for(id)` mints each callback token
        in the same transaction (the token needs the id).
        """
        now = self._now()
        rows: list[CallRow] = []
        async with self._tx() as tx:
            for user_id, agent_number, customer_number in calls:
                call_id = await tx.insert(
                    "INSERT INTO calls (kind, user_id, agent_number, customer_number, state,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, 'placing', ?, ?)",
                    [kind, user_id, agent_number, customer_number, now, now],
                )
                token = token_for(call_id) if token_for else None
                if token:
                    await tx.write(
                        "UPDATE calls SET callback_token = ? WHERE id = ?", [token, call_id]
                    )
                fields = dict.fromkeys(CallRow.__dataclass_fields__)
                fields.update(
                    id=call_id,
                    kind=kind,
                    user_id=user_id,
                    agent_number=agent_number,
                    customer_number=customer_number,
                    state="placing",
                    callback_token=token,
                    created_at=now,
                    updated_at=now,
                )
                rows.append(CallRow(**fields))
        return rows

    async def get_call(self, call_id: int) -> CallRow:
        row = await self._one("SELECT * FROM calls WHERE id = ?", [call_id])
        if row is None:
            raise StoreError(f"No call {call_id}.")
        return CallRow.from_row(row)

    async def find_call(self, call_id: int) -> CallRow | None:
        """The call, or None when there is none (retention may have pruned it)."""
        row = await self._one("SELECT * FROM calls WHERE id = ?", [call_id])
        return CallRow.from_row(row) if row else None

    async def call_by_token(self, token: str) -> CallRow | None:
        row = await self._one("SELECT * FROM calls WHERE callback_token = ?", [token])
        return CallRow.from_row(row) if row else None

    async def update_call(self, call_id: int, **fields: Any) -> CallRow:
        fields["updated_at"] = self._now()
        if fields.get("state") == "final":
            fields.setdefault("final_at", fields["updated_at"])
        unknown = set(fields) - set(CallRow.__dataclass_fields__)
        if unknown:
            raise StoreError(f"calls has no column {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        row = await self._returning(  # the row as it is now comes back with the write
            f"UPDATE calls SET {assignments} WHERE id = ? RETURNING *", [*fields.values(), call_id]
        )
        if row is None:
            raise StoreError(f"No call {call_id}.")
        return CallRow.from_row(row)

    async def recent_call_keys(self, within: timedelta) -> list[tuple[str, str, str, str]]:
        """(user_id, agent, customer, created_at) of the calls not failed in the last `within`."""
        rows = await self._all(
            "SELECT user_id, agent_number, customer_number, created_at FROM calls"
            " WHERE created_at >= ? AND state != 'failed' ORDER BY created_at",
            [iso(self.clock() - within)],
        )
        return [
            (r["user_id"], r["agent_number"], r["customer_number"], r["created_at"]) for r in rows
        ]

    async def placed_since(self, user_id: str, agent: str, customer: str, since: str) -> bool:
        """The same call (user, both numbers) placed at or after `since` and not failed."""
        row = await self._one(
            "SELECT 1 AS yes FROM calls WHERE user_id = ? AND created_at >= ?"
            " AND agent_number = ? AND customer_number = ? AND state != 'failed' LIMIT 1",
            [user_id, since, agent, customer],
        )
        return row is not None

    async def open_calls(self) -> list[CallRow]:
        # Only calls Kaleyra gave an id can be followed; the terms match idx_calls_open's.
        rows = await self._all(
            "SELECT * FROM calls WHERE state IN ('placed', 'unknown') AND kaleyra_id IS NOT NULL"
            " ORDER BY id"
        )
        return [CallRow.from_row(r) for r in rows]

    async def open_call_refs(self) -> list[OpenCall]:
        """`open_calls` without building every row: the poll runs every 2 s, on SQLite inline
        on the event loop (1,500 open calls: 1.5 ms instead of 10)."""
        rows = await self._all(
            "SELECT id, kaleyra_id, created_at FROM calls"
            " WHERE state IN ('placed', 'unknown') AND kaleyra_id IS NOT NULL ORDER BY id"
        )
        return [OpenCall(r["id"], r["kaleyra_id"], r["created_at"]) for r in rows]

    async def has_open_calls(self) -> bool:
        row = await self._one(
            "SELECT 1 AS yes FROM calls"
            " WHERE state IN ('placed', 'unknown') AND kaleyra_id IS NOT NULL LIMIT 1"
        )
        return row is not None

    async def calls_being_placed(self) -> list[CallRow]:
        rows = await self._all("SELECT * FROM calls WHERE state = 'placing' ORDER BY id")
        return [CallRow.from_row(r) for r in rows]

    async def recent_calls(self, user_id: str, limit: int = 5) -> list[CallRow]:
        rows = await self._all(
            "SELECT * FROM calls WHERE user_id = ? ORDER BY id DESC LIMIT ?", [user_id, limit]
        )
        return [CallRow.from_row(r) for r in rows]
