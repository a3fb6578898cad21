"""The database every table shares, SQLite or PostgreSQL, behind one narrow async interface.

Tables speak only `_one`, `_all`, `_write`, `_insert`, `_many` and `_tx()`, with `?` parameters,
and one set of queries serves both databases: `bot/store/dialect.py` turns a query into
PostgreSQL's spelling once and caches it. SQLite runs each statement inline on the event loop
(a local file answers in microseconds, and a thread hop would cost more than the statement);
PostgreSQL goes through psycopg 3's async pool, so the loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.models import Agent
from bot.store.base import (
    StoreBusy,
    StoreError,
    StoreFull,
    StoreUnavailable,
    Tx,
    Written,
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


# The loop waits on SQLite synchronously, so a lock held elsewhere must not hold every ack:
# at most this long per statement, then StoreBusy. Start-up (migrations) may wait longer.
BUSY_TIMEOUT_MS = 150
PEOPLE_CHANNEL = "voicebot_people"  # migration 0004's triggers notify it
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


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class SqliteTx(Tx):
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    async def one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        cursor = self.connection.execute(sql, list(params))
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([c[0] for c in cursor.description], row, strict=True))

    async def all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return _dicts(self.connection.execute(sql, list(params)))

    async def write(self, sql: str, params: Iterable[Any] = ()) -> Written:
        return Written(self.connection.execute(sql, list(params)).rowcount)

    async def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)


class Db:
    """The connection (SQLite) or pool (PostgreSQL) every table mixin shares.

    `Store(path)` or `Store("sqlite:///path")` is ready at once; `Store("postgresql://…")` needs
    `await store.open()` (the lifecycle does it) before its first query.
    """

    dialect: str

    def __init__(
        self,
        target: str | Path,
        *,
        clock: Clock = utc_now,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        migrate: bool = True,
    ) -> None:
        from bot.store.urls import sqlite_path

        self.clock = clock
        self.url = str(target)
        # Who is who, read on every dial: cached in one SQLite process (changed only through the
        # store), and on PostgreSQL while this process LISTENs to voicebot_people (migration
        # 0004's triggers notify on any change of agents, verifications or roles, from anywhere).
        self._agents: dict[str, Agent | None] = {}
        self._verification_cache: dict[str, Any] = {}
        self._admin_cache: dict[str, bool] = {}
        self._people_generation = 0  # a read that started before a change does not fill a cache
        self._people_live = False
        self._people_listener: asyncio.Task[None] | None = None
        self._last_prune: dict[str, float] = {}  # table → when its old rows were last pruned
        self._lock = threading.RLock()
        self._pg: Any = None
        path = sqlite_path(self.url)
        if path is None:
            from bot.store.postgres import PostgresPool

            self.dialect = "postgresql"
            self._pg = PostgresPool(self.url, migrate=migrate)
            self.path = ""
            return
        self.dialect = "sqlite"
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            path,
            check_same_thread=False,
            timeout=STARTUP_BUSY_TIMEOUT_MS / 1000,
            factory=GuardedConnection,
        )
        self.connection = connection
        self._sqlite = SqliteTx(connection)
        with self._lock:
            connection.execute(f"PRAGMA busy_timeout = {STARTUP_BUSY_TIMEOUT_MS}")
            if path != ":memory:":
                connection.execute("PRAGMA journal_mode = WAL")
                # WAL + NORMAL cannot corrupt the file; it skips an fsync per commit (0.55 ms
                # measured here), which handlers would otherwise pay on the event loop.
                connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            if migrate:
                from bot.store.migrations import upgrade_sqlite

                upgrade_sqlite(connection)
            connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")

    @property
    def db(self) -> Any:
        """The SQLite file through sqlite-utils (tests, `db copy`); not on PostgreSQL."""
        import sqlite_utils

        if self.dialect != "sqlite":
            raise StoreError("sqlite-utils serves the SQLite file only")
        return sqlite_utils.Database(self.connection)

    @property
    def caches_agents(self) -> bool:
        # One process owns an SQLite file. With replicas, only while a change made anywhere is
        # heard within milliseconds (LISTEN); otherwise every read goes to the database.
        return self.dialect == "sqlite" or self._people_live

    def _people_changed(self, live: bool) -> None:
        """A change to agents, proofs or roles was notified (or the listener came or went)."""
        self._people_generation += 1
        self._agents.clear()
        self._verification_cache.clear()
        self._admin_cache.clear()
        self._people_live = live

    async def open(self) -> None:
        """Connect and migrate (PostgreSQL), then listen for changes of who is who; SQLite is
        open from the constructor."""
        if self._pg is not None:
            await self._pg.open()
            if self._people_listener is None:
                self._people_listener = asyncio.get_running_loop().create_task(
                    self._pg.listen(PEOPLE_CHANNEL, self._people_changed)
                )

    async def aclose(self) -> None:
        if self._pg is not None:
            listener, self._people_listener = self._people_listener, None
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                    await listener
            await self._pg.close()
        else:
            self.close()

    def close(self) -> None:
        if self._pg is None:
            self.connection.close()

    async def ping(self) -> bool:
        """Whether the database answers (for /healthz)."""
        try:
            await self._one("SELECT 1 AS ok", [])
        except Exception:
            return False
        return True

    def _now(self) -> str:
        return iso(self.clock())

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        if self._pg is not None:
            return await self._pg.one(sql, params)
        with self._lock:
            return await self._sqlite.one(sql, params)

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        if self._pg is not None:
            return await self._pg.all(sql, params)
        with self._lock:
            return await self._sqlite.all(sql, params)

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> Written:
        if self._pg is not None:
            return await self._pg.write(sql, params)
        with self._lock, self.connection:
            return await self._sqlite.write(sql, params)

    async def _returning(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        """One write with RETURNING, committed: on PostgreSQL one round trip (autocommit), not
        BEGIN, the statement and COMMIT."""
        if self._pg is not None:
            return await self._pg.one(sql, params)
        with self._lock, self.connection:
            return await self._sqlite.one(sql, params)

    async def _insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        row = await self._returning(sql + " RETURNING id", params)
        assert row is not None
        return int(row["id"])

    async def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self._tx() as tx:
            await tx.many(sql, rows)

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        """One transaction. On SQLite nothing inside may await anything but its statements
        (they run inline, so no other task can interleave); on PostgreSQL it is a real
        transaction on one pooled connection."""
        if self._pg is not None:
            async with self._pg.transaction() as tx:
                yield tx
            return
        with self._lock, self.connection:
            yield self._sqlite
