"""Agents: registration with proof of possession, admins, and the permission rules (real store)."""

from __future__ import annotations

import pytest

from bot.phones import parse_phone
from bot.services.agents import (
    CALLS_PER_DAY,
    MAX_TRIES,
    Agents,
    NotRegistered,
    NotVerified,
    Refused,
)
from bot.store import Store

ADMIN, AGENT, OTHER = "U0ADMIN", "U0AGENT", "U0OTHER"
MINE, THEIRS = parse_phone("9876543210"), parse_phone("9123456789")


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "a.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
def agents(store) -> Agents:
    return Agents(store, env_admins=frozenset({ADMIN}))


async def outcomes(store: Store, action: str) -> list[str]:
    return [e.outcome for e in await store.audit_entries(action=action)]


async def test_a_self_registered_number_is_unproven_until_its_code_is_typed(agents, store) -> None:
    registration = await agents.register(AGENT, MINE)
    assert not registration.verified and registration.code and len(registration.code) == 6
    assert (await store.get_agent(AGENT)).number == MINE.e164  # the mapping is kept…
    assert await agents.number(AGENT) is None  # …but rings nobody first
    assert (await agents.status(AGENT)).verified is False
    with pytest.raises(NotVerified, match="/c2c verify <code>"):
        await agents.first_leg(AGENT)
    assert await store.agent_by_number(MINE.e164) is None  # reminders go to proven holders only
    stored = await store.verification(AGENT)
    assert stored.code_hash and registration.code not in stored.code_hash  # hashed, not clear

    assert await agents.verify(AGENT, registration.code) == MINE
    assert await agents.number(AGENT) == MINE and await agents.first_leg(AGENT) == MINE
    assert (await store.agent_by_number(MINE.e164)).user_id == AGENT
    assert await outcomes(store, "c2c.verify") == ["ok"]


async def test_wrong_codes_are_counted_and_the_sixth_try_is_refused(agents, store) -> None:
    registration = await agents.register(AGENT, MINE)
    wrong = "000000" if registration.code != "000000" else "111111"
    for left in range(MAX_TRIES - 1, 0, -1):
        with pytest.raises(Refused, match=f"{left} tr"):
            await agents.verify(AGENT, wrong)
    with pytest.raises(Refused, match="again for a new call"):
        await agents.verify(AGENT, wrong)
    with pytest.raises(Refused, match="Too many wrong codes"):
        await agents.verify(AGENT, registration.code)  # even the right code, now
    assert await agents.number(AGENT) is None
    assert await outcomes(store, "c2c.verify") == ["too many"] + ["wrong code"] * MAX_TRIES


async def test_a_code_expires_after_ten_minutes(agents, store, clock) -> None:
    registration = await agents.register(AGENT, MINE)
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(Refused, match="expired"):
        await agents.verify(AGENT, registration.code)
    assert await agents.number(AGENT) is None
    assert await outcomes(store, "c2c.verify") == ["expired"]


async def test_verify_with_nothing_pending_is_refused_and_audited(agents, store) -> None:
    with pytest.raises(Refused, match="No verification is waiting"):
        await agents.verify(AGENT, "123456")
    assert await outcomes(store, "c2c.verify") == ["none pending"]


async def test_an_admin_assigning_a_number_needs_no_proof(agents, store) -> None:
    registration = await agents.register(ADMIN, THEIRS, target=OTHER)
    assert registration.verified and registration.code is None
    assert await agents.number(OTHER) == THEIRS
    assert (await store.verification(OTHER)).verified_by == ADMIN


async def test_registering_someone_else_is_for_admins(agents, store) -> None:
    with pytest.raises(Refused, match="Only admins can register or unregister someone else"):
        await agents.register(AGENT, THEIRS, target=OTHER)
    assert await store.get_agent(OTHER) is None
    assert await outcomes(store, "c2c.refused") == ["not admin"]


