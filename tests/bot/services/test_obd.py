"""Broadcasts: plans, chunks, pacing, expiry, restarts and results, with the real store and the
sandbox's Kaleyra (Slack is a mock: what would be posted is read from its calls)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest

from bot.grammar import UsageError
from bot.grammar.obd import DialerUpload, ObdForm, ObdStart
from bot.models import BroadcastPlan, NumberOutcome
from bot.runtime.background import Background
from bot.services.agents import Agents, Refused
from bot.services.obd import BroadcastConfig, Broadcasts, results_csv
from bot.slack.notify import Notifier
from bot.store import Store
from tests.support.sandbox import IST

ADMIN, OTHER_ADMIN, AGENT = "U0ADMIN", "U0BOSS", "U0AGENT"


def numbers(count: int, start: int = 9100000010) -> list[str]:
    return [str(start + i) for i in range(count)]


class FakeSleep:
    """asyncio.sleep for the service: the frozen clock moves instead of the test waiting."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds=seconds)


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "obd.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
def slack(mocker):
    client = mocker.AsyncMock()
    client.chat_postMessage.return_value = {"channel": "D0ADMIN", "ts": "1700000001.000100"}
    return client


@pytest.fixture
def make(store, kaleyra, slack, clock):
    """Broadcasts with the given settings; every one shares the store (as processes would)."""

    def build(**config) -> Broadcasts:
        config.setdefault("calling_hours", (time(9), time(21)))
        return Broadcasts(
            store=store,
            kaleyra=kaleyra,
            notify=Notifier(slack, sandbox=False),
            agents=Agents(store, env_admins=frozenset({ADMIN, OTHER_ADMIN})),
            background=Background(),
            clock=clock,
            config=BroadcastConfig(progress_interval=0.0, follow_calls=False, **config),
            sleep=FakeSleep(clock),
        )

    return build


def sent_numbers(sandbox) -> list[str]:
    return [n for r in sandbox.state.recorded("voice.call") for n in r.form["numbers"].split(",")]


async def run(obd: Broadcasts, job_id: int, user_id: str = ADMIN):
    outcome = await obd.start(job_id, user_id)
    await obd.background.drain()
    return outcome


def dms(slack) -> list[str]:
    return [str(c.kwargs.get("text")) for c in slack.chat_postMessage.call_args_list]


# ---------------------------------------------------------------------- plans and chunks


async def test_chunks_fill_in_order_and_a_paced_request_holds_at_most_a_minutes_numbers(
    make,
) -> None:
    text = " ".join(numbers(450))
    plan = await make().plan(ObdStart(numbers_text=text, play="123.sound"))
    assert [size for _, size in make().chunks_of(plan)] == [200, 200, 50]
    assert plan.requests == 3 and plan.estimated_minutes is None
    paced = await make(calls_per_minute=150).plan(ObdStart(numbers_text=text, play="123.sound"))
    assert [size for _, size in make().chunks_of(paced)] == [150, 150, 150]
    assert paced.requests == 3 and paced.estimated_minutes == 3
    io_plan = await make(via_io=True, bridge="+918047000000").plan(
        ObdStart(numbers_text=" ".join(numbers(250)), play="13.sound")
    )
    assert [size for _, size in make().chunks_of(io_plan)] == [100, 100, 50]
    upload = await make().plan_dialer(DialerUpload("renewals", " ".join(numbers(2500))))
    assert [size for _, size in make().chunks_of(upload)] == [1000, 1000, 500]
    group = await make().plan(ObdStart(group="4477", play="123.sound"))
    assert make().chunks_of(group) == [([], 1)] and group.total == 1


def test_voice_json_requests_pack_five_call_groups_and_keep_the_pace(make) -> None:
    phones = [f"+91{n}" for n in numbers(1300)]
    plan = BroadcastPlan(
        numbers=phones,
        national=[p[3:] for p in phones],
        messages={p: ("a" if i < 1100 else "b") for i, p in enumerate(phones)},
    )
    sizes = [size for _, size in make().chunks_of(plan)]
    assert sizes == [1000, 300]  # a: 5 groups of 200 | a: 100, b: 200
    paced = plan.model_copy(update={"calls_per_minute": 250})
    assert {size for _, size in make().chunks_of(paced)} <= {200, 250, 100}
    assert sum(size for _, size in make().chunks_of(paced)) == 1300


