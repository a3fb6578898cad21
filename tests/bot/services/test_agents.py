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


def outcomes(store: Store, action: str) -> list[str]:
    return [e.outcome for e in store.audit_entries(action=action)]


def test_a_self_registered_number_is_unproven_until_its_code_is_typed(agents, store) -> None:
    registration = agents.register(AGENT, MINE)
    assert not registration.verified and registration.code and len(registration.code) == 6
    assert store.get_agent(AGENT).number == MINE.e164  # the mapping is kept…
    assert agents.number(AGENT) is None  # …but rings nobody first
    assert agents.status(AGENT).verified is False
    with pytest.raises(NotVerified, match="/c2c verify <code>"):
        agents.first_leg(AGENT)
    assert store.agent_by_number(MINE.e164) is None  # reminders go to proven holders only
    stored = store.verification(AGENT)
    assert stored.code_hash and registration.code not in stored.code_hash  # hashed, not clear

    assert agents.verify(AGENT, registration.code) == MINE
    assert agents.number(AGENT) == MINE and agents.first_leg(AGENT) == MINE
    assert store.agent_by_number(MINE.e164).user_id == AGENT
    assert outcomes(store, "c2c.verify") == ["ok"]


def test_wrong_codes_are_counted_and_the_sixth_try_is_refused(agents, store) -> None:
    registration = agents.register(AGENT, MINE)
    wrong = "000000" if registration.code != "000000" else "111111"
    for left in range(MAX_TRIES - 1, 0, -1):
        with pytest.raises(Refused, match=f"{left} tr"):
            agents.verify(AGENT, wrong)
    with pytest.raises(Refused, match="again for a new call"):
        agents.verify(AGENT, wrong)
    with pytest.raises(Refused, match="Too many wrong codes"):
        agents.verify(AGENT, registration.code)  # even the right code, now
    assert agents.number(AGENT) is None
    assert outcomes(store, "c2c.verify") == ["too many"] + ["wrong code"] * MAX_TRIES


def test_a_code_expires_after_ten_minutes(agents, store, clock) -> None:
    registration = agents.register(AGENT, MINE)
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(Refused, match="expired"):
        agents.verify(AGENT, registration.code)
    assert agents.number(AGENT) is None
    assert outcomes(store, "c2c.verify") == ["expired"]


def test_verify_with_nothing_pending_is_refused_and_audited(agents, store) -> None:
    with pytest.raises(Refused, match="No verification is waiting"):
        agents.verify(AGENT, "123456")
    assert outcomes(store, "c2c.verify") == ["none pending"]


def test_an_admin_assigning_a_number_needs_no_proof(agents, store) -> None:
    registration = agents.register(ADMIN, THEIRS, target=OTHER)
    assert registration.verified and registration.code is None
    assert agents.number(OTHER) == THEIRS
    assert store.verification(OTHER).verified_by == ADMIN


def test_registering_someone_else_is_for_admins(agents, store) -> None:
    with pytest.raises(Refused, match="Only admins can register or unregister someone else"):
        agents.register(AGENT, THEIRS, target=OTHER)
    assert store.get_agent(OTHER) is None
    assert outcomes(store, "c2c.refused") == ["not admin"]


def test_re_registering_needs_proof_again(agents, store) -> None:
    first = agents.register(AGENT, MINE)
    agents.verify(AGENT, first.code)
    again = agents.register(AGENT, MINE)
    assert again.unchanged and agents.number(AGENT) == MINE  # the same proven number: nothing
    moved = agents.register(AGENT, THEIRS)
    assert not moved.verified and agents.number(AGENT) is None  # a new number: prove it
    agents.unregister(AGENT)
    back = agents.register(AGENT, MINE)
    assert not back.verified and agents.number(AGENT) is None  # after unregistering: prove it


def test_a_live_unproven_claim_does_not_block_the_holder(agents, store) -> None:
    squat = agents.register(OTHER, MINE)  # a claim on someone else's number, code still live
    mine = agents.register(AGENT, MINE)  # the holder starts their own verification beside it
    assert agents.status(AGENT).number == MINE.e164 and not agents.status(AGENT).verified
    agents.verify(AGENT, mine.code)  # the first proof wins
    assert agents.number(AGENT) == MINE and store.get_agent(OTHER) is None
    with pytest.raises(Refused, match="No verification is waiting"):
        agents.verify(OTHER, squat.code)


def test_a_stale_unproven_claim_does_not_keep_a_number(agents, store, clock) -> None:
    agents.register(OTHER, MINE)  # a claim on someone else's number, never proven
    clock.advance(minutes=11)
    registration = agents.register(AGENT, MINE)
    assert store.get_agent(OTHER) is None and store.get_agent(AGENT).number == MINE.e164
    agents.verify(AGENT, registration.code)
    assert agents.number(AGENT) == MINE


def test_a_proven_number_cannot_be_claimed_by_someone_else(agents, store, clock) -> None:
    registration = agents.register(AGENT, MINE)
    agents.verify(AGENT, registration.code)
    clock.advance(days=2)
    with pytest.raises(Refused, match="already registered to another Slack user"):
        agents.register(OTHER, MINE)
    assert agents.number(AGENT) == MINE


def test_verification_calls_are_limited_per_day(agents, store, clock) -> None:
    for _ in range(CALLS_PER_DAY):
        agents.register(AGENT, MINE)
    with pytest.raises(Refused, match="verification calls in the last 24 hours"):
        agents.register(AGENT, MINE)
    clock.advance(hours=24, seconds=1)
    assert agents.register(AGENT, MINE).code


def test_first_leg_rules(agents, store) -> None:
    with pytest.raises(NotRegistered, match="/c2c register 9876543210"):
        agents.first_leg(AGENT)
    with pytest.raises(Refused, match="Only admins can choose the first leg"):
        agents.first_leg(AGENT, THEIRS)
    assert agents.first_leg(ADMIN, THEIRS) == THEIRS  # admins choose any first leg
    assert outcomes(store, "c2c.refused") == ["not admin"]


def test_admin_grant_list_and_revoke(agents, store) -> None:
    with pytest.raises(Refused, match="Only admins can see or change who is an admin"):
        agents.roster(AGENT)
    assert outcomes(store, "admin.list.refused") == ["not admin"]
    agents.grant(ADMIN, AGENT)
    assert agents.is_admin(AGENT)
    roster = agents.roster(AGENT)
    assert roster.admins == (ADMIN, AGENT) and roster.from_env == {ADMIN}
    with pytest.raises(Refused, match="ADMIN_USER_IDS"):
        agents.revoke(AGENT, ADMIN)
    with pytest.raises(Refused, match="your own admin rights"):
        agents.revoke(AGENT, AGENT)
    assert agents.revoke(ADMIN, AGENT).changed and not agents.is_admin(AGENT)
    assert not agents.revoke(ADMIN, AGENT).changed
