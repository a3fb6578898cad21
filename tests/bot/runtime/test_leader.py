"""One scheduler leader across replicas (PostgreSQL advisory lock), one process on SQLite."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from bot.runtime.leader import DatabaseInUse, LeaderElector, SingleProcessLock
from tests.support.databases import server_url


@pytest.fixture
def postgres_url() -> str:
    return server_url()


class Replica:
    """An elector as a replica wires it: what its callbacks did, in order."""

    def __init__(self, url: str, key: int, name: str, interval: float = 30.0) -> None:
        self.name = name
        self.events: list[str] = []
        self.elected = asyncio.Event()
        self.elector = LeaderElector(
            url,
            on_elected=self._on_elected,
            on_deposed=self._on_deposed,
            interval=interval,
            key=key,
            application_name=f"voicebot-test-{name}",
        )

    async def _on_elected(self) -> None:
        self.events.append("elected")
        self.elected.set()

    async def _on_deposed(self) -> None:
        self.events.append("deposed")


@pytest.fixture
async def replicas(postgres_url: str) -> AsyncIterator[list[Replica]]:
    # A key of its own, so test runs sharing the database never contend with each other.
    key = secrets.randbits(62)
    made = [Replica(postgres_url, key, name) for name in ("a", "b")]
    yield made
    for replica in made:
        await replica.elector.aclose()


async def terminate(url: str, pid: int | None) -> None:
    """Kill a session from a third connection, as a crashed replica's session ends."""
    assert pid is not None
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
        cursor = await admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        assert (await cursor.fetchone()) == (True,)


async def test_of_two_replicas_one_leads_and_the_other_takes_over_when_its_session_dies(
    replicas: list[Replica], postgres_url: str
) -> None:
    a, b = replicas
    assert await a.elector.poll() is True
    assert await b.elector.poll() is False
    assert await a.elector.poll() is True  # still the leader, the lock taken once
    assert (a.elector.is_leader, b.elector.is_leader) == (True, False)
    assert (a.events, b.events) == (["elected"], [])

    await terminate(postgres_url, a.elector.backend_pid)
    assert await b.elector.poll() is True  # the lock died with the session: free at once
    assert await a.elector.poll() is False  # the old leader notices and steps down
    assert (a.events, b.events) == (["elected", "deposed"], ["elected"])
    assert await a.elector.poll() is False  # reconnected, standing by
    assert a.elector.connected


async def test_a_running_standby_takes_over_within_its_poll_interval(
    replicas: list[Replica], postgres_url: str
) -> None:
    interval = 0.5
    a, b = (Replica(postgres_url, replicas[0].elector.key, name, interval) for name in ("a2", "b2"))
    replicas.extend([a, b])
    assert await a.elector.start() is True
    assert await b.elector.start() is False

    killed = time.monotonic()
    await terminate(postgres_url, a.elector.backend_pid)
    await asyncio.wait_for(b.elected.wait(), timeout=interval + 5)
    took = time.monotonic() - killed
    assert took <= interval + 1.0, f"the standby took {took:.2f} s with a {interval} s poll"
    assert b.elector.is_leader


LEADER_PROCESS = """
import asyncio, sys
from bot.runtime.leader import LeaderElector

async def main():
    async def elected():
        print("elected", flush=True)

    async def deposed():
        pass

    elector = LeaderElector(sys.argv[1], on_elected=elected, on_deposed=deposed, key=int(sys.argv[2]))
    await elector.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_sigkill_of_the_leaders_process_frees_the_lock_at_once(
    replicas: list[Replica], postgres_url: str
) -> None:
    a = replicas[0]
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER_PROCESS, postgres_url, str(a.elector.key)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert leader.stdout is not None
        assert await asyncio.to_thread(leader.stdout.readline) == "elected\n"
        assert await a.elector.poll() is False
        leader.kill()  # SIGKILL: no clean-up, the kernel closes the socket
        await asyncio.to_thread(leader.wait)
    finally:
        leader.kill()
    # The server ends the session as the socket closes; a moment, not a poll interval.
    for _ in range(50):  # in practice the first poll; the backend may take a few ms to exit
        if await a.elector.poll():
            break
        await asyncio.sleep(0.1)
    assert a.elector.is_leader and a.events == ["elected"]


async def test_closing_the_leader_hands_over_after_its_work_stopped(
    replicas: list[Replica],
) -> None:
    a, b = replicas
    assert await a.elector.poll() is True
    await a.elector.aclose()
    assert a.events == ["elected", "deposed"] and not a.elector.is_leader
    assert await b.elector.poll() is True


async def test_a_leader_whose_start_fails_gives_the_lock_up(
    replicas: list[Replica], postgres_url: str
) -> None:
    a, b = replicas

    async def broken() -> None:
        a.events.append("elected")
        raise RuntimeError("scheduler would not start")

    a.elector._on_elected = broken
    assert await a.elector.poll() is False
    assert a.events == ["elected", "deposed"]
    assert await b.elector.poll() is True


async def test_an_unreachable_database_means_standing_by() -> None:
    events: list[str] = []

    async def note() -> None:
        events.append("called")

    elector = LeaderElector(
        "postgresql://postgres@127.0.0.1:9/test",
        on_elected=note,
        on_deposed=note,
        interval=1,
        timeout=2,
    )
    assert await elector.poll() is False
    assert not elector.connected and events == []
    await elector.aclose()


HOLDER = """
import sys
from bot.runtime.leader import SingleProcessLock
SingleProcessLock(sys.argv[1]).acquire()
print("held", flush=True)
sys.stdin.read()
"""

SECOND = """
import sys
from bot.runtime.leader import DatabaseInUse, SingleProcessLock
try:
    SingleProcessLock(sys.argv[1]).acquire()
except DatabaseInUse as exc:
    print(f"voicebot: {exc}", file=sys.stderr)
    sys.exit(2)
print("acquired", flush=True)
"""


def test_a_second_process_on_one_sqlite_file_is_refused_until_the_first_dies(
    tmp_path: Path,
) -> None:
    database = tmp_path / "data" / "voicebot.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        second = subprocess.run(
            [sys.executable, "-c", SECOND, str(database)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 2
        message = second.stderr.strip()
        assert f"(pid {holder.pid})" in message
        assert str(database) in message
        assert "With SQLite one process is the whole deployment" in message
        assert "DATABASE_URL=postgresql://" in message
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
        holder.wait()
    third = subprocess.run(
        [sys.executable, "-c", SECOND, str(database)], capture_output=True, text=True, timeout=30
    )
    assert third.returncode == 0 and third.stdout == "acquired\n", third.stderr


def test_the_lock_is_held_until_released(tmp_path: Path) -> None:
    database = tmp_path / "voicebot.db"
    with SingleProcessLock(database) as lock:
        assert lock.held and (tmp_path / "voicebot.db.lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(DatabaseInUse, match="already running"):
            SingleProcessLock(database).acquire()  # flock is per open file, even in one process
    assert not lock.held
    SingleProcessLock(database).acquire().release()
    assert not SingleProcessLock(":memory:").acquire().held
