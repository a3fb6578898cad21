"""Reminders: once each, released on any failed send, past follow-ups not rescanned, no Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.models import FollowupDraft
from bot.phones import parse_phone
from bot.sandbox.state import FollowupState
from bot.services.agents import Agents, Refused
from bot.services.followup import Followups
from bot.services.reminders import Reminders
from bot.slack.notify import Posted
from bot.store import Store
from tests.support.sandbox import IST

ADMIN, AGENT, OTHER = "U0ADMIN", "U0AGENT", "U0OTHER"
MINE = parse_phone("9876543210")


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "r.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
async def agents(store, clock) -> Agents:
    agents = Agents(store, env_admins=frozenset({ADMIN}), clock=clock)
    await agents.register(ADMIN, MINE, target=AGENT)
    await agents.register(ADMIN, parse_phone("9123456789"), target=OTHER)
    return agents


@pytest.fixture
def notify(mocker):
    notify = mocker.AsyncMock()
    notify.open_dm.return_value = Posted("D0AGENT", "1700000001.000100")
    return notify


@pytest.fixture
def followups(store, kaleyra, agents, clock) -> Followups:
    return Followups(
        store,
        kaleyra,
        agents,
        clock=clock,
        tz=IST,
        tz_name="Asia/Kolkata",
        region="IN",
        reminder_lead=timedelta(minutes=10),
    )


@pytest.fixture
def reminders(store, followups, notify, clock) -> Reminders:
    return Reminders(store, followups, notify, clock=clock, tz=IST, tz_name="Asia/Kolkata")


async def add(followups: Followups, when: datetime = datetime(2026, 11, 23, 12, 0)):
    draft = FollowupDraft(
        user_id=AGENT, phone=parse_phone("8712345678"), name="John Doe", follower=MINE, when=when
    )
    return await followups.save(draft)


async def test_sent_once_to_the_verified_follower(followups, reminders, notify, clock) -> None:
    item = await add(followups)
    clock.now = clock.now.replace(hour=11, minute=49)
    assert await reminders.run_due() == 0
    clock.advance(minutes=1)
    assert await reminders.run_due() == 1
    assert await reminders.run_due() == 0
    [call] = notify.open_dm.await_args_list
    user_id, payload = call.args
    assert user_id == AGENT and "Call *John Doe* on +91 87123 45678 at <!date^" in str(payload)
    assert (await reminders.store.get_followup(item.id)).reminder == "sent"


async def test_any_failed_send_releases_the_claim_and_is_retried(
    followups, reminders, notify, store, clock
) -> None:
    await add(followups)
    clock.now = clock.now.replace(hour=11, minute=50)
    # Notifier's answer for every failure (reset, timeout, refusal):
    notify.open_dm.return_value = None
    assert await reminders.run_due() == 0
    assert await store.sent_entries("reminder") == []  # released, not stuck "claimed"
    notify.open_dm.return_value = Posted("D0AGENT", "1.2")
    clock.advance(minutes=1)
    assert await reminders.run_due() == 1
    [entry] = await store.sent_entries("reminder")
    assert entry.state == "sent"


async def test_an_exception_while_sending_releases_too(
    followups, reminders, notify, store, clock
) -> None:
    await add(followups)
    clock.now = clock.now.replace(hour=11, minute=50)
    notify.open_dm.side_effect = RuntimeError("unexpected data")
    assert await reminders.run_due() == 0
    assert await store.sent_entries("reminder") == []


async def test_a_claim_left_by_a_crash_is_listed_as_missed(
    followups, reminders, store, clock
) -> None:
    item = await add(followups)
    due = datetime(2026, 11, 23, 6, 20, tzinfo=UTC)
    assert await store.claim(f"reminder:{item.id}:{due.isoformat()}", "reminder", due, detail="x")
    clock.advance(minutes=15)
    await reminders.run_due()
    [entry] = await store.missed_entries()
    assert entry.kind == "reminder" and "interrupted" in (entry.detail or "")


async def test_past_followups_leave_the_scan(followups, reminders, store, clock, mocker) -> None:
    await add(followups)
    clock.now = clock.now.replace(hour=13, minute=0)  # too late for the 12:00 follow-up
    scan = mocker.spy(store, "followups_to_remind")
    assert await reminders.run_due() == 0
    [missed] = await store.missed_entries()
    assert missed.detail == "reminder for follow-up #2351 (John Doe)"
    assert len(scan.spy_return) == 1
    clock.advance(minutes=1)
    await reminders.run_due()
    assert scan.spy_return == []  # reported once, then not read again every minute
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM followups WHERE reminder_state = 'pending'"
        " AND ontime <= ? AND state = 'active' ORDER BY ontime LIMIT 500",
        ["2026-11-23T08:00:00+00:00"],
    ).fetchall()
    assert "idx_followups_reminder_state_ontime" in str(plan)


async def test_sync_keeps_past_ones_quiet_and_reminds_new_ones(
    reminders, sandbox, store, clock, notify
) -> None:
    sandbox.state.followups["7000"] = FollowupState(
        "7000", "8712340000", "Walk-in", "9876543210", datetime(2026, 11, 23, 18, 0)
    )
    sandbox.state.followups["6000"] = FollowupState(
        "6000", "8712340009", "Old Customer", "9876543210", datetime(2026, 11, 1, 10, 0)
    )
    sandbox.state.followups["7002"] = FollowupState(
        "7002", "8712340002", "Soon", "9876543210", datetime(2026, 11, 23, 11, 5)
    )
    assert await reminders.sync() == 3
    assert (await store.get_followup("6000")).reminder == "none"
    assert await reminders.run_due() == 1  # 7002 is due in 5 minutes: reminded at once, not late
    assert "late" not in str(notify.open_dm.await_args.args[1])
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=IST)
    await reminders.run_due()
    [missed] = await store.missed_entries()  # 7000 fell due while we knew it, then went unsent
    assert missed.detail == "reminder for follow-up #7000 (made outside Slack)"
    assert "6000" not in str(await store.sent_entries())


async def test_sync_ignores_numbers_nobody_proved(reminders, sandbox, store, agents) -> None:
    await agents.register("U0CLAIM", parse_phone("9000000001"))  # claimed, not verified
    sandbox.state.followups["7001"] = FollowupState(
        "7001", "8712340001", "Unmapped", "9000000001", datetime(2026, 11, 23, 18, 0)
    )
    assert await reminders.sync() == 0
    assert await store.get_followup("7001") is None


async def test_snooze_and_done_recheck_who_acts(followups, reminders, store, clock) -> None:
    item = await add(followups)
    with pytest.raises(Refused, match="belongs to someone else"):
        await reminders.snooze(OTHER, item.id)
    with pytest.raises(Refused):
        await reminders.done(OTHER, item.id)
    assert (await store.get_followup(item.id)).state == "active"
    assert {e.action for e in await store.audit_entries()} >= {
        "followup.snooze.refused",
        "followup.done.refused",
    }
    until = await reminders.snooze(AGENT, item.id)
    assert until == clock.now + timedelta(minutes=10)
    await reminders.done(ADMIN, item.id)
    assert (await store.get_followup(item.id)).state == "done"


async def test_a_followup_made_inside_its_lead_is_reminded_at_once_not_late(
    followups, reminders, notify, clock
) -> None:
    clock.now = clock.now.replace(hour=11, minute=55)
    item = await add(followups)  # 12:00, five minutes away: its reminder time has passed
    assert item.remind_at == clock.now
    assert await reminders.run_due() == 1
    assert "late" not in str(notify.open_dm.await_args.args[1])