async def test_foreign_numbers_are_refused_by_name_on_the_legacy_api_and_kept_on_kaleyra_io(
    make,
) -> None:
    text = "+44 20 7946 0958, +1 201-555-0123, 9876543210"
    plan = await make().plan(ObdStart(numbers_text=text, play="123.sound"))
    assert plan.numbers == ["+919876543210"]
    assert "United Kingdom number" in plan.invalid[0] and "+91" in plan.invalid[0]
    with pytest.raises(UsageError, match="No number is left to call"):
        await make().plan(ObdStart(numbers_text="+1 201-555-0123", play="123.sound"))
    io_plan = await make(via_io=True, bridge="+918047000000").plan(
        ObdStart(numbers_text=text, play="123.sound")
    )
    assert io_plan.numbers == ["+442079460958", "+12015550123", "+919876543210"]
    dialer = await make(via_io=True, bridge="+918047000000").plan_dialer(DialerUpload("camp", text))
    assert dialer.numbers == ["+919876543210"]  # the dialer is legacy-only


async def test_a_plan_round_trips_through_the_store(make, store) -> None:
    obd = make()
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text="9876543210 12345", say="hi", at=datetime(2026, 11, 23, 18))
    )
    stored = await store.get_job(campaign.id)
    assert stored is not None and stored.plan == campaign.plan
    assert stored.plan.at == datetime(2026, 11, 23, 18, tzinfo=IST)
    assert stored.state == "pending"
    with pytest.raises(TypeError):  # typed rows answer attributes only
        stored["state"]  # type: ignore[index]


async def test_only_admins_propose_and_the_refusal_is_audited(make, store) -> None:
    with pytest.raises(Refused, match="Only admins can start broadcasts"):
        await make().propose(AGENT, ObdStart(numbers_text="9876543210", play="123.sound"))
    assert (await store.audit_entries())[0].action == "obd.refused"


async def test_a_scheduled_pace_that_would_ring_past_the_window_is_refused(make) -> None:
    text = " ".join(numbers(600))
    start = ObdStart(numbers_text=text, play="123.sound", at=datetime(2026, 11, 23, 20, 55))
    with pytest.raises(UsageError, match="ring past 21:00"):
        await make(calls_per_minute=100).plan(start)


# ---------------------------------------------------------------------- sending


async def test_every_chunk_is_marked_sending_before_its_request(make, store, kaleyra, mocker):
    obd = make(concurrency=1)
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text=" ".join(numbers(450)), play="123.sound")
    )
    seen: list[list[str]] = []
    real = kaleyra.obd_call

    async def spy(request, on_chunk=None):
        seen.append([c.state for c in await store.chunks(campaign.id)])
        return await real(request, on_chunk)

    mocker.patch.object(kaleyra, "obd_call", side_effect=spy)
    await run(obd, campaign.id)
    assert seen == [
        ["sending", "pending", "pending"],
        ["accepted", "sending", "pending"],
        ["accepted", "accepted", "sending"],
    ]
    assert [c.state for c in await store.chunks(campaign.id)] == ["accepted"] * 3
    assert all(len(c.group_ids) == 1 for c in await store.chunks(campaign.id))


async def test_pacing_spaces_the_requests_by_the_rate(make, store, sandbox, clock) -> None:
    obd = make(calls_per_minute=200)
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text=" ".join(numbers(450)), play="123.sound")
    )
    started = clock.now
    await run(obd, campaign.id)
    sent = [datetime.fromisoformat(c.sent_at) for c in await store.chunks(campaign.id)]
    assert [round((s - started).total_seconds()) for s in sent] == [0, 60, 120]
    assert obd.sleep.waits == [60.0, 60.0]
    assert sorted(sent_numbers(sandbox)) == sorted(numbers(450))


