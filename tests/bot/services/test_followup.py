"""Followups: the rules, with the real store and the sandbox client, no Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.grammar import UsageError
from bot.models import Followup, FollowupDraft
from bot.phones import parse_phone
from bot.services.agents import Agents, NotRegistered, Refused
from bot.services.followup import Followups
from bot.store import Store
from tests.support.sandbox import IST

ADMIN, AGENT, OTHER, CLAIMER = "U0ADMIN", "U0AGENT", "U0OTHER", "U0CLAIM"
MINE, THEIRS = parse_phone("9876543210"), parse_phone("9123456789")
CUSTOMER = parse_phone("8712345678")


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "f.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
async def agents(store, clock) -> Agents:
    agents = Agents(store, env_admins=frozenset({ADMIN}), clock=clock)
    await agents.register(ADMIN, MINE, target=AGENT)  # assigned by an admin: proven
    await agents.register(ADMIN, THEIRS, target=OTHER)
    return agents


@pytest.fixture
def changed(mocker):
    return mocker.Mock()


@pytest.fixture
def followups(store, kaleyra, agents, clock, changed) -> Followups:
    return Followups(
        store,
        kaleyra,
        agents,
        clock=clock,
        tz=IST,
        tz_name="Asia/Kolkata",
        region="IN",
        reminder_lead=timedelta(minutes=10),
        on_change=changed,
    )


def draft(user_id: str = AGENT, **kw) -> FollowupDraft:
    fields = {
        "user_id": user_id,
        "phone": CUSTOMER,
        "name": "John Doe",
        "follower": MINE,
        "when": datetime(2026, 11, 24, 19, 30),
    }
    return FollowupDraft(**{**fields, **kw})


async def test_save_sends_kaleyra_and_stores_a_typed_followup(
    followups, store, sandbox, changed
) -> None:
    item = await followups.save(draft())
    [sent] = sandbox.state.recorded("followup")
    assert sent.form["ontime"] == "24-11-2026 19:30" and sent.form["follower"] == "9876543210"
    stored = await store.get_followup(item.id)
    assert isinstance(stored, Followup) and stored == item
    assert (stored.user_id, stored.ontime, stored.source, stored.reminder) == (
        AGENT,
        datetime(2026, 11, 24, 14, 0, tzinfo=UTC),
        "slack",
        "pending",
    )
    changed.assert_called_once_with(AGENT)
    [entry] = await store.audit_entries(action="followup.add")
    assert entry.kaleyra_ids == item.id and entry.numbers == "87******78,98******10"


async def test_an_unproven_number_grants_nothing(followups, agents, store, sandbox) -> None:
    await agents.register(CLAIMER, parse_phone("9000012345"))  # self-registered, not verified
    with pytest.raises(NotRegistered, match="not verified"):
        await followups.draft_add(CLAIMER, CUSTOMER, "John", datetime(2026, 11, 24, 10, 0))
    with pytest.raises(NotRegistered):
        await followups.list_scope(CLAIMER, "mine")
    mine = await followups.save(draft())
    # Claiming the follower's number (unproven) does not hand over its follow-ups.
    await store.unregister_agent(AGENT)
    await agents.register(CLAIMER, MINE)
    assert not await followups.may_change(CLAIMER, mine)
    assert await followups.holder(MINE.e164) is None  # nobody to remind: the number is unproven


async def test_who_may_change(followups, store, agents) -> None:
    item = await followups.save(draft())
    assert await followups.may_change(AGENT, item)  # made it
    assert await followups.may_change(ADMIN, item)
    assert not await followups.may_change(OTHER, item)
    handed = item.model_copy(update={"follower": THEIRS.e164})
    assert await followups.may_change(OTHER, handed)  # follows it, verified
    with pytest.raises(Refused, match="belongs to someone else"):
        await followups.require_change(OTHER, item, "followup.edit")
    [refusal] = await store.audit_entries(action="followup.edit.refused")
    assert (refusal.user_id, refusal.outcome, refusal.kaleyra_ids) == (OTHER, "not owner", item.id)


async def test_an_edit_rechecks_who_acts_before_kaleyra(followups, sandbox) -> None:
    item = await followups.save(draft())
    with pytest.raises(Refused, match="belongs to someone else"):
        await followups.save(draft(OTHER, follower=THEIRS, followup_id=item.id))
    assert len(sandbox.state.recorded("followup")) == 1  # only the create


async def test_only_admins_set_another_follower(followups, sandbox, store) -> None:
    with pytest.raises(Refused, match="Only admins can set another agent as follower"):
        await followups.save(draft(follower=THEIRS))
    assert sandbox.state.recorded("followup") == []
    item = await followups.save(draft(ADMIN, follower=THEIRS))
    assert item.user_id == ADMIN and item.follower == THEIRS.e164
    assert (await store.audit_entries(action="followup.follower.refused"))[0].user_id == AGENT


async def test_list_all_is_refused_to_non_admins_and_audited(followups, store) -> None:
    with pytest.raises(Refused, match="Only admins can list everyone's follow-ups"):
        await followups.list_scope(AGENT, "all")
    [entry] = await store.audit_entries(action="followup.list.refused")
    assert (entry.user_id, entry.outcome) == (AGENT, "not admin")
    assert await followups.list_scope(ADMIN, "all") is None
    assert await followups.list_scope(AGENT, "mine") == MINE


async def test_form_problems_by_field(followups) -> None:
    past = datetime(2026, 11, 22, 10, 0, tzinfo=IST)
    problems = await followups.form_problems(AGENT, follower=THEIRS, when=past, name="")
    assert set(problems) == {"follower", "when", "name"}
    assert "is in the past" in problems["when"] and "Only admins" in problems["follower"]
    ok = await followups.form_problems(
        AGENT, follower=MINE, when=datetime(2026, 11, 24, 10, 0, tzinfo=IST), name="Asha"
    )
    assert ok == {}


def test_check_future_names_the_zone(followups) -> None:
    with pytest.raises(UsageError, match="2026-11-23 10:59 Asia/Kolkata is in the past"):
        followups.check_future(datetime(2026, 11, 23, 10, 59))


async def test_made_outside_slack_lists_only_unknown_readable_ones(
    followups, sandbox, store
) -> None:
    from bot.sandbox.state import FollowupState

    known = await followups.save(draft())
    sandbox.state.followups["7000"] = FollowupState(
        "7000", "8712340000", "Walk-in", "9876543210", datetime(2026, 11, 23, 18, 0)
    )
    fresh = await followups.made_outside_slack()
    assert [f.id for f in fresh] == ["7000"] and known.id not in {f.id for f in fresh}
    [walk_in] = fresh
    assert (walk_in.source, walk_in.user_id, walk_in.phone) == ("kaleyra", None, "+918712340000")
    assert walk_in.ontime == datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


async def test_delete_checks_rights_then_kaleyra_then_store(followups, sandbox, store) -> None:
    item = await followups.save(draft())
    with pytest.raises(Refused):
        await followups.delete(OTHER, item.id)
    assert item.id in sandbox.state.followups
    await followups.delete(AGENT, item.id)
    assert item.id not in sandbox.state.followups
    assert (await store.get_followup(item.id)).state == "deleted"
    with pytest.raises(UsageError, match=f"There is no follow-up #{item.id}"):
        await followups.delete(AGENT, item.id)
