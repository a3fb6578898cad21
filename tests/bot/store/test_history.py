"""A year of history: paged reads walk an index, retention prunes in batches (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.store import Store

NOW = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)


@pytest.fixture
def clock():
    now = [NOW]
    return now


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "h.db", clock=lambda: clock[0])
    yield s
    s.close()


def audit_count(store: Store) -> int:
    return store.db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]


async def seed_calls(store: Store, clock: list, user: str, count: int, *, days_ago: float = 0):
    clock[0] = NOW - timedelta(days=days_ago)
    rows = await store.create_calls(
        "c2c", [(user, "+919876543210", f"+9191{n:08d}") for n in range(count)]
    )
    clock[0] = NOW
    return rows


# ----------------------------------------------------------------------------- indexes


def test_the_scale_indexes_exist(store: Store) -> None:
    names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {
        "idx_calls_open",
        "idx_calls_placed",
        "idx_calls_placing",
        "idx_calls_user_id_id",
    } <= names
    assert {"idx_sent_log_missed", "idx_sent_log_claimed"} <= names
    assert "idx_blacklist_added_at_number" in names


@pytest.fixture
async def year(store: Store, clock: list) -> Store:
    """Mostly finished calls, a few open, statistics gathered: the planner's real choices."""
    for day in range(30):
        rows = await seed_calls(store, clock, f"U{day % 3}", 60, days_ago=30 - day)
        with store.db.conn:
            store.db.conn.executemany(
                "UPDATE calls SET state = 'final' WHERE id = ?", [[r.id] for r in rows]
            )
    open_ = await seed_calls(store, clock, "U1", 4)
    await store.update_call(open_[0].id, state="placed")
    await store.update_call(open_[1].id, state="unknown")
    await store.blacklist_add([f"+9190{n:08d}" for n in range(300)], "U1")
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO audit (at, user_id, action, outcome) VALUES (?, 'U1', 'c2c.dial', 'ok')",
            [[(NOW - timedelta(hours=n)).isoformat()] for n in range(2000, 0, -1)],
        )
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO sent_log (key, kind, due_at, state, late, at) VALUES (?, 'reminder', ?, ?, 0, ?)",
            [
                [f"reminder:{n}", (NOW - timedelta(hours=n)).isoformat(), state, NOW.isoformat()]
                for n in range(2000)
                for state in ["missed" if n % 500 == 0 else "sent"]
            ],
        )
    store.db.execute("ANALYZE")
    return store


READS = {
    "open calls": lambda s: s.open_calls(),
    "calls being placed": lambda s: s.calls_being_placed(),
    "latest calls": lambda s: s.recent_calls("U1", limit=10),
    "history page 1": lambda s: s.call_history("U1"),
    "history page n": lambda s: s.call_history("U1", before_id=900),
    "blacklist page 1": lambda s: s.blacklist_page(),
    "blacklist page n": lambda s: s.blacklist_page(
        after=("2026-11-23T05:30:00+00:00", "+919000000100")
    ),
    "blacklisted()": lambda s: s.blacklisted(["+919000000001", "+919111111111"]),
    "prune": lambda s: s.prune_history(NOW, audit_days=10, call_days=10, batch=50),
    "missed reminders": lambda s: s.missed_entries(),
    "stale claims": lambda s: s.sweep_stale_claims(NOW - timedelta(minutes=30)),
}


PAGES = {"latest calls", "history page 1", "history page n", "blacklist page 1", "blacklist page n"}


@pytest.mark.parametrize("name", sorted(READS))
async def test_hot_reads_walk_an_index_never_the_table(year: Store, name: str) -> None:
    """The SQL each store method really runs, explained: its cost follows its answer, not the
    history behind it (with statistics, as a file gets them from ANALYZE)."""
    statements: list[str] = []
    year.db.conn.set_trace_callback(statements.append)
    try:
        await READS[name](year)
    finally:
        year.db.conn.set_trace_callback(None)
    reads = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "DELETE"))]
    assert reads, statements
    for sql in reads:
        plan = [r[-1] for r in year.db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()]
        scans = [p for p in plan if p.startswith("SCAN") and "INDEX" not in p]
        assert scans == [], (sql, plan)
        if name in PAGES:  # a page is read in order off the index, never sorted whole
            assert not any("TEMP B-TREE" in p for p in plan), (sql, plan)


