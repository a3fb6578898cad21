"""Retention: old audit rows and settled calls go, in batches; recent and open ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services.retention import Retention
from bot.store import Store

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def _store(tmp_path, at: datetime) -> Store:
    return Store(tmp_path / "v.db", clock=lambda: at)


async def test_old_history_goes_in_batches_and_the_rest_stays(tmp_path) -> None:
    old = _store(tmp_path, NOW - timedelta(days=500))
    for n in range(7):
        await old.audit(user_id="U1", action="c2c.dial", outcome=f"old {n}")
    settled = await old.create_calls(
        "c2c", [("U1", "+919876543210", f"+9191234567{n:02d}") for n in range(5)]
    )
    for call in settled[:4]:
        await old.update_call(call.id, state="final")
    old.close()  # the fifth is still "placing": never pruned, whatever its age
    store = _store(tmp_path, NOW)
    await store.audit(user_id="U1", action="c2c.dial", outcome="recent")
    retention = Retention(
        store, lambda: NOW, audit_days=400, call_days=400, batch=3, pause_seconds=0
    )
    assert await retention.prune() == 7 + 4
    assert [e.outcome for e in await store.audit_entries(50)] == ["recent"]
    assert [c.state for c in await store.recent_calls("U1", limit=10)] == ["placing"]
    assert await retention.prune() == 0