async def test_re_registering_needs_proof_again(agents, store) -> None:
    first = await agents.register(AGENT, MINE)
    await agents.verify(AGENT, first.code)
    again = await agents.register(AGENT, MINE)
    assert again.unchanged and await agents.number(AGENT) == MINE  # the same proven number: nothing
    moved = await agents.register(AGENT, THEIRS)
    assert not moved.verified and await agents.number(AGENT) is None  # a new number: prove it
    await agents.unregister(AGENT)
    back = await agents.register(AGENT, MINE)
    assert not back.verified and await agents.number(AGENT) is None  # after unregistering: prove it


async def test_a_live_unproven_claim_does_not_block_the_holder(agents, store) -> None:
    squat = await agents.register(OTHER, MINE)  # a claim on someone else's number, code still live
    mine = await agents.register(AGENT, MINE)  # the holder starts their own verification beside it
    assert (await agents.status(AGENT)).number == MINE.e164 and not (
        await agents.status(AGENT)
    ).verified
    await agents.verify(AGENT, mine.code)  # the first proof wins
    assert await agents.number(AGENT) == MINE and await store.get_agent(OTHER) is None
    with pytest.raises(Refused, match="No verification is waiting"):
        await agents.verify(OTHER, squat.code)


async def test_a_stale_unproven_claim_does_not_keep_a_number(agents, store, clock) -> None:
    await agents.register(OTHER, MINE)  # a claim on someone else's number, never proven
    clock.advance(minutes=11)
    registration = await agents.register(AGENT, MINE)
    assert (
        await store.get_agent(OTHER) is None and (await store.get_agent(AGENT)).number == MINE.e164
    )
    await agents.verify(AGENT, registration.code)
    assert await agents.number(AGENT) == MINE


async def test_a_proven_number_cannot_be_claimed_by_someone_else(agents, store, clock) -> None:
    registration = await agents.register(AGENT, MINE)
    await agents.verify(AGENT, registration.code)
    clock.advance(days=2)
    with pytest.raises(Refused, match="already registered to another Slack user"):
        await agents.register(OTHER, MINE)
    assert await agents.number(AGENT) == MINE


async def test_verification_calls_are_limited_per_day(agents, store, clock) -> None:
    for _ in range(CALLS_PER_DAY):
        await agents.register(AGENT, MINE)
    with pytest.raises(Refused, match="verification calls in the last 24 hours"):
        await agents.register(AGENT, MINE)
    clock.advance(hours=24, seconds=1)
    assert (await agents.register(AGENT, MINE)).code


async def test_first_leg_rules(agents, store) -> None:
    with pytest.raises(NotRegistered, match="/c2c register 9876543210"):
        await agents.first_leg(AGENT)
    with pytest.raises(Refused, match="Only admins can choose the first leg"):
        await agents.first_leg(AGENT, THEIRS)
    assert await agents.first_leg(ADMIN, THEIRS) == THEIRS  # admins choose any first leg
    assert await outcomes(store, "c2c.refused") == ["not admin"]


async def test_admin_grant_list_and_revoke(agents, store) -> None:
    with pytest.raises(Refused, match="Only admins can see or change who is an admin"):
        await agents.roster(AGENT)
    assert await outcomes(store, "admin.list.refused") == ["not admin"]
    await agents.grant(ADMIN, AGENT)
    assert await agents.is_admin(AGENT)
    roster = await agents.roster(AGENT)
    assert roster.admins == (ADMIN, AGENT) and roster.from_env == {ADMIN}
    with pytest.raises(Refused, match="ADMIN_USER_IDS"):
        await agents.revoke(AGENT, ADMIN)
    with pytest.raises(Refused, match="your own admin rights"):
        await agents.revoke(AGENT, AGENT)
    assert (await agents.revoke(ADMIN, AGENT)).changed and not await agents.is_admin(AGENT)
    assert not (await agents.revoke(ADMIN, AGENT)).changed