# ----------------------------------------------------------------------------- call history


async def test_call_history_pages_newest_first_only_mine(store: Store, clock: list) -> None:
    mine = await seed_calls(store, clock, "U1", 45)
    await seed_calls(store, clock, "U2", 5)
    first = await store.call_history("U1", limit=20)
    second = await store.call_history("U1", before_id=first[-1].id, limit=20)
    third = await store.call_history("U1", before_id=second[-1].id, limit=20)
    ids = [c.id for c in first + second + third]
    assert ids == sorted((c.id for c in mine), reverse=True)
    assert [len(first), len(second), len(third)] == [20, 20, 5]
    assert {c.user_id for c in first + second + third} == {"U1"}
    assert await store.call_history("U1", before_id=third[-1].id) == []
    assert await store.call_history("U9") == []


# ----------------------------------------------------------------------------- blacklist page


async def test_blacklist_pages_newest_first_without_gaps_or_repeats(
    store: Store, clock: list
) -> None:
    for day in range(5):
        clock[0] = NOW - timedelta(days=5 - day)
        await store.blacklist_add([f"+9190{day}{n:07d}" for n in range(30)], "U1", reason="spam")
    clock[0] = NOW
    seen: list[str] = []
    after = None
    while page := await store.blacklist_page(after=after, limit=40):
        seen += [e.number for e in page]
        after = (page[-1].added_at, page[-1].number)
    assert len(seen) == 150 and len(set(seen)) == 150
    assert all(n.startswith("+91904") for n in seen[:30])  # the newest day first
    assert all(n.startswith("+91900") for n in seen[-30:])
    assert (await store.blacklist_page(limit=1))[0].reason == "spam"


# ----------------------------------------------------------------------------- retention


async def test_prune_history_deletes_old_rows_in_batches_and_keeps_the_rest(
    store: Store, clock: list
) -> None:
    old = await seed_calls(store, clock, "U1", 7, days_ago=500)
    for call in old[:5]:
        await store.update_call(call.id, state="final")
    await store.update_call(old[5].id, state="failed")  # old[6] is still 'placing': kept
    recent = await seed_calls(store, clock, "U1", 3, days_ago=10)
    for n in range(9):
        clock[0] = NOW - timedelta(days=500 if n < 6 else 1)
        await store.audit(user_id="U1", action="c2c.dial", outcome="placed")
    clock[0] = NOW

    deleted = []
    while count := await store.prune_history(NOW, audit_days=400, call_days=400, batch=4):
        deleted.append(count)
    assert deleted == [8, 4] and sum(deleted) == 6 + 6
    left = [c.id for c in await store.call_history("U1", limit=100)]
    assert left == sorted([old[6].id, *(c.id for c in recent)], reverse=True)
    assert audit_count(store) == 3
    assert await store.prune_history(NOW, audit_days=400, call_days=400) == 0


async def test_prune_history_follows_each_retention_setting(store: Store, clock: list) -> None:
    calls = await seed_calls(store, clock, "U1", 2, days_ago=40)
    for call in calls:
        await store.update_call(call.id, state="final")
    clock[0] = NOW - timedelta(days=40)
    await store.audit(user_id="U1", action="c2c.dial", outcome="placed")
    clock[0] = NOW
    assert await store.prune_history(NOW, audit_days=400, call_days=30) == 2
    assert audit_count(store) == 1
    assert await store.prune_history(NOW, audit_days=30, call_days=30) == 1
    assert audit_count(store) == 0


def test_a_tracker_reading_only_placed_calls_has_its_index(year: Store) -> None:
    """'unknown' calls carry no Kaleyra id and are never polled: `state = 'placed'` is enough."""
    sql = "SELECT * FROM calls WHERE state = 'placed' ORDER BY id"
    plan = [r[-1] for r in year.db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()]
    assert plan == ["SCAN calls USING INDEX idx_calls_placed"], plan
