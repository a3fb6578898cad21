"""The audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.phones import mask
from bot.store.db import Db


class AuditTable(Db):
    def audit(
        self,
        *,
        user_id: str,
        action: str,
        outcome: str,
        numbers: Iterable[str] = (),
        kaleyra_ids: Iterable[str] = (),
        detail: dict[str, Any] | None = None,
    ) -> None:
        self._write(
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

    def audit_entries(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [limit])
