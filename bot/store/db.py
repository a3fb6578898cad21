"""The SQLite connection every table shares: one lock, plain SQL on the hot paths."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.models import Agent
from bot.store.schema import migrate

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class StoreError(Exception):
    """A store rule was broken; the message is fit for the user."""


class Db:
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
            migrate(self.db)

    def close(self) -> None:
        self.db.conn.close()

    def _now(self) -> str:
        return iso(self.clock())

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