async def test_a_scheduled_paced_campaign_is_spread_by_its_schedule_times(make, sandbox) -> None:
    obd = make(calls_per_minute=200)
    start = ObdStart(
        numbers_text=" ".join(numbers(450)), play="123.sound", at=datetime(2026, 11, 23, 18, 0)
    )
    await run(obd, (await obd.propose(ADMIN, start)).id)
    times = sorted(r.form["scheduletime"] for r in sandbox.state.recorded("voice.call"))
    assert times == ["2026-11-23 18:00:00", "2026-11-23 18:01:00", "2026-11-23 18:02:00"]
    assert obd.sleep.waits == []  # Kaleyra spreads them, nobody waits


async def test_a_confirmation_expires_after_15_minutes(make, store, sandbox, clock) -> None:
    obd = make()
    campaign = await obd.propose(ADMIN, ObdStart(numbers_text="9876543210", play="123.sound"))
    clock.advance(minutes=15, seconds=1)
    outcome = await run(obd, campaign.id)
    assert outcome is not None and outcome.started is False
    assert (await store.get_job(campaign.id)).state == "expired"
    assert await run(obd, campaign.id) is None  # and stays so
    assert sandbox.state.recorded() == []


async def test_start_checks_the_window_and_the_blacklist_again(make, store, sandbox, clock):
    obd = make()
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text="9876543210, 9123456789", play="123.sound")
    )
    await store.blacklist_add(["+919123456789"], AGENT)
    clock.now = clock.now.replace(hour=20, minute=59)
    later = await obd.propose(ADMIN, ObdStart(numbers_text="9876543210", play="123.sound"))
    clock.now = clock.now.replace(hour=21, minute=5)
    with pytest.raises(UsageError, match=r"outside that.*Nothing was sent"):
        await obd.start(later.id, ADMIN)
    assert (await store.get_job(later.id)).state == "pending"
    clock.now = clock.now.replace(hour=11, minute=5)
    outcome = await run(obd, campaign.id)
    assert outcome.started and outcome.left_out == 1
    assert sent_numbers(sandbox) == ["9876543210"]
    assert (await store.get_job(campaign.id)).plan.blacklisted == ["+91 91234 56789"]


async def test_start_is_for_the_owner_once(make, store, sandbox) -> None:
    obd = make()
    campaign = await obd.propose(ADMIN, ObdStart(numbers_text="9876543210", play="123.sound"))
    assert await run(obd, campaign.id, OTHER_ADMIN) is None
    with pytest.raises(Refused):
        await obd.start(campaign.id, AGENT)
    assert (await run(obd, campaign.id)).started
    assert await run(obd, campaign.id) is None
    assert len(sandbox.state.recorded("voice.call")) == 1


# ---------------------------------------------------------------------- restarts and controls


async def test_a_restart_interrupts_tells_the_owner_and_resume_sends_only_the_never_sent(
    make, store, sandbox, slack
) -> None:
    first = make()
    campaign = await first.propose(
        ADMIN, ObdStart(numbers_text=" ".join(numbers(450)), play="123.sound")
    )
    plan = (await store.get_job(campaign.id)).plan
    await store.start_campaign(campaign.id, ADMIN, plan, first.chunks_of(plan))
    await store.claim_chunk(campaign.id, 0)
    await store.settle_chunk(campaign.id, 0, "accepted", group_ids=["217691000"])
    await store.claim_chunk(campaign.id, 1)  # the process died with this request on its way

    second = make()
    assert await second.recover_interrupted() == 1
    assert await second.recover_interrupted() == 0  # once
    assert [c.state for c in await store.chunks(campaign.id)] == ["accepted", "unknown", "pending"]
    assert (await store.get_job(campaign.id)).state == "interrupted"
    [dm] = dms(slack)
    assert "was interrupted" in dm
    blocks = slack.chat_postMessage.call_args.kwargs["blocks"]
    text = " ".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "accepted 200 · outcome unknown 200 · never sent 50" in text
    assert "Resume* sends only the 50 numbers never sent" in text

    outcome = await second.control(campaign.id, ADMIN, "resume")
    await second.background.drain()
    assert outcome.changed
    assert sent_numbers(sandbox) == numbers(450)[400:]
    assert (await store.get_job(campaign.id)).state == "tracking"
    assert (await store.audit_entries(action="obd.interrupted"))[0].outcome == (
        "accepted 200, unknown 200, never sent 50"
    )


