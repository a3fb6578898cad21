"""PostgreSQL through psycopg 3's async pool: the loop never waits on the network."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.store.base import StoreDown, Tx, Written
from bot.store.dialect import postgres
from bot.store.urls import conninfo

log = logging.getLogger("voicebot.store")


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except psycopg.OperationalError as exc:
        log.warning("PostgreSQL did not answer: %s", exc.__class__.__name__)
        raise StoreDown() from exc
    except PoolTimeout as exc:
        raise StoreDown() from exc


class PgTx(Tx):
    def __init__(self, connection: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        self.connection = connection

    async def one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        with _translated():
            cursor = await self.connection.execute(postgres(sql), list(params))
            return await cursor.fetchone() if cursor.description else None

    async def all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with _translated():
            cursor = await self.connection.execute(postgres(sql), list(params))
            return await cursor.fetchall()

    async def write(self, sql: str, params: Iterable[Any] = ()) -> Written:
        with _translated():
            cursor = await self.connection.execute(postgres(sql), list(params))
            return Written(cursor.rowcount)

    async def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with _translated():
            async with self.connection.cursor() as cursor:
                await cursor.executemany(postgres(sql), [list(r) for r in rows])


class PostgresPool:
    """A psycopg async pool per event loop (one in production; tests reach the app's store from
    their own loop too), opened on first use; migrations run once, before the first."""

    def __init__(self, url: str, *, migrate: bool = True, max_size: int = 10) -> None:
        self.url = conninfo(url)
        self.migrate = migrate
        self.max_size = max_size
        self._pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool[Any]] = {}
        self._migrated = not migrate

    async def open(self) -> None:
        await self._pool()

    async def _pool(self) -> AsyncConnectionPool[Any]:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is not None:
            return pool
        if not self._migrated:
            from bot.store.migrations import upgrade_postgres

            # Alembic is synchronous: it runs in a thread, under an advisory lock, so replicas
            # starting together migrate one at a time.
            await asyncio.to_thread(upgrade_postgres, self.url)
            self._migrated = True
        pool = AsyncConnectionPool(
            self.url,
            open=False,
            min_size=1,
            max_size=self.max_size,
            kwargs={"autocommit": True, "row_factory": dict_row},
            timeout=10,
        )
        with _translated():
            await pool.open(wait=True, timeout=30)
        self._pools[loop] = pool
        return pool

    async def listen(
        self, channel: str, on_change: Callable[[bool], None], *, retry_seconds: float = 1.0
    ) -> None:
        """Until cancelled: LISTEN on `channel` over a connection of its own.

        `on_change(True)` once listening and on every notification; `on_change(False)` the
        moment the connection is lost (then it reconnects). A connection that went quiet is
        checked every few seconds, so a silently dead one is noticed too.
        """
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, application_name="voicebot-listen"
                ) as connection:
                    await connection.execute(f"LISTEN {channel}")
                    on_change(True)  # what changed before LISTEN took effect is forgotten too
                    while True:
                        async for _notice in connection.notifies(timeout=5.0):
                            on_change(True)
                        await connection.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN %s: %s; reconnecting", channel, exc.__class__.__name__)
            finally:
                on_change(False)
            await asyncio.sleep(retry_seconds)

    async def close(self) -> None:
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    async def one(self, sql: str, params: Iterable[Any]) -> dict[str, Any] | None:
        async with (await self._pool()).connection() as connection:
            return await PgTx(connection).one(sql, params)

    async def all(self, sql: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        async with (await self._pool()).connection() as connection:
            return await PgTx(connection).all(sql, params)

    async def write(self, sql: str, params: Iterable[Any]) -> Written:
        async with (await self._pool()).connection() as connection:
            return await PgTx(connection).write(sql, params)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTx]:
        async with (await self._pool()).connection() as connection, connection.transaction():
            yield PgTx(connection)
