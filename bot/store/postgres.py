"""PostgreSQL through psycopg 3's async pool: the loop never waits on the network."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.store.db import StoreDown, Tx, Written
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
    def __init__(self, url: str, *, migrate: bool = True, max_size: int = 10) -> None:
        self.url = conninfo(url)
        self.migrate = migrate
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]] = (
            AsyncConnectionPool(
                self.url,
                open=False,
                min_size=1,
                max_size=max_size,
                kwargs={"autocommit": True, "row_factory": dict_row},
                timeout=10,
            )
        )
        self._opened = False

    async def open(self) -> None:
        if self._opened:
            return
        if self.migrate:
            from bot.store.migrations import upgrade_postgres

            # Alembic is synchronous: it runs in a thread, under an advisory lock, so replicas
            # starting together migrate one at a time.
            await asyncio.to_thread(upgrade_postgres, self.url)
        await self.pool.open(wait=True, timeout=30)
        self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self.pool.close()
            self._opened = False

    async def one(self, sql: str, params: Iterable[Any]) -> dict[str, Any] | None:
        async with self.pool.connection() as connection:
            return await PgTx(connection).one(sql, params)

    async def all(self, sql: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        async with self.pool.connection() as connection:
            return await PgTx(connection).all(sql, params)

    async def write(self, sql: str, params: Iterable[Any]) -> Written:
        async with self.pool.connection() as connection:
            return await PgTx(connection).write(sql, params)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTx]:
        async with self.pool.connection() as connection, connection.transaction():
            yield PgTx(connection)
