"""Broadcast and dialer jobs: the campaign row, its plan and its result, typed."""

from __future__ import annotations

from typing import Any

from bot.models import BroadcastPlan, BroadcastResult, Campaign
from bot.store.db import Db

_CAMPAIGN_COLUMNS = (
    "id, kind, user_id, state, payload, result, channel, message_ts, created_at, updated_at,"
    " pause_reason, paused_by, started_at, results_at"
)


def campaign_from_row(row: dict[str, Any], plan: BroadcastPlan | None = None) -> Campaign:
    return Campaign(
        **{k: v for k, v in row.items() if k not in ("payload", "result")},
        plan=plan or BroadcastPlan.model_validate_json(row["payload"]),
        result=BroadcastResult.model_validate_json(row["result"]) if row["result"] else None,
    )


class JobsTable(Db):
    async def create_job(self, kind: str, user_id: str, plan: BroadcastPlan) -> int:
        now = self._now()
        return await self._insert(
            "INSERT INTO jobs (kind, user_id, state, payload, created_at, updated_at)"
            " VALUES (?, ?, 'pending', ?, ?, ?)",
            [kind, user_id, plan.model_dump_json(), now, now],
        )

    async def create_rerun(self, user_id: str, plan: BroadcastPlan, since: str) -> int:
        """A re-run of `plan.again_of` for `user_id`, unless one created after `since` still
        waits for its Start: then that one. One statement, so two clicks make one row."""
        now = self._now()
        match = (
            " FROM jobs WHERE state = 'pending' AND user_id = ? AND created_at >= ?"
            " AND CAST(json_extract(payload, '$.again_of') AS TEXT) = ?"
        )
        params = [user_id, since, str(plan.again_of)]
        await self._write(
            "INSERT INTO jobs (kind, user_id, state, payload, created_at, updated_at)"
            f" SELECT ?, ?, 'pending', ?, ?, ? WHERE NOT EXISTS (SELECT 1{match})",
            [plan.kind, user_id, plan.model_dump_json(), now, now, *params],
        )
        row = await self._one(f"SELECT id{match} ORDER BY id LIMIT 1", params)
        assert row is not None
        return int(row["id"])

    async def get_job(self, job_id: int, *, plan: BroadcastPlan | None = None) -> Campaign | None:
        """The campaign; given the `plan` it already knows, the caller skips reading it again
        (a 100 000-number plan is megabytes of JSON)."""
        columns = (
            _CAMPAIGN_COLUMNS.replace("payload", "'' AS payload") if plan else _CAMPAIGN_COLUMNS
        )
        row = await self._one(f"SELECT {columns} FROM jobs WHERE id = ?", [job_id])
        return campaign_from_row(row, plan) if row else None

    async def update_job(
        self,
        job_id: int,
        *,
        state: str | None = None,
        result: BroadcastResult | None = None,
        channel: str | None = None,
        message_ts: str | None = None,
        results_at: str | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "state": state,
            "result": result.model_dump_json() if result is not None else None,
            "channel": channel,
            "message_ts": message_ts,
            "results_at": results_at,
        }
        fields = {k: v for k, v in fields.items() if v is not None}
        fields["updated_at"] = self._now()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self._write(f"UPDATE jobs SET {assignments} WHERE id = ?", [*fields.values(), job_id])

    async def cancel_pending(self, job_id: int, user_id: str) -> bool:
        """The owner's Cancel on a confirmation: once, and only before it started."""
        cursor = await self._write(
            "UPDATE jobs SET state = 'cancelled', updated_at = ? WHERE id = ? AND user_id = ?"
            " AND state = 'pending'",
            [self._now(), job_id, user_id],
        )
        return cursor.rowcount == 1

    async def expire_job(self, job_id: int) -> bool:
        """A confirmation clicked too late: it can never start."""
        cursor = await self._write(
            "UPDATE jobs SET state = 'expired', updated_at = ? WHERE id = ? AND state = 'pending'",
            [self._now(), job_id],
        )
        return cursor.rowcount == 1
