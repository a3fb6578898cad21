"""Replicas cache who is who (agents, proofs, admin roles) only while they hear every change:
two stores on one PostgreSQL database stand for two replicas. A change made through one, or
straight in SQL, is seen by the other within a second; without its listener a store reads
through instead of trusting what it cached."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
import pytest

from bot.store import Store
from tests.support.databases import fresh_postgres

AGENT, ADMIN = "U0AGENT", "U0ADMIN"
FIRST, SECOND = "+919876543210", "+919812345678"


@pytest.fixture
async def two() -> AsyncIterator[tuple[Store, Store, str]]:
    urls = fresh_postgres()
    url = next(urls)
    one, other = Store(url), Store(url)
    await one.open()
    await other.open()
    await until(_live(one), "one store listens")
    await until(_live(other), "the other store listens")
    yield one, other, url
    await one.aclose()
    await other.aclose()
    urls.close()


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 1.0) -> float:
    """Seconds until `check()` holds; fails after `within` s."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_a_revoked_admin_is_revoked_on_the_other_replica_within_a_second(two) -> None:
    one, other, _url = two
    await one.grant_admin(ADMIN, "U0OWNER")
    assert await other.is_admin(ADMIN)  # cached now
    await one.revoke_admin(ADMIN)

    async def revoked() -> bool:
        return not await other.is_admin(ADMIN)

    assert await until(revoked, "the revocation reaches the other replica") < 1.0


async def test_a_moved_number_rings_the_new_one_everywhere_within_a_second(two) -> None:
    one, other, _url = two
    await one.register_agent(AGENT, FIRST)
    await one.set_verified(AGENT, FIRST, by=ADMIN)
    assert await other.proven_number(AGENT) == FIRST  # cached now
    await one.register_agent(AGENT, SECOND)  # an admin moves the agent to another number
    await one.set_verified(AGENT, SECOND, by=ADMIN)

    async def moved() -> bool:
        return await other.proven_number(AGENT) == SECOND

    assert await until(moved, "the new number reaches the other replica") < 1.0


async def test_a_change_made_in_sql_is_heard_too(two) -> None:
    one, other, url = two
    await one.register_agent(AGENT, FIRST)
    await one.set_verified(AGENT, FIRST, by=ADMIN)
    assert await other.proven_number(AGENT) == FIRST
    with psycopg.connect(url, autocommit=True) as conn:  # an operator in psql
        conn.execute("DELETE FROM agents WHERE user_id = %s", [AGENT])

    async def gone() -> bool:
        return await other.proven_number(AGENT) is None

    assert await until(gone, "the deletion reaches the store") < 1.0


async def test_without_its_listener_a_store_reads_through_then_listens_again(two) -> None:
    one, other, url = two
    await one.grant_admin(ADMIN, "U0OWNER")
    assert await other.is_admin(ADMIN)
    with psycopg.connect(url, autocommit=True) as conn:  # the listening connections die
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'voicebot-listen' AND datname = current_database()"
        )

    async def deaf() -> bool:
        return not other.caches_agents

    await until(deaf, "the store notices its listener is gone")
    with psycopg.connect(url, autocommit=True) as conn:  # a change nobody hears
        conn.execute("DELETE FROM roles WHERE user_id = %s", [ADMIN])
    assert not await other.is_admin(ADMIN)  # read through, not the cached True
    await until(_live(other), "the listener is back", within=5.0)
    await one.grant_admin(ADMIN, "U0OWNER")

    async def granted() -> bool:
        return await other.is_admin(ADMIN)

    assert await until(granted, "a change after the reconnect is heard") < 1.0


def _live(store: Store) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return store.caches_agents

    return check


async def test_a_code_is_checked_against_the_database_even_before_the_notice_arrives(two) -> None:
    from datetime import UTC, datetime, timedelta

    one, other, _url = two
    expires = datetime.now(UTC) + timedelta(minutes=10)
    await one.start_verification(AGENT, FIRST, "hash-of-the-first-code", expires)
    first = await other.verification(AGENT)  # cached
    await one.start_verification(AGENT, FIRST, "hash-of-a-new-code", expires)
    other._verification_cache[AGENT] = first  # as if the notice had not arrived yet
    assert (await other.verification(AGENT)).code_hash == "hash-of-the-first-code"
    checked = await other.verification(AGENT, fresh=True)  # what AgentsService.verify reads
    assert checked.code_hash == "hash-of-a-new-code"
