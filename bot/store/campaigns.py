"""Campaigns chunk by chunk: every Kaleyra request of a broadcast is a row, settled on its own.

A chunk is marked `sending` in its own transaction before its request and settled (accepted,
refused, unknown) in another after it, so whatever stops the process, the store knows which
chunks never went out (pending), which did (settled) and which may have (sending → unknown).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.models import BroadcastPlan, CampaignCounts, CampaignListing, ChunkRow
from bot.store.jobs import JobsTable

ACTIVE = ("running", "paused", "interrupted")
_CHUNK_COLUMNS = "job_id, idx, numbers, size, state, group_ids, code, error, sent_at, done_at"


def _chunk(row: dict[str, Any]) -> ChunkRow:
    return ChunkRow(
        **{
            **row,
            "numbers": json.loads(row["numbers"] or "[]"),
            "group_ids": json.loads(row["group_ids"] or "[]"),
        }
    )


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class CampaignsTable(JobsTable):
    # ------------------------------------------------------------------ the campaign row

    async def start_campaign(
        self,
        job_id: int,
        user_id: str,
        plan: BroadcastPlan | None,
        chunks: Sequence[tuple[list[str], int]],
    ) -> bool:
        """Pending → running with its chunks, in one transaction: once, for the owner only.

        `chunks` are (numbers, size) in sending order; `plan` replaces the stored one when the
        re-check at Start changed it (None: unchanged). A double click, a retry or another user
        claims nothing.
        """
        now = self._now()
        payload = ", payload = ?" if plan is not None else ""
        async with self._tx() as tx:
            cursor = await tx.write(
                f"UPDATE jobs SET state = 'running'{payload}, started_at = ?, updated_at = ?"
                " WHERE id = ? AND user_id = ? AND state = 'pending'",
                [
                    *([plan.model_dump_json()] if plan is not None else []),
                    now,
                    now,
                    job_id,
                    user_id,
                ],
            )
            if cursor.rowcount != 1:
                return False
            await tx.many(
                "INSERT INTO campaign_chunks (job_id, idx, numbers, size, state, group_ids)"
                " VALUES (?, ?, ?, ?, 'pending', '[]')",
                [(job_id, i, json.dumps(n), size) for i, (n, size) in enumerate(chunks)],
            )
        return True

    async def campaign_state(self, job_id: int) -> str | None:
        row = await self._one("SELECT state FROM jobs WHERE id = ?", [job_id])
        return row["state"] if row else None

    async def move_campaign(
        self,
        job_id: int,
        to: str,
        *,
        since: Sequence[str],
        reason: str | None = None,
        by: str | None = None,
        only_reason: str | None = None,
    ) -> bool:
        """One state change, if the campaign is still in one of `since` (and paused for
        `only_reason`, when given). `reason`/`by` say who paused it; any other move clears them."""
        sql = (
            f"UPDATE jobs SET state = ?, pause_reason = ?, paused_by = ?, updated_at = ?"
            f" WHERE id = ? AND state IN ({_marks(since)})"
        )
        params: list[Any] = [to, reason, by, self._now(), job_id, *since]
        if only_reason is not None:
            sql += " AND pause_reason = ?"
            params.append(only_reason)
        return (await self._write(sql, params)).rowcount == 1

    async def cancel_campaign(self, job_id: int) -> int | None:
        """Running, paused or interrupted → cancelled, and every unsent chunk with it, at once.

        Returns how many numbers will not be called, or None when it was not active.
        """
        now = self._now()
        async with self._tx() as tx:
            cursor = await tx.write(
                "UPDATE jobs SET state = 'cancelled', pause_reason = NULL, updated_at = ?"
                f" WHERE id = ? AND state IN ({_marks(ACTIVE)})",
                [now, job_id, *ACTIVE],
            )
            if cursor.rowcount != 1:
                return None
            row = await tx.one(
                "SELECT COALESCE(SUM(size), 0) AS n FROM campaign_chunks"
                " WHERE job_id = ? AND state = 'pending'",
                [job_id],
            )
            await tx.write(
                "UPDATE campaign_chunks SET state = 'cancelled', done_at = ?"
                " WHERE job_id = ? AND state = 'pending'",
                [now, job_id],
            )
        return int(row["n"]) if row else 0

    async def interrupt_campaign(self, job_id: int) -> bool:
        """After a restart: running → interrupted, and chunks caught sending become unknown.

        Nobody knows whether Kaleyra got those requests, so they are never sent again.
        """
        now = self._now()
        async with self._tx() as tx:
            cursor = await tx.write(
                "UPDATE jobs SET state = 'interrupted', sender_until = NULL, updated_at = ?"
                " WHERE id = ? AND state = 'running'",
                [now, job_id],
            )
            if cursor.rowcount != 1:
                return False
            await tx.write(
                "UPDATE campaign_chunks SET state = 'unknown', done_at = ?,"
                " error = 'The bot stopped while this request was on its way; Kaleyra may or may"
                " not have it, so it was not sent again.'"
                " WHERE job_id = ? AND state = 'sending'",
                [now, job_id],
            )
        return True

    # ------------------------------------------------------------------ its sender's lease

    async def claim_sender(self, job_id: int, until: str, by: str) -> bool:
        """Become the one sender of a running campaign, unless another's lease still holds."""
        cursor = await self._write(
            "UPDATE jobs SET sender_until = ?, sender_by = ? WHERE id = ? AND state = 'running'"
            " AND (sender_until IS NULL OR sender_until < ?)",
            [until, by, job_id, self._now()],
        )
        return cursor.rowcount == 1

    async def renew_senders(self, job_ids: Sequence[int], until: str, by: str) -> None:
        """The heartbeat: every lease this replica holds runs on to `until`."""
        if job_ids:
            await self._write(
                f"UPDATE jobs SET sender_until = ? WHERE id IN ({_marks(job_ids)})"
                " AND sender_by = ?",
                [until, *job_ids, by],
            )

    async def release_sender(self, job_id: int) -> None:
        await self._write(
            "UPDATE jobs SET sender_until = NULL, sender_by = NULL WHERE id = ?", [job_id]
        )

    async def senderless_campaigns(self) -> list[tuple[int, str | None]]:
        """(id, last sender) of the running campaigns nobody is sending: no lease, or one that
        ran out (its sender failed, or its replica died)."""
        rows = await self._all(
            "SELECT id, sender_by FROM jobs WHERE state = 'running'"
            " AND (sender_until IS NULL OR sender_until < ?) ORDER BY id",
            [self._now()],
        )
        return [(r["id"], r["sender_by"]) for r in rows]

    async def campaign_ids(self, *states: str, reason: str | None = None) -> list[int]:
        sql = f"SELECT id FROM jobs WHERE state IN ({_marks(states)})"
        params: list[Any] = list(states)
        if reason is not None:
            sql += " AND pause_reason = ?"
            params.append(reason)
        return [r["id"] for r in await self._all(sql + " ORDER BY id", params)]

    async def overlapping_campaigns(
        self, job_id: int, numbers: Sequence[str], group: str | None, since: str
    ) -> list[tuple[int, str, int]]:
        """(id, owner, numbers shared) of the other broadcasts started since `since` that sent,
        are sending or will send any of `numbers` (or call the same contact `group`), unless
        their calls are over: every one final, as their results say (kaleyra.io's results
        cannot say so)."""
        started = (
            "j.id != ? AND j.kind = 'obd' AND j.started_at IS NOT NULL AND j.started_at >= ?"
            " AND NOT (j.results_at IS NOT NULL"
            " AND COALESCE(json_extract(j.payload, '$.via_io'), 0) = 0)"
        )
        found: dict[int, tuple[str, int]] = {}
        if numbers:
            rows = await self._all(
                "SELECT j.id, j.user_id, COUNT(*) AS shared FROM jobs j"
                " JOIN campaign_chunks c ON c.job_id = j.id, json_each(c.numbers) n"
                f" WHERE {started} AND c.state NOT IN ('refused', 'cancelled')"
                " AND n.value IN (SELECT value FROM json_each(?)) GROUP BY j.id ORDER BY j.id",
                [job_id, since, json.dumps(list(numbers))],
            )
            found.update({r["id"]: (r["user_id"], int(r["shared"])) for r in rows})
        if group:
            rows = await self._all(
                f"SELECT j.id, j.user_id FROM jobs j WHERE {started}"
                " AND json_extract(j.payload, '$.group') = ? ORDER BY j.id",
                [job_id, since, group],
            )
            found.update({r["id"]: (r["user_id"], 0) for r in rows})
        return [(i, owner, shared) for i, (owner, shared) in sorted(found.items())]

    async def tracked_campaigns(self) -> list[int]:
        """Campaigns whose calls are followed: sending ended, some chunk has group ids, and the
        results are not out yet."""
        rows = await self._all(
            "SELECT DISTINCT j.id FROM jobs j JOIN campaign_chunks c ON c.job_id = j.id"
            " WHERE j.state IN ('tracking', 'cancelled') AND j.results_at IS NULL"
            " AND c.state = 'accepted' AND c.group_ids != '[]' ORDER BY j.id"
        )
        return [r["id"] for r in rows]

    async def recent_campaigns(self, limit: int = 10) -> list[CampaignListing]:
        """The newest campaigns that were started, without reading their number lists."""
        rows = await self._all(
            "SELECT id, kind, user_id, state, created_at,"
            " json_extract(payload, '$.campaign') AS name,"
            " json_extract(payload, '$.group') AS grp,"
            " json_array_length(payload, '$.numbers') AS total"
            " FROM jobs WHERE state NOT IN ('pending', 'expired')"
            " AND started_at IS NOT NULL ORDER BY id DESC LIMIT ?",
            [limit],
        )
        counts = await self._counts([r["id"] for r in rows])
        return [
            CampaignListing(
                id=r["id"],
                kind=r["kind"],
                user_id=r["user_id"],
                state=r["state"],
                created_at=r["created_at"],
                name=r["name"],
                total=1 if r["grp"] else int(r["total"] or 0),
                counts=counts.get(r["id"], CampaignCounts()),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ its chunks

    async def next_chunk(self, job_id: int) -> ChunkRow | None:
        """The first chunk never sent."""
        row = await self._one(
            f"SELECT {_CHUNK_COLUMNS} FROM campaign_chunks WHERE job_id = ? AND state = 'pending'"
            " ORDER BY idx LIMIT 1",
            [job_id],
        )
        return _chunk(row) if row else None

    async def claim_chunk(self, job_id: int, idx: int) -> bool:
        """Pending → sending, before its request: committed before anything reaches Kaleyra."""
        cursor = await self._write(
            "UPDATE campaign_chunks SET state = 'sending', sent_at = ?"
            " WHERE job_id = ? AND idx = ? AND state = 'pending'",
            [self._now(), job_id, idx],
        )
        return cursor.rowcount == 1

    async def settle_chunk(
        self,
        job_id: int,
        idx: int,
        state: str,
        *,
        group_ids: Sequence[str] = (),
        code: str | None = None,
        error: str | None = None,
    ) -> None:
        """Sending → accepted, refused or unknown: what Kaleyra said (or did not) about it."""
        await self._write(
            "UPDATE campaign_chunks SET state = ?, group_ids = ?, code = ?, error = ?, done_at = ?"
            " WHERE job_id = ? AND idx = ? AND state = 'sending'",
            [state, json.dumps(list(group_ids)), code, error, self._now(), job_id, idx],
        )

    async def settle_stray_chunks(self, job_id: int) -> int:
        """Chunks left `sending` with no request in flight (a write that failed): unknown."""
        cursor = await self._write(
            "UPDATE campaign_chunks SET state = 'unknown', done_at = ?,"
            " error = 'The outcome of this request was not recorded; it was not sent again.'"
            " WHERE job_id = ? AND state = 'sending'",
            [self._now(), job_id],
        )
        return cursor.rowcount

    async def chunks(self, job_id: int) -> list[ChunkRow]:
        rows = await self._all(
            f"SELECT {_CHUNK_COLUMNS} FROM campaign_chunks WHERE job_id = ? ORDER BY idx",
            [job_id],
        )
        return [_chunk(r) for r in rows]

    async def chunk_outline(self, job_id: int) -> list[ChunkRow]:
        """Every chunk without its numbers: what the progress message needs, cheaply."""
        rows = await self._all(
            "SELECT job_id, idx, '[]' AS numbers, size, state, group_ids, code, error, sent_at,"
            " done_at FROM campaign_chunks WHERE job_id = ? ORDER BY idx",
            [job_id],
        )
        return [_chunk(r) for r in rows]

    async def chunk_summary(
        self, job_id: int
    ) -> tuple[CampaignCounts, list[tuple[int, str]], list[str]]:
        """What a progress message shows, without a model per chunk: the counts, (idx, error)
        of refused and unknown chunks, and every group id in sending order."""
        async with self._tx() as tx:
            errors = await tx.all(
                "SELECT idx, error FROM campaign_chunks WHERE job_id = ? AND COALESCE(error, '') != ''"
                " AND state IN ('refused', 'unknown') ORDER BY idx",
                [job_id],
            )
            groups = await tx.all(
                "SELECT group_ids FROM campaign_chunks WHERE job_id = ? AND group_ids != '[]'"
                " ORDER BY idx",
                [job_id],
            )
        group_ids = [g for row in groups for g in json.loads(row["group_ids"])]
        errors_by_idx = [(row["idx"], row["error"]) for row in errors]
        return await self.chunk_counts(job_id), errors_by_idx, group_ids

    async def last_sent(self, job_id: int) -> tuple[str, int] | None:
        """(sent_at, size) of the chunk that went out last: where the pace goes on from."""
        row = await self._one(
            "SELECT sent_at, size FROM campaign_chunks WHERE job_id = ? AND sent_at IS NOT NULL"
            " ORDER BY sent_at DESC, idx DESC LIMIT 1",
            [job_id],
        )
        return (row["sent_at"], int(row["size"])) if row else None

    async def sending_ended_at(self, job_id: int) -> str | None:
        """When its last request was settled (or cancelled): where following its calls starts."""
        row = await self._one(
            "SELECT MAX(done_at) AS at FROM campaign_chunks WHERE job_id = ?", [job_id]
        )
        return row["at"] if row else None

    async def chunk_counts(self, job_id: int) -> CampaignCounts:
        return (await self._counts([job_id])).get(job_id, CampaignCounts())

    async def has_pending_chunks(self, job_id: int) -> bool:
        row = await self._one(
            "SELECT 1 AS x FROM campaign_chunks WHERE job_id = ? AND state = 'pending' LIMIT 1",
            [job_id],
        )
        return row is not None

    async def _counts(self, job_ids: Sequence[int]) -> dict[int, CampaignCounts]:
        if not job_ids:
            return {}
        rows = await self._all(
            "SELECT job_id, state, COUNT(*) AS chunks, SUM(size) AS numbers FROM campaign_chunks"
            f" WHERE job_id IN ({_marks(job_ids)}) GROUP BY job_id, state",
            list(job_ids),
        )
        numbers: dict[int, dict[str, int]] = {}
        chunks: dict[int, dict[str, int]] = {}
        for r in rows:
            numbers.setdefault(r["job_id"], {})[r["state"]] = int(r["numbers"] or 0)
            chunks.setdefault(r["job_id"], {})[r["state"]] = int(r["chunks"])
        return {
            job_id: CampaignCounts(numbers=numbers[job_id], chunks=chunks[job_id])
            for job_id in numbers
        }