async def test_pause_resume_cancel_need_the_owner_or_an_admin(make, store, sandbox) -> None:
    obd = make(calls_per_minute=200)
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text=" ".join(numbers(600)), play="123.sound")
    )
    assert (await obd.start(campaign.id, ADMIN)).started  # its run is spawned, not yet running
    with pytest.raises(Refused):
        await obd.control(campaign.id, AGENT, "pause")
    assert (await store.audit_entries(action="obd.refused"))[0].user_id == AGENT
    assert (await obd.control(campaign.id, OTHER_ADMIN, "pause")).changed
    await obd.background.drain()  # the run found it paused before its first request
    assert (await store.get_job(campaign.id)).paused_by == OTHER_ADMIN
    assert not (await obd.control(campaign.id, ADMIN, "pause")).changed
    cancelled = await obd.control(campaign.id, ADMIN, "cancel")
    assert cancelled.changed and cancelled.not_called == 600
    assert {c.state for c in await store.chunks(campaign.id)} == {"cancelled"}
    assert not (await obd.control(campaign.id, ADMIN, "resume")).changed
    assert sandbox.state.recorded() == []


async def test_the_window_closing_pauses_and_tick_resumes_when_it_opens(
    make, store, sandbox, clock
) -> None:
    clock.now = clock.now.replace(hour=20, minute=58)
    obd = make(calls_per_minute=200)
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text=" ".join(numbers(600)), play="123.sound")
    )
    await run(obd, campaign.id)
    paused = await store.get_job(campaign.id)
    assert (paused.state, paused.pause_reason) == ("paused", "window")
    assert len(sent_numbers(sandbox)) == 400
    assert await obd.tick() == 0  # still closed
    clock.now = (clock.now + timedelta(days=1)).replace(hour=9, minute=0)
    assert await obd.tick() == 1
    await obd.background.drain()
    assert sorted(sent_numbers(sandbox)) == sorted(numbers(600))
    assert (await store.get_job(campaign.id)).state == "tracking"


async def test_a_paused_campaign_sends_nothing_however_it_is_woken(make, store, sandbox) -> None:
    """Paused by a person: neither its run nor the minute's tick (the window is open) sends."""
    obd = make(calls_per_minute=200)
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text=" ".join(numbers(600)), play="123.sound")
    )
    assert (await obd.start(campaign.id, ADMIN)).started  # its run is spawned, not yet running
    assert (await obd.control(campaign.id, ADMIN, "pause")).changed
    await obd.background.drain()
    assert await obd.tick() == 0  # only a pause the window made ends when the window opens
    await obd.background.drain()
    assert sandbox.state.recorded() == []
    paused = await store.get_job(campaign.id)
    assert (paused.state, paused.pause_reason, paused.paused_by) == ("paused", "user", ADMIN)


async def test_paused_by_a_person_while_the_window_was_closed_stays_paused_when_it_opens(
    make, store, sandbox, clock
) -> None:
    clock.now = clock.now.replace(hour=20, minute=58)
    obd = make(calls_per_minute=200)
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text=" ".join(numbers(600)), play="123.sound")
    )
    await run(obd, campaign.id)
    assert (await store.get_job(campaign.id)).pause_reason == "window"
    assert (await obd.control(campaign.id, OTHER_ADMIN, "pause")).changed  # now theirs
    clock.now = (clock.now + timedelta(days=1)).replace(hour=9, minute=0)
    assert await obd.tick() == 0
    await obd.background.drain()
    assert len(sent_numbers(sandbox)) == 400
    assert (await store.get_job(campaign.id)).paused_by == OTHER_ADMIN


