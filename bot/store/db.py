"""The SQLite connection every table shares: one lock, plain SQL on the hot paths."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
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


class StoreUnavailable(StoreError, sqlite3.OperationalError):
    """SQLite could not do it just now; still an OperationalError for code that expects one."""


class StoreBusy(StoreUnavailable):
    """Another connection holds the write lock longer than the bot may wait on its event loop."""

    def __init__(self) -> None:
        super().__init__(
            "The bot's database is busy (another program is holding a lock on it), so nothing"
            " was saved. Try again in a minute; if it keeps happening, tell an admin."
        )


class StoreFull(StoreUnavailable):
    """The disk (or the database's page limit) is full."""

    def __init__(self) -> None:
        super().__init__(
            "The bot's database is full (the server's disk has no space left), so nothing was"
            " saved. Tell an admin: the bot needs disk space before it can record anything."
        )


# The loop waits on SQLite synchronously, so a lock held elsewhere must not hold every ack:
# at most this long per statement, then StoreBusy. Start-up (migrations) may wait longer.
BUSY_TIMEOUT_MS = 150
STARTUP_BUSY_TIMEOUT_MS = 10_000


def translate(exc: sqlite3.OperationalError) -> sqlite3.OperationalError:
    """SQLite's lock and disk-full errors as the store's own, with a message for the user."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreBusy()
    if "database or disk is full" in text or "disk i/o error" in text:
        return StoreFull()
    return exc


class GuardedConnection(sqlite3.Connection):
    """A connection whose lock and disk-full failures raise StoreBusy / StoreFull, wherever in
    the store they happen (plain SQL, sqlite-utils helpers, commits at the end of `with`)."""

    def execute(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        with _translated():
            return super().execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        with _translated():
            return super().executemany(*args, **kwargs)

    def executescript(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        with _translated():
            return super().executescript(*args, **kwargs)

    def commit(self) -> None:
        with _translated():
            super().commit()

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> Any:
        with _translated():
            try:
                return super().__exit__(kind, value, traceback)
            except sqlite3.OperationalError:
                # The commit failed (locked, disk full): leave no transaction open behind it.
                with contextlib.suppress(sqlite3.Error):
                    self.rollback()
                raise


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except StoreUnavailable:
        raise
    except sqlite3.OperationalError as exc:
        translated = translate(exc)
        if translated is exc:
            raise
        raise translated from exc


class Db:
    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock = utc_now,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path,
            check_same_thread=False,
            timeout=STARTUP_BUSY_TIMEOUT_MS / 1000,
            factory=GuardedConnection,
        )
        self.db = sqlite_utils.Database(connection)
        self.clock = clock
        self._lock = threading.RLock()
        self._agents: dict[str, Agent | None] = {}
        self._last_prune = 0.0
        self._last_delivery_prune = 0.0
        with self._lock:
            self.db.execute(f"PRAGMA busy_timeout = {STARTUP_BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                self.db.execute("PRAGMA journal_mode = WAL")
                # WAL + NORMAL cannot corrupt the file; it skips an fsync per commit (0.55 ms
                # measured here), which handlers would otherwise pay on the event loop.
                self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            migrate(self.db)
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")

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
