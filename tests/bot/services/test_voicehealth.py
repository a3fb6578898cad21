"""HealthWatch: digest settings, alerts stored only once posted, digests released on failure."""

from __future__ import annotations

import json
from datetime import datetime, time

import pytest

from bot.kaleyra.models import Incident
from bot.models import DigestSettings, HealthChange
from bot.sandbox import Fault
from bot.services.agents import Agents, Refused
from bot.services.voicehealth import STATE_KEY, HealthWatch, diff, snapshot
from bot.slack.notify import Posted
from bot.store import Store
from tests.support.sandbox import IST

ADMIN, AGENT = "U0ADMIN", "U0AGENT"
KA = {
    "region": "Karnataka",
    "region_code": "KA-IN",
    "type": "operational",
    "service": "all",
    "numbers": ["+918012345628"],
}


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "h.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
def notify(mocker):
    notify = mocker.AsyncMock()
    notify.post.return_value = Posted("C0OPS", "1.1")
    return notify


@pytest.fixture
def hooks(mocker):
    return mocker.Mock(), mocker.AsyncMock()


@pytest.fixture
def watch(store, kaleyra, notify, clock, hooks) -> HealthWatch:
    on_change, reschedule = hooks
    return HealthWatch(
        store,
        kaleyra,
        notify,
        Agents(store, env_admins=frozenset({ADMIN})),
        clock=clock,
        tz=IST,
        tz_name="Asia/Kolkata",
        default_channel=None,
        default_time="09:00",
        on_change=on_change,
        reschedule=reschedule,
    )


async def test_digest_settings_have_one_owner(watch, store, hooks) -> None:
    on_change, reschedule = hooks
    assert await watch.digest_settings() == DigestSettings(None, "09:00")
    with pytest.raises(Refused, match="Only admins can change the health digest"):
        await watch.set_digest(AGENT, "C0OPS", time(8, 30))
    assert (await store.audit_entries(action="voicehealth.digest.refused"))[0].user_id == AGENT
    assert await watch.set_digest(ADMIN, "C0OPS", time(8, 30)) == ("C0OPS", "08:30")
    reschedule.assert_called_once_with("08:30")
    on_change.assert_called_once_with(ADMIN)
    assert (await watch.set_digest(ADMIN, "C0OTHER")).at == "08:30"  # the time already set is kept
    await watch.digest_off(ADMIN)
    assert await watch.digest_settings() == DigestSettings(None, "08:30")
    with pytest.raises(Refused):
        await watch.digest_off(AGENT)


def test_snapshot_and_diff_use_the_incident_identity() -> None:
    before = snapshot([Incident.model_validate(KA)])
    moved = Incident.model_validate({**KA, "type": "critical"})
    assert list(before) == [("KA-IN", "all", ("+918012345628",))]
    [change] = diff(before, snapshot([moved]))
    assert isinstance(change, HealthChange) and change.kind == "moved"
    assert (change.before.type, change.now.type) == ("operational", "critical")
    assert [c.kind for c in diff(before, {})] == ["cleared"]


async def test_an_alert_that_could_not_be_posted_is_alerted_again(
    watch, store, sandbox, notify
) -> None:
    await watch.set_digest(ADMIN, "C0OPS")
    sandbox.state.incidents = [KA]
    assert await watch.poll() == []  # baseline
    sandbox.state.incidents = [{**KA, "type": "critical"}]
    notify.post.return_value = None  # Slack unreachable
    assert [c.kind for c in await watch.poll()] == ["moved"]
    assert json.loads(await store.get_setting(STATE_KEY))[0]["type"] == "operational"  # not stored
    notify.post.return_value = Posted("C0OPS", "1.2")
    assert [c.kind for c in await watch.poll()] == ["moved"]  # alerted now
    assert json.loads(await store.get_setting(STATE_KEY))[0]["type"] == "critical"
    assert await watch.poll() == []
    assert notify.post.await_count == 2


async def test_an_outage_is_marked_only_once_its_message_is_posted(
    watch, store, sandbox, notify
) -> None:
    await watch.set_digest(ADMIN, "C0OPS")
    sandbox.state.set_fault("monitor", Fault(error_rate=1.0, http_status=503))
    notify.post.return_value = None
    await watch.poll()
    assert await store.get_setting("health_outage") is None
    notify.post.return_value = Posted("C0OPS", "1.3")
    await watch.poll()
    await watch.poll()
    assert await store.get_setting("health_outage") == "1" and notify.post.await_count == 2


async def test_the_old_stored_state_shape_still_reads(watch, store, sandbox) -> None:
    key = "KA-IN|all|+918012345628"
    await store.set_setting(STATE_KEY, json.dumps({key: KA}))
    sandbox.state.incidents = [KA]
    assert await watch.poll() == []


async def test_a_failed_digest_releases_its_claim_and_keeps_missed_items(
    watch, store, notify, clock
) -> None:
    await watch.set_digest(ADMIN, "C0OPS")
    await store.mark_missed("reminder:1:x", "reminder", clock.now, "reminder for follow-up #1 (A)")
    notify.post.return_value = None
    assert await watch.digest() is False
    assert await store.sent_entries("digest") == []
    assert [m.key for m in await store.missed_entries()] == ["reminder:1:x"]  # still to report
    notify.post.return_value = Posted("C0OPS", "1.4")
    assert await watch.digest() is True
    assert "reminder for follow-up #1 (A)" in str(notify.post.await_args.args[1])
    assert await store.missed_entries() == []
    assert await watch.digest() is False  # once per due time


async def test_a_digest_that_raises_releases_its_claim(watch, store, notify) -> None:
    await watch.set_digest(ADMIN, "C0OPS")
    notify.post.side_effect = RuntimeError("boom")
    with pytest.raises(RuntimeError):
        await watch.digest()
    assert await store.sent_entries("digest") == []


async def test_last_due_is_in_the_account_zone(watch, clock) -> None:
    assert await watch.last_due(clock.now) == datetime(2026, 11, 23, 9, 0, tzinfo=IST)
