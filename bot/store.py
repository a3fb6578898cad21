"""The SQLite store: agents, calls, audit, settings. The only module that speaks SQL."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.metrics import SENDS
from bot.phones import mask

SCHEMA_VERSION = 6
SEEN_KEEP = timedelta(hours=2)  # longer than any de-duplication window
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class StoreError(Exception):
    """A store rule was broken; the message is fit for the user."""


@dataclass(frozen=True)
class Agent:
    user_id: str
    number: str  # E.164
    role: str
    created_at: str
    updated_at: str


@dataclass
class CallRow:
    id: int
    kind: str
    user_id: str
    agent_number: str
    customer_number: str
    kaleyra_id: str | None
    state: str  # placing, placed, unknown, failed, final
    status1: str | None
    status2: str | None
    duration: int | None
    billsec: int | None
    recording: str | None
    channel: str | None
    message_ts: str | None
    callback_token: str | None
    error: str | None
    created_at: str
    updated_at: str
    final_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CallRow:
        return cls(**{k: row.get(k) for k in cls.__dataclass_fields__})


class Store:
    def __init__(self, path: str | Path, *, clock: Clock = utc_now) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self.db = sqlite_utils.Database(connection)
        self.clock = clock
        self._lock = threading.RLock()
        self._agents: dict[str, Agent | None] = {}
        self._last_prune = 0.0
        with self._lock:
            self.db.execute("PRAGMA busy_timeout = 10000")
            if self.path != ":memory:":
                self.db.execute("PRAGMA journal_mode = WAL")
                # WAL + NORMAL cannot corrupt the file; it skips an fsync per commit (0.55 ms
                # measured here), which handlers would otherwise pay on the event loop.
                self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()

    def close(self) -> None:
        self.db.conn.close()

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version < 1:
            self.db["agents"].create(
                {"user_id": str, "number": str, "role": str, "created_at": str, "updated_at": str},
                pk="user_id",
                if_not_exists=True,
            )
            self.db["agents"].create_index(["number"], unique=True, if_not_exists=True)
            self.db["calls"].create(
                {
                    "id": int,
                    "kind": str,
                    "user_id": str,
                    "agent_number": str,
                    "customer_number": str,
                    "kaleyra_id": str,
                    "state": str,
                    "status1": str,
                    "status2": str,
                    "duration": int,
                    "billsec": int,
                    "recording": str,
                    "channel": str,
                    "message_ts": str,
                    "callback_token": str,
                    "error": str,
                    "created_at": str,
                    "updated_at": str,
                    "final_at": str,
                },
                pk="id",
                if_not_exists=True,
            )
            self.db["calls"].create_index(["kaleyra_id"], if_not_exists=True)
            self.db["calls"].create_index(["user_id", "created_at"], if_not_exists=True)
            self.db["calls"].create_index(["callback_token"], unique=True, if_not_exists=True)
            self.db["audit"].create(
                {
                    "id": int,
                    "at": str,
                    "user_id": str,
                    "action": str,
                    "outcome": str,
                    "numbers": str,
                    "kaleyra_ids": str,
                    "detail": str,
                },
                pk="id",
                if_not_exists=True,
            )
            self.db["audit"].create_index(["at"], if_not_exists=True)
            self.db["settings"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
            self.db["seen_requests"].create({"key": str, "at": str}, pk="key", if_not_exists=True)
        if version < 2:
            self.db["blacklist"].create(
                {"number": str, "added_by": str, "added_at": str, "reason": str},
                pk="number",
                if_not_exists=True,
            )
            self.db["jobs"].create(
                {
                    "id": int,
                    "kind": str,
                    "user_id": str,
                    "state": str,
                    "payload": str,
                    "result": str,
                    "channel": str,
                    "message_ts": str,
                    "created_at": str,
                    "updated_at": str,
                },
                pk="id",
                if_not_exists=True,
            )
            self.db["followups"].create(
                {
                    "id": str,
                    "user_id": str,
                    "follower": str,
                    "phone": str,
                    "name": str,
                    "ontime": str,
                    "notes": str,
                    "autocall": int,
                    "state": str,
                    "created_at": str,
                    "updated_at": str,
                },
                pk="id",
                if_not_exists=True,
            )
            self.db["followups"].create_index(["follower", "ontime"], if_not_exists=True)
        if version < 3:
            self.db["sent_log"].create(
                {
                    "key": str,
                    "kind": str,
                    "due_at": str,
                    "state": str,
                    "late": int,
                    "at": str,
                    "detail": str,
                },
                pk="key",
                if_not_exists=True,
            )
            self.db["sent_log"].create_index(["kind", "state"], if_not_exists=True)
            if "remind_at" not in self.db["followups"].columns_dict:
                self.db["followups"].add_column("remind_at", str)
        if version < 4:
            self.db["roles"].create(
                {"user_id": str, "role": str, "granted_by": str, "at": str},
                pk="user_id",
                if_not_exists=True,
            )
        if version < 5:
            self.db["seen_requests"].create_index(["at"], if_not_exists=True)
        if version < 6:  # the repeat-call check reads the last minute's calls at start-up
            self.db["calls"].create_index(["created_at"], if_not_exists=True)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _now(self) -> str:
        return _iso(self.clock())

    # ------------------------------------------------------------------ agents

    # Hot paths use plain SQL: sqlite-utils' table helpers re-read the schema on every call,
    # which profiling showed to be most of a dial's CPU time.

    def _one(self, sql: str, params: Iterable[Any]) -> dict[str, Any] | None:
        with self._lock:
            cursor = self.db.execute(sql, list(params))
            row = cursor.fetchone()
            if row is None:
                return None
            return dict(zip([c[0] for c in cursor.description], row, strict=True))

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self.db.execute(sql, list(params))
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _write(self, sql: str, params: Iterable[Any]) -> sqlite3.Cursor:
        with self._lock, self.db.conn:
            return self.db.execute(sql, list(params))

    def get_agent(self, user_id: str) -> Agent | None:
        # Read on every dial; changed only through register/unregister below, so cached.
        if user_id in self._agents:
            return self._agents[user_id]
        row = self._one("SELECT * FROM agents WHERE user_id = ?", [user_id])
        agent = Agent(**row) if row else None
        self._agents[user_id] = agent
        return agent

    def agent_by_number(self, number: str) -> Agent | None:
        row = self._one("SELECT * FROM agents WHERE number = ?", [number])
        return Agent(**row) if row else None

    def register_agent(self, user_id: str, number: str) -> Agent:
        """One number per user, one user per number: a number held by someone else is refused."""
        with self._lock, self.db.conn:
            self._agents.pop(user_id, None)
            holder = self.agent_by_number(number)
            if holder and holder.user_id != user_id:
                raise StoreError(
                    f"{mask(number)} is already registered to another Slack user; "
                    "ask an admin to move it."
                )
            now = self._now()
            current = self.get_agent(user_id)
            self.db["agents"].upsert(
                {
                    "user_id": user_id,
                    "number": number,
                    "role": current.role if current else "agent",
                    "created_at": current.created_at if current else now,
                    "updated_at": now,
                },
                pk="user_id",
            )
            self._agents.pop(user_id, None)
        agent = self.get_agent(user_id)
        assert agent is not None
        return agent

    def unregister_agent(self, user_id: str) -> bool:
        with self._lock, self.db.conn:
            cursor = self.db.execute("DELETE FROM agents WHERE user_id = ?", [user_id])
            self._agents.pop(user_id, None)
            return cursor.rowcount > 0

    def admins(self) -> set[str]:
        return {r["user_id"] for r in self._all("SELECT user_id FROM roles WHERE role = 'admin'")}

    def grant_admin(self, user_id: str, granted_by: str) -> None:
        self._write(
            "INSERT INTO roles (user_id, role, granted_by, at) VALUES (?, 'admin', ?, ?)"
            " ON CONFLICT(user_id) DO UPDATE SET role = 'admin', granted_by = excluded.granted_by, at = excluded.at",
            [user_id, granted_by, self._now()],
        )

    def revoke_admin(self, user_id: str) -> bool:
        return self._write("DELETE FROM roles WHERE user_id = ?", [user_id]).rowcount > 0

    def is_admin(self, user_id: str) -> bool:
        return (
            self._one("SELECT 1 AS yes FROM roles WHERE user_id = ? AND role = 'admin'", [user_id])
            is not None
        )

    # ------------------------------------------------------------------ calls

    def create_calls(
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
        with self._lock, self.db.conn:
            for user_id, agent_number, customer_number in calls:
                cursor = self.db.conn.execute(
                    "INSERT INTO calls (kind, user_id, agent_number, customer_number, state,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, 'placing', ?, ?)",
                    [kind, user_id, agent_number, customer_number, now, now],
                )
                call_id = cursor.lastrowid
                assert call_id is not None
                token = token_for(call_id) if token_for else None
                if token:
                    self.db.conn.execute(
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

    def get_call(self, call_id: int) -> CallRow:
        row = self._one("SELECT * FROM calls WHERE id = ?", [call_id])
        if row is None:
            raise StoreError(f"No call {call_id}.")
        return CallRow.from_row(row)

    def call_by_token(self, token: str) -> CallRow | None:
        row = self._one("SELECT * FROM calls WHERE callback_token = ?", [token])
        return CallRow.from_row(row) if row else None

    def update_call(self, call_id: int, **fields: Any) -> CallRow:
        fields["updated_at"] = self._now()
        if fields.get("state") == "final":
            fields.setdefault("final_at", fields["updated_at"])
        unknown = set(fields) - set(CallRow.__dataclass_fields__)
        if unknown:
            raise StoreError(f"calls has no column {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self._write(f"UPDATE calls SET {assignments} WHERE id = ?", [*fields.values(), call_id])
        return self.get_call(call_id)

    def recent_call_keys(self, within: timedelta) -> list[tuple[str, str, str, str]]:
        """(user_id, agent, customer, created_at) of the calls not failed in the last `within`."""
        rows = self._all(
            "SELECT user_id, agent_number, customer_number, created_at FROM calls"
            " WHERE created_at >= ? AND state != 'failed' ORDER BY created_at",
            [_iso(self.clock() - within)],
        )
        return [
            (r["user_id"], r["agent_number"], r["customer_number"], r["created_at"]) for r in rows
        ]

    def open_calls(self) -> list[CallRow]:
        rows = self._all("SELECT * FROM calls WHERE state IN ('placed', 'unknown') ORDER BY id")
        return [CallRow.from_row(r) for r in rows]

    def calls_being_placed(self) -> list[CallRow]:
        rows = self._all("SELECT * FROM calls WHERE state = 'placing' ORDER BY id")
        return [CallRow.from_row(r) for r in rows]

    def recent_calls(self, user_id: str, limit: int = 5) -> list[CallRow]:
        rows = self._all(
            "SELECT * FROM calls WHERE user_id = ? ORDER BY id DESC LIMIT ?", [user_id, limit]
        )
        return [CallRow.from_row(r) for r in rows]

    # ------------------------------------------------------------------ audit

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

    # ------------------------------------------------------------------ settings

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self._one("SELECT value FROM settings WHERE key = ?", [key])
        return row["value"] if row else default

    def set_setting(self, key: str, value: str | None) -> None:
        with self._lock, self.db.conn:
            if value is None:
                self.db.execute("DELETE FROM settings WHERE key = ?", [key])
            else:
                self.db["settings"].upsert({"key": key, "value": value}, pk="key")

    def secret(self, key: str) -> str:
        """A random secret minted once and kept (callback token signing)."""
        with self._lock:
            value = self.get_setting(key)
            if value is None:
                value = secrets.token_hex(32)
                self.set_setting(key, value)
            return value

    # ------------------------------------------------------------------ de-duplication

    def first_time(self, key: str, within: timedelta = timedelta(hours=1)) -> bool:
        """True the first time `key` is seen within `within` (Slack retries, replays, double clicks)."""
        now = self.clock()
        with self._lock, self.db.conn:
            if time.monotonic() - self._last_prune > 30:  # indexed, and not on every request
                self._last_prune = time.monotonic()
                self.db.execute("DELETE FROM seen_requests WHERE at < ?", [_iso(now - SEEN_KEEP)])
            cursor = self.db.execute(
                "INSERT INTO seen_requests (key, at) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
                " SET at = excluded.at WHERE seen_requests.at < ?",
                [key, _iso(now), _iso(now - within)],
            )
            return cursor.rowcount == 1

    # ------------------------------------------------------------------ blacklist

    def blacklist_add(self, numbers: Iterable[str], user_id: str, reason: str = "") -> None:
        now = self._now()
        with self._lock, self.db.conn:
            for number in numbers:
                self.db.execute(
                    "INSERT INTO blacklist (number, added_by, added_at, reason) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(number) DO UPDATE SET added_by = excluded.added_by,"
                    " added_at = excluded.added_at, reason = excluded.reason",
                    [number, user_id, now, reason],
                )

    def blacklist_remove(self, numbers: Iterable[str]) -> int:
        with self._lock, self.db.conn:
            return sum(
                self.db.execute("DELETE FROM blacklist WHERE number = ?", [n]).rowcount
                for n in numbers
            )

    def blacklisted(self, numbers: Iterable[str] | None = None) -> set[str]:
        rows = self._all("SELECT number FROM blacklist")
        listed = {r["number"] for r in rows}
        return listed if numbers is None else listed & set(numbers)

    def blacklist_entries(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM blacklist ORDER BY added_at DESC, number")

    # ------------------------------------------------------------------ jobs (OBD, dialer)

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

    # ------------------------------------------------------------------ follow-ups

    def save_followup(self, record: dict[str, Any]) -> None:
        now = self._now()
        record = {"state": "active", "created_at": now, **record, "updated_at": now}
        columns = ", ".join(record)
        marks = ", ".join("?" for _ in record)
        updates = ", ".join(f"{c} = excluded.{c}" for c in record if c not in {"id", "created_at"})
        self._write(
            f"INSERT INTO followups ({columns}) VALUES ({marks})"
            f" ON CONFLICT(id) DO UPDATE SET {updates}",
            list(record.values()),
        )

    def get_followup(self, followup_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM followups WHERE id = ?", [followup_id])

    def followups(self, follower: str | None = None) -> list[dict[str, Any]]:
        if follower:
            return self._all(
                "SELECT * FROM followups WHERE state = 'active' AND follower = ? ORDER BY ontime",
                [follower],
            )
        return self._all("SELECT * FROM followups WHERE state = 'active' ORDER BY ontime")

    def delete_followup(self, followup_id: str) -> None:
        self._write(
            "UPDATE followups SET state = 'deleted', updated_at = ? WHERE id = ?",
            [self._now(), followup_id],
        )

    def set_followup_state(self, followup_id: str, state: str) -> None:
        self._write(
            "UPDATE followups SET state = ?, updated_at = ? WHERE id = ?",
            [state, self._now(), followup_id],
        )

    def snooze_followup(self, followup_id: str, remind_at: datetime) -> None:
        self._write(
            "UPDATE followups SET remind_at = ?, updated_at = ? WHERE id = ?",
            [_iso(remind_at), self._now(), followup_id],
        )

    # ------------------------------------------------------------------ exactly-once sent log

    def claim(self, key: str, kind: str, due_at: datetime, *, late: bool = False) -> bool:
        """Claim `key` (a job and its due time) for sending: True once, ever, for each key."""
        try:
            self._write(
                "INSERT INTO sent_log (key, kind, due_at, state, late, at) VALUES (?, ?, ?, 'claimed', ?, ?)",
                [key, kind, _iso(due_at), int(late), self._now()],
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def mark_sent(self, key: str) -> None:
        row = self._one("SELECT kind, late FROM sent_log WHERE key = ?", [key])
        self._write("UPDATE sent_log SET state = 'sent', at = ? WHERE key = ?", [self._now(), key])
        if row:
            SENDS.labels(row["kind"], "late" if row["late"] else "on_time").inc()

    def release(self, key: str) -> None:
        """Sending failed: let the next run try again."""
        self._write("DELETE FROM sent_log WHERE key = ? AND state = 'claimed'", [key])

    def mark_missed(self, key: str, kind: str, due_at: datetime, detail: str) -> bool:
        try:
            self._write(
                "INSERT INTO sent_log (key, kind, due_at, state, late, at, detail) VALUES (?, ?, ?, 'missed', 1, ?, ?)",
                [key, kind, _iso(due_at), self._now(), detail],
            )
        except sqlite3.IntegrityError:
            return False
        SENDS.labels(kind, "missed").inc()
        return True

    def sent_entries(
        self, kind: str | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        if kind:
            clauses.append("kind = ?")
            params.append(kind)
        if state:
            clauses.append("state = ?")
            params.append(state)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._all(f"SELECT * FROM sent_log{where} ORDER BY due_at", params)

    def take_missed(self) -> list[dict[str, Any]]:
        """Missed items not yet reported in a digest; marks them reported."""
        rows = self.sent_entries(state="missed")
        for row in rows:
            self._write("UPDATE sent_log SET state = 'reported' WHERE key = ?", [row["key"]])
        return rows

    def jobs_in_state(self, state: str) -> list[dict[str, Any]]:
        return self._all("SELECT id, kind, user_id FROM jobs WHERE state = ? ORDER BY id", [state])
