"""The team phone line: incoming calls seen (each posted once, claimed once) and call outcomes.

The activity digest's reads of the calls, jobs and follow-ups tables live here too: read-only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from bot.models import BroadcastActivity, CallOutcome, CallRow, FeedCall, IncomingCall
from bot.store.db import Db


class CallFeedTable(Db):
    # ------------------------------------------------------------------ incoming calls

    async def remember_incoming(
        self, calls: Iterable[IncomingCall], agent_users: Mapping[str, str], post_after: str
    ) -> int:
        """Remember the calls not seen before, in one transaction; how many were new.

        A new call is `pending` (to post) unless it started before `post_after` (ISO, UTC):
        those are remembered as `skipped` and never posted. A call seen before is left alone,
        so each Kaleyra call is posted once however often `dial` lists it.
        """
        now = self._now()
        new = 0
        async with self._tx() as tx:
            for call in calls:
                cursor = await tx.write(
                    "INSERT INTO feed_calls (key, caller, agent_number, agent_user,"
                    " started_at, billsec, status, location, missed, state, created_at,"
                    " updated_at, caller_problem) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [
                        call.key,
                        call.caller,
                        call.agent_number,
                        agent_users.get(call.agent_number),
                        call.started_at,
                        call.billsec,
                        call.status,
                        call.location,
                        int(call.missed),
                        "pending" if call.started_at >= post_after else "skipped",
                        now,
                        now,
                        call.caller_problem,
                    ],
                )
                new += cursor.rowcount
        return new

    async def feed_to_post(self, limit: int = 200) -> list[FeedCall]:
        """Calls not yet in the channel (new, or a post that failed), oldest first."""
        rows = await self._all(
            "SELECT * FROM feed_calls WHERE state = 'pending' ORDER BY started_at, key LIMIT ?",
            [limit],
        )
        return [FeedCall.from_row(r) for r in rows]

    async def mark_feed_posting(self, key: str) -> bool:
        """The intent, recorded before the post: True for the one poll that may post it."""
        cursor = await self._write(
            "UPDATE feed_calls SET state = 'posting', updated_at = ? WHERE key = ?"
            " AND state = 'pending'",
            [self._now(), key],
        )
        return cursor.rowcount == 1

    async def mark_feed_pending(self, key: str) -> None:
        """Slack said it did not post it: the next poll posts it."""
        await self._write(
            "UPDATE feed_calls SET state = 'pending', updated_at = ? WHERE key = ?"
            " AND state = 'posting'",
            [self._now(), key],
        )

    async def feed_posting(self, limit: int = 200) -> list[FeedCall]:
        """Posts begun but not known to have landed (a crash, a lost answer), oldest first."""
        rows = await self._all(
            "SELECT * FROM feed_calls WHERE state = 'posting' ORDER BY started_at, key LIMIT ?",
            [limit],
        )
        return [FeedCall.from_row(r) for r in rows]

    async def mark_feed_posted(self, key: str, channel: str, ts: str) -> FeedCall:
        await self._write(
            "UPDATE feed_calls SET state = 'posted', channel = ?, message_ts = ?, updated_at = ?"
            " WHERE key = ?",
            [channel, ts, self._now(), key],
        )
        feed = await self.feed_call(key)
        assert feed is not None
        return feed

    async def feed_call(self, key: str) -> FeedCall | None:
        row = await self._one("SELECT * FROM feed_calls WHERE key = ?", [key])
        return FeedCall.from_row(row) if row else None

    async def claim_callback(self, key: str, user_id: str) -> bool:
        """The first click on Call back wins, in one statement: True for exactly one user."""
        now = self._now()
        cursor = await self._write(
            "UPDATE feed_calls SET claimed_by = ?, claimed_at = ?, callback_state = 'dialling',"
            " updated_at = ? WHERE key = ? AND missed = 1 AND claimed_by IS NULL",
            [user_id, now, now, key],
        )
        return cursor.rowcount == 1

    async def release_callback(self, key: str, user_id: str) -> None:
        """Nothing was dialled after all: the call waits for someone else."""
        await self._write(
            "UPDATE feed_calls SET claimed_by = NULL, claimed_at = NULL, callback_state = NULL,"
            " callback_call_id = NULL, updated_at = ? WHERE key = ? AND claimed_by = ?",
            [self._now(), key, user_id],
        )

    async def callbacks_open(self) -> list[FeedCall]:
        """Claims still followed: dialling, or whose outcome is unknown so far."""
        rows = await self._all(
            "SELECT * FROM feed_calls WHERE callback_state IN ('dialling', 'unknown')"
            " ORDER BY claimed_at"
        )
        return [FeedCall.from_row(r) for r in rows]

    async def link_callback(self, key: str, user_id: str, call_id: int) -> None:
        """The call a claim placed, once recorded: only while the claim is still this user's."""
        await self._write(
            "UPDATE feed_calls SET callback_call_id = ?, updated_at = ? WHERE key = ?"
            " AND claimed_by = ? AND callback_call_id IS NULL",
            [call_id, self._now(), key, user_id],
        )

    async def open_claim_on(self, caller: str) -> FeedCall | None:
        """The latest claim still followed on a call from `caller` (E.164), if any."""
        row = await self._one(
            "SELECT * FROM feed_calls WHERE caller = ? AND callback_state IN ('dialling', 'unknown')"
            " ORDER BY claimed_at DESC LIMIT 1",
            [caller],
        )
        return FeedCall.from_row(row) if row else None

    async def update_callback(
        self,
        key: str,
        *,
        call_id: int | None = None,
        state: str | None = None,
        billsec: int | None = None,
    ) -> FeedCall:
        fields: dict[str, Any] = {"updated_at": self._now()}
        if call_id is not None:
            fields["callback_call_id"] = call_id
        if state is not None:
            fields["callback_state"] = state
        if billsec is not None:
            fields["callback_billsec"] = billsec
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self._write(
            f"UPDATE feed_calls SET {assignments} WHERE key = ?", [*fields.values(), key]
        )
        feed = await self.feed_call(key)
        assert feed is not None
        return feed

    async def feed_for_call(self, call_id: int) -> FeedCall | None:
        row = await self._one("SELECT * FROM feed_calls WHERE callback_call_id = ?", [call_id])
        return FeedCall.from_row(row) if row else None

    async def missed_waiting(self, since: str, limit: int = 10) -> list[FeedCall]:
        """Missed calls since `since` (ISO, UTC) nobody has claimed, newest first (not the
        ones too old to post when first read)."""
        rows = await self._all(
            "SELECT * FROM feed_calls WHERE started_at >= ? AND missed = 1"
            " AND claimed_by IS NULL AND state != 'skipped' ORDER BY started_at DESC LIMIT ?",
            [since, limit],
        )
        return [FeedCall.from_row(r) for r in rows]

    async def feed_between(self, start: str, end: str) -> list[FeedCall]:
        rows = await self._all(
            "SELECT * FROM feed_calls WHERE started_at >= ? AND started_at <= ?"
            " ORDER BY started_at",
            [start, end],
        )
        return [FeedCall.from_row(r) for r in rows]

    # ------------------------------------------------------------------ the calls table, read-only

    async def call_placed_by(self, user_id: str, customer: str, since: str) -> CallRow | None:
        """The first call `user_id` placed to `customer` at or after `since` (a call back)."""
        row = await self._one(
            "SELECT * FROM calls WHERE user_id = ? AND customer_number = ? AND created_at >= ?"
            " ORDER BY id LIMIT 1",
            [user_id, customer, since],
        )
        return CallRow.from_row(row) if row else None

    async def calls_between(self, start: str, end: str) -> list[CallRow]:
        rows = await self._all(
            "SELECT * FROM calls WHERE created_at >= ? AND created_at <= ? AND kind = 'c2c'"
            " ORDER BY id",
            [start, end],
        )
        return [CallRow.from_row(r) for r in rows]

    # ------------------------------------------------------------------ outcomes

    async def save_outcome(
        self, call_id: int, user_id: str, outcome: str, note: str, followup_at: str | None
    ) -> CallOutcome:
        """Insert or replace the outcome of a call (its creation time and follow-up id kept)."""
        now = self._now()
        await self._write(
            "INSERT INTO call_outcomes (call_id, user_id, outcome, note, followup_at,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(call_id) DO UPDATE"
            " SET user_id = excluded.user_id, outcome = excluded.outcome, note = excluded.note,"
            " followup_at = excluded.followup_at, updated_at = excluded.updated_at",
            [call_id, user_id, outcome, note, followup_at, now, now],
        )
        saved = await self.get_outcome(call_id)
        assert saved is not None
        return saved

    async def set_outcome_followup(self, call_id: int, followup_id: str | None) -> None:
        await self._write(
            "UPDATE call_outcomes SET followup_id = ?, updated_at = ? WHERE call_id = ?",
            [followup_id, self._now(), call_id],
        )

    async def get_outcome(self, call_id: int) -> CallOutcome | None:
        row = await self._one("SELECT * FROM call_outcomes WHERE call_id = ?", [call_id])
        return CallOutcome.from_row(row) if row else None

    async def outcomes_for(self, call_ids: Iterable[int]) -> dict[int, CallOutcome]:
        wanted = list(dict.fromkeys(call_ids))
        found: dict[int, CallOutcome] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in await self._all(
                f"SELECT * FROM call_outcomes WHERE call_id IN ({marks})", chunk
            ):
                found[row["call_id"]] = CallOutcome.from_row(row)
        return found

    # ------------------------------------------------------------------ the digest's other reads

    async def broadcasts_between(self, start: str, end: str) -> list[BroadcastActivity]:
        """Broadcasts made in the window that went ahead (cancelled mid-run ones rang numbers too)."""
        rows = await self._all(
            "SELECT payload, result FROM jobs WHERE kind = 'obd'"
            " AND (started_at IS NOT NULL OR state NOT IN ('pending', 'cancelled', 'expired'))"
            " AND created_at >= ? AND created_at <= ? ORDER BY id",
            [start, end],
        )
        out = []
        for row in rows:
            payload = json.loads(row["payload"] or "{}")
            result = json.loads(row["result"]) if row["result"] else {}
            numbers = len(payload.get("numbers") or []) or int(result.get("total") or 0)
            statuses = {str(k): int(v) for k, v in (result.get("statuses") or {}).items()}
            out.append(BroadcastActivity(numbers, int(result.get("accepted") or 0), statuses))
        return out

    async def followers_due_between(self, start: str, end: str) -> list[str]:
        """The follower number of each active follow-up due in the window."""
        rows = await self._all(
            "SELECT follower FROM followups WHERE state = 'active' AND ontime >= ? AND ontime < ?",
            [start, end],
        )
        return [r["follower"] for r in rows]
