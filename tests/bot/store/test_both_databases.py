"""The store's rules on both databases: every table group through the one interface, on SQLite
and (with TEST_DATABASE_URL) on PostgreSQL, each test on a fresh database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.models import BroadcastPlan, IncomingCall
from bot.store import Store, StoreError
from tests.support.databases import database_for

NOW = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
AGENT, OTHER = "U0AGENT", "U0OTHER"


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    urls = database_for(request.param, tmp_path)
    url = next(urls)
    clock = [NOW]
    s = Store(url, clock=lambda: clock[0])
    s.test_clock = clock  # type: ignore[attr-defined]
    await s.open()
    yield s
    await s.aclose()
    urls.close()


async def test_agents_one_number_each_and_admins(store: Store) -> None:
    await store.register_agent(AGENT, "+919876543210")
    with pytest.raises(StoreError, match="already registered"):
        await store.register_agent(OTHER, "+919876543210")
    await store.grant_admin(OTHER, AGENT)
    assert await store.is_admin(OTHER) and await store.admins() == {OTHER}
    assert await store.revoke_admin(OTHER) and not await store.is_admin(OTHER)
    assert await store.unregister_agent(AGENT) and await store.get_agent(AGENT) is None


async def test_calls_get_ids_that_are_never_reused_and_tokens(store: Store) -> None:
    rows = await store.create_calls(
        "c2c", [(AGENT, "+919876543210", "+919123456789")] * 2, token_for=lambda i: f"t-{i}"
    )
    assert [r.id for r in rows] == [1, 2]
    assert (await store.call_by_token("t-2")).id == 2
    await store.update_call(2, state="placed", kaleyra_id="c2c_1")
    assert [c.id for c in await store.open_calls()] == [2]
    assert await store.placed_since(AGENT, "+919876543210", "+919123456789", NOW.isoformat())
    store.test_clock[0] = NOW + timedelta(days=500)  # type: ignore[attr-defined]
    await store.update_call(2, state="final")
    await store.update_call(1, state="final")
    assert await store.prune_history(
        store.test_clock[0],
        audit_days=1,
        call_days=1,
        batch=10,  # type: ignore[attr-defined]
    )
    (new,) = await store.create_calls("c2c", [(AGENT, "+919876543210", "+919000000001")])
    assert new.id == 3  # the pruned ids are not handed out again


async def test_a_slack_delivery_and_a_key_are_taken_once(store: Store) -> None:
    assert await store.first_delivery("event:Ev1")
    assert not await store.first_delivery("event:Ev1")
    await store.forget_delivery("event:Ev1")
    assert await store.first_delivery("event:Ev1")
    assert await store.first_time("click:a") and not await store.first_time("click:a")
    assert await store.secret("s") == await store.secret("s")


async def test_sent_log_claims_once(store: Store) -> None:
    assert await store.claim("reminder:1", "reminder", NOW)
    assert not await store.claim("reminder:1", "reminder", NOW)
    await store.mark_sent("reminder:1")
    assert await store.is_sent("reminder:1")
    assert await store.mark_missed("digest:1", "digest", NOW, "down")
    assert not await store.mark_missed("digest:1", "digest", NOW, "down")


async def test_a_campaign_starts_once_and_each_chunk_is_claimed_once(store: Store) -> None:
    numbers = [f"+9191000000{n:02d}" for n in range(3)]
    plan = BroadcastPlan(numbers=numbers, national=[n[3:] for n in numbers], play="123.sound")
    job = await store.create_job("obd", AGENT, plan)
    chunks = [(numbers[:2], 2), (numbers[2:], 1)]
    assert await store.start_campaign(job, AGENT, None, chunks)
    assert not await store.start_campaign(job, AGENT, None, chunks)
    chunk = await store.next_chunk(job)
    assert chunk is not None and chunk.idx == 0
    assert await store.claim_chunk(job, 0) and not await store.claim_chunk(job, 0)
    await store.settle_chunk(job, 0, "accepted", group_ids=["g1"])
    other = await store.create_job("obd", OTHER, plan)
    assert await store.start_campaign(other, OTHER, None, chunks)
    since = (NOW - timedelta(hours=1)).isoformat()
    overlaps = await store.overlapping_campaigns(other, numbers, None, since)
    assert [(i, owner) for i, owner, _ in overlaps] == [(job, AGENT)]
    assert [c.id for c in await store.recent_campaigns()] == [other, job]
    assert await store.cancel_campaign(job) == 1  # the chunk never sent


async def test_a_senders_lease_is_held_by_one_replica(store: Store) -> None:
    plan = BroadcastPlan(numbers=["+919100000001"], national=["9100000001"], play="1.sound")
    job = await store.create_job("obd", AGENT, plan)
    await store.start_campaign(job, AGENT, None, [(plan.numbers, 1)])
    until = (NOW + timedelta(seconds=20)).isoformat()
    assert await store.claim_sender(job, until, "replica-a")
    assert not await store.claim_sender(job, until, "replica-b")
    assert await store.senderless_campaigns() == []
    store.test_clock[0] = NOW + timedelta(seconds=30)  # type: ignore[attr-defined]
    assert await store.senderless_campaigns() == [(job, "replica-a")]
    assert await store.interrupt_campaign(job)


async def test_incoming_calls_are_remembered_once_and_claimed_once(store: Store) -> None:
    call = IncomingCall("k1", "+919123456789", "+919876543210", NOW.isoformat(), 0, "NOANSWER", "")
    assert await store.remember_incoming([call], {}, NOW.isoformat()) == 1
    assert await store.remember_incoming([call], {}, NOW.isoformat()) == 0
    assert await store.claim_callback("k1", AGENT) and not await store.claim_callback("k1", OTHER)


async def test_blacklist_and_audit(store: Store) -> None:
    await store.blacklist_add(["+919000000001", "+919000000002"], AGENT, "spam")
    assert await store.blacklisted(["+919000000001", "+919111111111"]) == {"+919000000001"}
    assert await store.blacklist_remove(["+919000000001", "+919111111111"]) == 1
    await store.audit(user_id=AGENT, action="c2c.dial", outcome="ok", detail={"n": 1})
    assert [e.action for e in await store.audit_entries(limit=5)] == ["c2c.dial"]
