"""Who runs the scheduled jobs: one leader among replicas (PostgreSQL), one process (SQLite).

With PostgreSQL every replica holds one dedicated connection and asks for a session-level advisory
lock every `interval` seconds; the one that gets it leads. The lock lives exactly as long as the
leader's session, so a leader killed with SIGKILL frees it at once (the kernel closes the socket,
the server ends the session) and a standby takes it on its next poll. A leader that loses its
connection steps down: it cannot know whether the server still holds the lock for it.

With SQLite one process is the whole deployment: `SingleProcessLock` holds an exclusive `flock`
on `<database>.lock` for the life of the process and refuses a second one with a message that
says why and points to PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg

log = logging.getLogger("voicebot.leader")

# pg_try_advisory_lock takes one bigint; this one is "voicebot" in ASCII. Advisory locks belong to
# one database, so deployments on different databases of one server never meet here.
LEADER_LOCK_KEY = 0x766F696365626F74
DEFAULT_POLL_SECONDS = 5.0

# Our idle session must outlive any idle_session_timeout, and the server must notice a leader whose
# host vanished (no FIN ever comes) within about 25 s, not after the kernel's default two hours.
_SESSION_SETUP = (
    "SET idle_session_timeout = 0; SET tcp_keepalives_idle = 10;"
    " SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"
)

Callback = Callable[[], Awaitable[object]]


class LeaderElector:
    """One leader among the replicas sharing a PostgreSQL database, by advisory lock.

    `start()` polls once and then every `interval` seconds in a task; `poll()` is one attempt, for
    callers that drive it themselves (tests). `on_elected` runs when this replica takes the lock,
    `on_deposed` when it loses it (its connection died) or gives it up (`aclose`). A failing
    `on_elected` is logged, undone with `on_deposed` and the lock released, so another replica
    may lead; this one tries again on its next poll.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        on_elected: Callback,
        on_deposed: Callback,
        interval: float = DEFAULT_POLL_SECONDS,
        key: int = LEADER_LOCK_KEY,
        timeout: float | None = None,
        application_name: str = "voicebot-leader",
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.conninfo = conninfo
        self.interval = interval
        self.key = key
        # A query that has not answered within this long is a lost connection.
        self.timeout = timeout if timeout is not None else max(interval, 2.0)
        self.application_name = application_name
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._conn: psycopg.AsyncConnection | None = None
        self._leader = False
        self._polling = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False  # log a failing database once, not on every poll

    @property
    def is_leader(self) -> bool:
        return self._leader

    @property
    def connected(self) -> bool:
        """Whether the last poll reached the database."""
        return self._conn is not None and not self._conn.closed and not self._failing

    @property
    def backend_pid(self) -> int | None:
        """The server process of our session (pg_stat_activity.pid), while connected."""
        if self._conn is None or self._conn.closed:
            return None
        return self._conn.info.backend_pid

    async def start(self) -> bool:
        """Poll once, then keep polling in the background; returns whether this replica leads."""
        leading = await self.poll()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="leader-election")
        return leading

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.poll()

    async def poll(self) -> bool:
        """One attempt: take the lock if free, or check that the session holding it is alive."""
        async with self._polling:
            try:
                conn = await self._connection()
                if self._leader:
                    # Only our own session can release the lock: while it answers, we hold it.
                    await self._query(conn, "SELECT 1")
                elif await self._query(conn, "SELECT pg_try_advisory_lock(%s)", (self.key,)):
                    self._leader = True
                    log.info("this replica now leads the scheduler")
                    await self._elected()
                if self._failing:
                    log.info("the leader election's database answers again")
                    self._failing = False
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if not self._failing:
                    log.warning("leader election: the database did not answer (%s)", exc)
                self._failing = True
                await self._drop_connection()
                await self._step_down("its database connection was lost")
            return self._leader

    async def aclose(self) -> None:
        """Stop polling; if leading, run `on_deposed` first, then release the lock."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self._polling:
            leading = self._leader
            await self._step_down("it is shutting down", logging.INFO)
            if leading:
                # Unlocked now, not when the server gets round to ending the closed session.
                await self._unlock()
            await self._drop_connection()

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(
                    self.conninfo,
                    autocommit=True,
                    connect_timeout=max(int(self.timeout), 2),
                    application_name=self.application_name,
                    # And we notice a server that vanished, whatever the queries' timeout.
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                ),
                self.timeout,
            )
            await self._query(self._conn, _SESSION_SETUP, fetch=False)
        return self._conn

    async def _query(
        self,
        conn: psycopg.AsyncConnection,
        sql: str,
        params: tuple[object, ...] | None = None,
        *,
        fetch: bool = True,
    ) -> object:
        async def run() -> object:
            cursor = await conn.execute(sql, params)  # type: ignore[arg-type]
            if not fetch:
                return None
            row = await cursor.fetchone()
            return row[0] if row else None

        return await asyncio.wait_for(run(), self.timeout)

    async def _elected(self) -> None:
        try:
            await self._on_elected()
        except Exception:
            log.exception("starting the leader's work failed; giving the lock up")
            await self._step_down("starting its work failed")
            await self._unlock()

    async def _unlock(self) -> None:
        with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
            if self._conn is not None and not self._conn.closed:
                await self._query(self._conn, "SELECT pg_advisory_unlock(%s)", (self.key,))

    async def _step_down(self, why: str, level: int = logging.WARNING) -> None:
        if not self._leader:
            return
        self._leader = False
        log.log(level, "this replica no longer leads the scheduler: %s", why)
        try:
            await self._on_deposed()
        except Exception:
            log.exception("stopping the leader's work failed")

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()


class DatabaseInUse(RuntimeError):
    """Another process already runs on this SQLite file."""


class SingleProcessLock:
    """An exclusive `flock` on `<database>.lock`, held until `release()` or the process ends.

    The kernel drops the lock when the process dies, however it dies, so a crashed process never
    leaves a stale lock behind. An in-memory database (`:memory:`) needs none.
    """

    def __init__(self, database_path: str | os.PathLike[str]) -> None:
        self.database_path = str(database_path)
        self.path = Path(self.database_path + ".lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> SingleProcessLock:
        """Take the lock, or raise DatabaseInUse saying who holds it and what to do instead."""
        if self.database_path == ":memory:" or self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise DatabaseInUse(self._refusal(holder)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def _refusal(self, holder: str) -> str:
        who = f" (pid {holder})" if holder.isdigit() else ""
        return (
            f"another voicebot process{who} is already running on the SQLite database"
            f" {self.database_path}. With SQLite one process is the whole deployment: stop the"
            " other one first. To run several replicas, give them all one PostgreSQL database:"
            " DATABASE_URL=postgresql://user:password@host:5432/voicebot"
        )

    def __enter__(self) -> SingleProcessLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
