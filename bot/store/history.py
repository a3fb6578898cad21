"""A year of history: paged reads by index, and retention that prunes in small batches.

Every read here costs what its page costs, however many rows the table holds (issue 14): each
query walks an index from a key and stops at its limit. Retention deletes at most `batch` rows of
a table per call, each batch its own short transaction, so a job that calls it repeatedly (and
yields in between) never holds the connection long enough to stretch an ack.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.models import BlacklistEntry, CallRow
from bot.store.db import Db, iso

# A call is kept, however old, while anything still needs it: it is being placed or followed
# (placing, placed, or unknown with a Kaleyra id the tracker still reads), an open call-back claim
# points at it, or its outcome's follow-up is still ahead.
_PRUNABLE_CALLS = (
    "SELECT id FROM calls WHERE created_at < ? AND state NOT IN ('placing', 'placed')"
    " AND NOT (state = 'unknown' AND kaleyra_id IS NOT NULL)"
    " AND NOT EXISTS (SELECT 1 FROM feed_calls f WHERE f.callback_call_id = calls.id"
    " AND f.callback_state IN ('dialling', 'unknown'))"
    # a claim not yet linked to its call finds it by who, whom and when (call_placed_by)
    " AND NOT EXISTS (SELECT 1 FROM feed_calls f WHERE f.caller = calls.customer_number"
    " AND f.callback_state IN ('dialling', 'unknown') AND f.callback_call_id IS NULL"
    " AND f.claimed_by = calls.user_id AND f.claimed_at <= calls.created_at)"
    " AND NOT EXISTS (SELECT 1 FROM call_outcomes o WHERE o.call_id = calls.id"
    " AND o.followup_at >= ?)"
    " ORDER BY created_at LIMIT ?"
)
_PRUNABLE_FEED = (
    "SELECT key FROM feed_calls WHERE started_at < ?"
    " AND (callback_state IS NULL OR callback_state NOT IN ('dialling', 'unknown'))"
    " ORDER BY started_at LIMIT ?"
)


class HistoryTable(Db):
    async def call_history(
        self, user_id: str, *, before_id: int | None = None, limit: int = 20
    ) -> list[CallRow]:
        """A page of the user's own calls, newest first; the next page starts before the last id.

        Read backwards along the (user_id, id) index: the same cost on page 1 and page 500.
        """
        if before_id is None:
            rows = await self._all(
                "SELECT * FROM calls WHERE user_id = ? ORDER BY id DESC LIMIT ?", [user_id, limit]
            )
        else:
            rows = await self._all(
                "SELECT * FROM calls WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                [user_id, before_id, limit],
            )
        return [CallRow.from_row(r) for r in rows]

    async def blacklist_page(
        self, *, after: tuple[str, str] | None = None, limit: int = 60
    ) -> list[BlacklistEntry]:
        """Newest first, `limit` at a time; `after` is (added_at, number) of the previous page's
        last entry. Read along the (added_at, number) index, never sorted whole."""
        sql = "SELECT * FROM blacklist"
        params: list[object] = []
        if after is not None:
            sql += " WHERE (added_at, number) < (?, ?)"
            params += list(after)
        rows = await self._all(
            sql + " ORDER BY added_at DESC, number DESC LIMIT ?", [*params, limit]
        )
        return [BlacklistEntry(**{**r, "reason": r.get("reason") or ""}) for r in rows]

    async def prune_history(
        self, now: datetime, audit_days: int, call_days: int, batch: int = 100
    ) -> int:
        """Delete at most `batch` audit rows older than `audit_days`, at most `batch` settled
        calls older than `call_days` (with their outcomes and claims) and at most `batch` feed
        calls as old; returns how many rows went (0 = nothing left to prune).

        One call is one short transaction per table (a few milliseconds): call it again until it
        returns 0, yielding to the event loop in between.
        """
        audit_cutoff = iso(now - timedelta(days=audit_days))
        call_cutoff = iso(now - timedelta(days=call_days))
        async with self._tx() as tx:
            audit = (
                await tx.write(
                    "DELETE FROM audit WHERE id IN"
                    " (SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ?)",
                    [audit_cutoff, batch],
                )
            ).rowcount
        async with self._tx() as tx:
            rows = await tx.all(_PRUNABLE_CALLS, [call_cutoff, iso(now), batch])
            ids = [r["id"] for r in rows]
            calls = 0
            if ids:
                marks = ", ".join("?" for _ in ids)
                # A call goes with its outcome and note, and the claim of the call back it was
                # (its callback token is a column of the row): nothing of it can attach to a
                # later call.
                await tx.write(f"DELETE FROM call_outcomes WHERE call_id IN ({marks})", ids)
                await tx.write(f"DELETE FROM feed_calls WHERE callback_call_id IN ({marks})", ids)
                calls = (await tx.write(f"DELETE FROM calls WHERE id IN ({marks})", ids)).rowcount
        async with self._tx() as tx:
            feed = (
                await tx.write(
                    f"DELETE FROM feed_calls WHERE key IN ({_PRUNABLE_FEED})", [call_cutoff, batch]
                )
            ).rowcount
        return audit + calls + feed
