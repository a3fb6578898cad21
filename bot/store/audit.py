"""The audit trail: who did what to Kaleyra, when, with what outcome (numbers masked)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.models import AuditEntry
from bot.phones import mask
from bot.store.db import Db


def _entry(row: dict[str, Any]) -> AuditEntry:
    try:
        detail = json.loads(row.get("detail") or "{}")
    except ValueError:
        detail = {"raw": row.get("detail")}
    return AuditEntry(
        **{
            **row,
            "numbers": row.get("numbers") or "",
            "kaleyra_ids": row.get("kaleyra_ids") or "",
            "detail": detail if isinstance(detail, dict) else {"value": detail},
        }
    )


class AuditTable(Db):
    async def audit(
        self,
        *,
        user_id: str,
        action: str,
        outcome: str,
        numbers: Iterable[str] = (),
        kaleyra_ids: Iterable[str] = (),
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self._write(
            "INSERT INTO audit (at, user_id, action, outcome, numbers, kaleyra_ids, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                self._now(),
                user_id,
                action,
                outcome,
                ",".join(mask(n) for n in numbers),
                ",".join(kaleyra_ids),
                json.dumps(detail or {}, default=str),
            ],
        )

    async def audit_entries(
        self, limit: int = 50, *, action: str | None = None
    ) -> list[AuditEntry]:
        """The latest entries first; of one action (`c2c.refused`, …) when given."""
        if action:
            rows = await self._all(
                "SELECT * FROM audit WHERE action = ? ORDER BY id DESC LIMIT ?", [action, limit]
            )
        else:
            rows = await self._all("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [limit])
        return [_entry(r) for r in rows]