async def test_start_twice_starts_once_and_the_second_is_a_no_op(make, store, sandbox) -> None:
    obd = make()
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text=" ".join(numbers(3)), play="123.sound")
    )
    first = await obd.start(campaign.id, ADMIN)
    assert await obd.start(campaign.id, ADMIN) is None  # a double click: nothing, no error
    await obd.background.drain()
    assert first is not None and first.started
    assert sent_numbers(sandbox) == numbers(3)
    assert [c.idx for c in await store.chunks(campaign.id)] == [0]


async def test_a_campaign_is_started_once(make, store) -> None:
    """The claim is in SQL (pending → running, once): two processes clicking Start both read
    it pending, and only one of them may write its chunks."""
    obd = make()
    campaign = await obd.propose(
        ADMIN, ObdStart(numbers_text=" ".join(numbers(3)), play="123.sound")
    )
    plan = (await store.get_job(campaign.id)).plan
    assert await store.start_campaign(campaign.id, ADMIN, None, obd.chunks_of(plan)) is True
    assert await store.start_campaign(campaign.id, ADMIN, None, obd.chunks_of(plan)) is False
    assert await store.start_campaign(campaign.id, OTHER_ADMIN, None, obd.chunks_of(plan)) is False
    assert (await store.get_job(campaign.id)).state == "running" and len(
        await store.chunks(campaign.id)
    ) == 1


async def test_only_admins_propose_from_the_form(make, store) -> None:
    obd = make()
    form = ObdForm(numbers_text="9876543210", play="123.sound")
    with pytest.raises(Refused, match="Only admins can start broadcasts"):
        await obd.propose_form(AGENT, form)
    assert await store.recent_campaigns() == [] and await store.get_job(1) is None
    assert (await store.audit_entries(action="obd.refused"))[0].user_id == AGENT
    assert (await obd.propose_form(ADMIN, form)).state == "pending"


# ---------------------------------------------------------------------- results


async def test_results_list_every_number_and_the_unreached_are_proposed_again(
    make, store, sandbox, slack, clock
) -> None:
    batch = [f"98765432{i:02d}" for i in range(10)]  # 00 busy ... 06 cancel, 07-09 answer
    obd = make()
    campaign = await obd.propose(ADMIN, ObdStart(numbers_text=" ".join(batch), play="123.sound"))
    await run(obd, campaign.id)
    assert await obd.poll_once(campaign.id) is False
    sandbox.state.clock.advance(seconds=5)
    assert await obd.poll_once(campaign.id) is True
    done = await store.get_job(campaign.id)
    assert done.state == "done" and done.results_at is not None
    assert done.result.unreached == [f"+91{n}" for n in batch[:5]]
    upload = slack.files_upload_v2.call_args.kwargs
    assert upload["channel"] == "D0ADMIN" and upload["filename"] == "broadcast-1-results.csv"
    rows = list(csv.reader(io.StringIO(upload["content"])))
    assert rows[0] == ["number", "outcome", "call id", "sent at", "chunk"]
    outcomes = {r[0]: r[1] for r in rows[1:]}
    assert outcomes["+919876543200"] == "busy" and outcomes["+919876543205"] == (
        "blocked by Do-Not-Disturb"
    )
    assert outcomes["+919876543209"] == "completed" and len(outcomes) == 10
    assert all(r[2].startswith("217691534-") and r[4] == "1" for r in rows[1:])
    assert await obd.poll_once(campaign.id) is True  # the summary went once
    assert slack.files_upload_v2.call_count == 1

    await store.blacklist_add(["+919876543201"], AGENT)
    again = await obd.again(campaign.id, ADMIN)
    assert again.plan.numbers == [
        f"+91{n}" for n in ("9876543200", "9876543202", "9876543203", "9876543204")
    ]
    assert again.plan.blacklisted == ["+91 98765 43201"] and again.plan.again_of == campaign.id
    assert len(sandbox.state.recorded("voice.call")) == 1  # nothing before the confirmation


def test_results_csv_defuses_what_kaleyra_wrote() -> None:
    rows = [NumberOutcome("+919876543210", "=HYPERLINK(1)", "@x", "", 1)]
    assert "'=hyperlink(1),'@x" in results_csv(rows)
