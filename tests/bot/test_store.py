from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.store import SCHEMA_REVISION, SCHEMA_VERSION, Store, StoreError


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "v.db", clock=lambda: datetime(2026, 11, 23, 5, 30, tzinfo=UTC))
    yield s
    s.close()


def test_schema_is_created_with_wal_and_versioned(store: Store) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == (
        SCHEMA_REVISION
    )
    assert {"agents", "calls", "audit", "settings", "seen_requests"} <= set(store.db.table_names())


async def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path) -> None:
    first = Store(tmp_path / "v.db")
    await first.register_agent("U1", "+919876543210")
    first.close()
    again = Store(tmp_path / "v.db")
    assert (await again.get_agent("U1")).number == "+919876543210"
    again.close()


async def test_one_number_per_user_one_user_per_number(store: Store) -> None:
    await store.register_agent("U1", "+919876543210")
    await store.register_agent("U1", "+919123456789")  # moving my own number is fine
    assert (await store.get_agent("U1")).number == "+919123456789"
    with pytest.raises(StoreError):
        await store.register_agent("U2", "+919123456789")


async def test_audit_masks_numbers(store: Store) -> None:
    await store.audit(
        user_id="U1",
        action="c2c.dial",
        outcome="placed",
        numbers=["+919876543210"],
        kaleyra_ids=["c2c_1"],
    )
    [entry] = await store.audit_entries()
    assert entry.numbers == "98******10" and entry.kaleyra_ids == "c2c_1"


async def test_recent_duplicate_window(tmp_path) -> None:
    now = [datetime(2026, 11, 23, 5, 30, tzinfo=UTC)]
    store = Store(tmp_path / "d.db", clock=lambda: now[0])
    call, refused = await store.create_calls(
        "c2c", [("U1", "+91A", "+91C"), ("U1", "+91A", "+91F")]
    )
    await store.update_call(refused.id, state="failed")  # rang nobody: not a repeat
    keys = await store.recent_call_keys(timedelta(seconds=60))
    assert keys == [("U1", "+91A", "+91C", call.created_at)]
    now[0] += timedelta(seconds=61)
    assert await store.recent_call_keys(timedelta(seconds=60)) == []


async def test_first_time_is_exactly_once(store: Store) -> None:
    assert await store.first_time("k") and not await store.first_time("k")


def test_concurrent_writes_from_threads(store: Store) -> None:
    async def work(n: int) -> None:
        for i in range(50):
            await store.audit(user_id=f"U{n}", action="x", outcome="ok", detail={"i": i})

    threads = [threading.Thread(target=asyncio.run, args=(work(n),)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.db["audit"].count == 400


async def test_first_time_honours_its_window(tmp_path) -> None:
    now = [datetime(2026, 11, 23, 5, 30, tzinfo=UTC)]
    store = Store(tmp_path / "s.db", clock=lambda: now[0])
    assert await store.first_time("sig", timedelta(minutes=6)) and not await store.first_time(
        "sig", timedelta(minutes=6)
    )
    now[0] += timedelta(minutes=7)
    assert await store.first_time("sig", timedelta(minutes=6))  # outside the window: new again
    assert not await store.first_time("sig", timedelta(minutes=6))
    assert "idx_seen_requests_at" in {i.name for i in store.db["seen_requests"].indexes}


async def test_migration_12_never_hands_out_an_id_still_referred_to(tmp_path, monkeypatch) -> None:
    """A version-11 file whose newest call was pruned while its outcome stayed (the bug of
    issue 18 item 6): after the upgrade, new calls start above every id still named."""
    import sqlite3

    import sqlite_utils

    from bot.store.migrations import legacy

    monkeypatch.setattr(legacy, "SCHEMA_VERSION", 11)
    monkeypatch.setattr(legacy, "LATER", tuple(s for s in legacy.LATER if s[0] <= 11))
    old = sqlite3.connect(tmp_path / "v.db")  # a file the sqlite-utils history left at 11
    legacy.migrate(sqlite_utils.Database(old))
    for _ in range(3):
        old.execute(
            "INSERT INTO calls (kind, user_id, agent_number, customer_number, state, created_at)"
            " VALUES ('c2c', 'U1', '+919876543210', '+919123456789', 'placing', '2026-11-23')"
        )
    old.execute("INSERT INTO call_outcomes (call_id, user_id, outcome) VALUES (3, 'U1', 'x')")
    old.execute("DELETE FROM calls WHERE id = 3")
    old.commit()
    old.close()
    monkeypatch.undo()
    upgraded = Store(tmp_path / "v.db")
    assert upgraded.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 13
    assert upgraded.db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == (
        SCHEMA_REVISION  # stamped where the old steps end, then Alembic's later revisions
    )
    assert "sender_by" in upgraded.db["jobs"].columns_dict
    assert [c.id for c in await upgraded.recent_calls("U1", limit=5)] == [2, 1]
    (new,) = await upgraded.create_calls("c2c", [("U2", "+919876543210", "+919000000001")])
    assert new.id == 4 and await upgraded.get_outcome(new.id) is None
    upgraded.db.execute("DELETE FROM calls WHERE id = 4")
    (after,) = await upgraded.create_calls("c2c", [("U2", "+919876543210", "+919000000002")])
    assert after.id == 5  # AUTOINCREMENT: the largest id ever, not the largest id left
    indexes = {
        r[0] for r in upgraded.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert {"idx_calls_open", "idx_calls_user_id_id", "idx_calls_callback_token"} <= indexes
    upgraded.close()
