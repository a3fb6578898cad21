"""What every database of the store shares: its errors and one transaction's verbs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class StoreError(Exception):
    """A store rule was broken; the message is fit for the user."""


class StoreUnavailable(StoreError, sqlite3.OperationalError):
    """The database could not do it just now; still an OperationalError for code that expects one."""


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


class StoreDown(StoreUnavailable):
    """PostgreSQL did not answer (restarting, unreachable, out of connections)."""

    def __init__(self) -> None:
        super().__init__(
            "The bot's database is not answering just now, so nothing was saved. Try again in a"
            " minute; if it keeps happening, tell an admin."
        )


@dataclass(frozen=True)
class Written:
    """What a write did: how many rows it touched."""

    rowcount: int


class Tx:
    """One transaction's statements (the same verbs as the store's, on one connection)."""

    async def one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        raise NotImplementedError

    async def all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def write(self, sql: str, params: Iterable[Any] = ()) -> Written:
        raise NotImplementedError

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """An INSERT of one row; the id it was given."""
        row = await self.one(sql + " RETURNING id", params)
        assert row is not None
        return int(row["id"])

    async def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError
