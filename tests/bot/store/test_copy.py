"""`voicebot db copy`: a populated SQLite file moved to PostgreSQL, every row and id kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.models import BroadcastPlan
from bot.store import Store, StoreError
from bot.store.copy import TABLES, copy_database
from tests.support.databases import fresh_postgres

NOW = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)


@pytest.fixture
def postgres():
    yield from fresh_postgres()


async def populate(url: str) -> None:
    store = Store(url, clock=lambda: NOW)
    await store.register_agent("U1", "+919876543210")
    await store.grant_admin("U2", "U1")
    rows = await store.create_calls(
        "c2c", [("U1", "+919876543210", f"+91912345678{n}") for n in range(3)]
    )
    await store.save_outcome(rows[0].id, "U1", "interested", "a note", None)
    await store.blacklist_add(["+919000000001"], "U1", "spam")
    plan = BroadcastPlan(numbers=["+919100000001"], national=["9100000001"], play="1.sound")
    job = await store.create_job("obd", "U1", plan)
    await store.start_campaign(job, "U1", None, [(plan.numbers, 1)])
    await store.audit(user_id="U1", action="c2c.dial", outcome="ok", detail={"n": 1})
    await store.set_setting("digest_channel", "C0OPS")
    await store.claim("reminder:1", "reminder", NOW)
    store.close()


async def test_a_populated_sqlite_file_moves_to_postgresql_whole(tmp_path, postgres) -> None:
    source = f"sqlite:///{tmp_path / 'voicebot.db'}"
    await populate(source)
    said: list[str] = []
    copied = await copy_database(source, postgres, say=said.append)
    assert set(copied) == set(TABLES) and said[0].startswith("agents: ")
    assert (copied["calls"], copied["jobs"], copied["campaign_chunks"]) == (3, 1, 1)

    target = Store(postgres, clock=lambda: NOW)
    await target.open()
    try:
        assert (await target.get_agent("U1")).number == "+919876543210"
        assert await target.is_admin("U2")
        assert (await target.get_outcome(1)).note == "a note"
        assert await target.blacklisted(["+919000000001"]) == {"+919000000001"}
        assert await target.get_setting("digest_channel") == "C0OPS"
        assert not await target.claim("reminder:1", "reminder", NOW)  # claimed once, still
        (new,) = await target.create_calls("c2c", [("U1", "+919876543210", "+919000000009")])
        assert new.id == 4  # the counters go on after the copied ids
    finally:
        await target.aclose()
    with pytest.raises(StoreError, match="already has"):
        await copy_database(source, postgres)  # never into a database that has rows
