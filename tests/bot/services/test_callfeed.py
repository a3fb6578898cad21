"""CallFeed over a real store and the sandbox: posting once, claiming once, outcomes, digest.

Slack is a recording Notifier stand-in (pytest-mock); the click-to-call service is a recording
`dial` callable, so these tests see exactly what the feed asked for.
"""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import count
from typing import Any

import pytest

from bot.models import BroadcastPlan, BroadcastResult, Dialling, FollowupDraft, OutcomeDraft
from bot.phones import Phone
from bot.runtime.background import Background
from bot.sandbox import Fault
from bot.services.agents import Agents, NotRegistered, Refused
from bot.services.callfeed import (
    CLAIM_EXPIRES,
    AlreadyClaimed,
    CallFeed,
    Claimed,
    OutcomeProblems,
)
from bot.services.followup import Followups
from bot.slack.notify import NOT_POSTED, Notifier, Posted
from bot.store import Store
from bot.views.callfeed import CALL_BACK, missed_calls_section
from tests.support.harness import text_of
from tests.support.sandbox import IST

ADMIN, AGENT_A, AGENT_B, NEWCOMER = "U0ADMIN", "U0AGENTA", "U0AGENTB", "U0NEW"
A_NUMBER, B_NUMBER = "9876543210", "9876500011"
A_PHONE = Phone.known("+919876543210")
CHANNEL = "C0CALLS"


class Rig:
    """One CallFeed and what it talks to; `restart()` builds a new one over the same file."""

    def __init__(self, kaleyra, clock, tmp_path, mocker) -> None:
        self.kaleyra, self.clock, self.path, self.mocker = kaleyra, clock, tmp_path / "v.db", mocker
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[tuple[str, str, dict[str, Any]]] = []
        self.dms: list[tuple[str, dict[str, Any]]] = []
        self.dialled: list[tuple[str, str, str]] = []
        self._ts = count(1)
        self.build()

    def build(self) -> None:
        self.store = Store(self.path, clock=self.clock)
        self.agents = Agents(self.store, env_admins=frozenset({ADMIN}))
        notify = self.mocker.AsyncMock(spec=Notifier)
        notify.post.side_effect = self._post
        notify.post_once.side_effect = self._post
        notify.find_posted.return_value = None
        notify.update.side_effect = self._update
        notify.dm.side_effect = self._dm
        self.background = Background()
        self.followups = Followups(
            self.store,
            self.kaleyra,
            self.agents,
            clock=self.clock,
            tz=IST,
            tz_name="Asia/Kolkata",
            region="IN",
            reminder_lead=timedelta(minutes=10),
        )
        self.feed = CallFeed(
            self.store,
            self.kaleyra,
            notify,
            self.agents,
            self.followups,
            self.background,
            dial=self._dial,
            clock=self.clock,
            tz=IST,
            tz_name="Asia/Kolkata",
            region="IN",
            default_channel=CHANNEL,
        )

    async def restart(self) -> None:
        await self.store.aclose()
        self.build()

    async def _post(self, channel: str, payload: dict[str, Any]) -> Posted:
        self.posts.append((channel, payload))
        return Posted(channel, f"17000000{next(self._ts)}.0001")

    async def _update(self, channel: str, ts: str, payload: dict[str, Any]) -> bool:
        self.updates.append((channel, ts, payload))
        return True

    async def _dm(self, user_id: str, payload: dict[str, Any]) -> Posted:
        self.dms.append((user_id, payload))
        return Posted("D" + user_id[1:], "1.1")

    async def _dial(self, user_id: str, agent: Phone, customer: Phone, _claim: str) -> Dialling:
        self.dialled.append((user_id, agent.e164, customer.e164))
        return Dialling(agent, customer)

    async def assign(self, user_id: str, number: str) -> None:
        await self.agents.register(ADMIN, Phone.known("+91" + number), target=user_id)

    def posted_text(self) -> list[str]:
        return [text_of(payload) for _, payload in self.posts]


@pytest.fixture
async def rig(kaleyra, sandbox, clock, tmp_path, mocker):
    rig = Rig(kaleyra, clock, tmp_path, mocker)
    await rig.assign(AGENT_A, A_NUMBER)
    await rig.assign(AGENT_B, B_NUMBER)
    yield rig
    await rig.background.drain()
    await rig.store.aclose()


def seed_two(sandbox) -> tuple[dict, dict]:
    answered = sandbox.state.add_incoming("9812345678", A_NUMBER, answered=True, billsec=192)
    missed = sandbox.state.add_incoming("9812345699", B_NUMBER, answered=False, location="KERALA")
    return answered, missed


async def test_each_call_is_posted_once_across_polls_and_restarts(rig, sandbox) -> None:
    seed_two(sandbox)
    assert await rig.feed.poll() == 2
    answered, missed = rig.posted_text()
    # Times are Slack date tokens: each reader sees them in their own zone.
    assert answered.startswith(
        ":telephone_receiver: Incoming call from *98******78* (KARNATAKA) answered by"
        " <@U0AGENTA>, 3 min 12 s · <!date^"
    )
    assert answered.endswith("|2026-11-23 05:26 UTC>")
    assert ":no_entry: *Missed call* from *98******99* (KERALA) to <@U0AGENTB> · <!date^" in missed
    assert "|2026-11-23 05:29 UTC>" in missed
    buttons = [
        e for b in rig.posts[1][1]["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert [(b["action_id"], b["text"]["text"]) for b in buttons] == [(CALL_BACK, "Call back")]
    everything = json.dumps(rig.posts)
    assert "9812345678" not in everything and "9812345699" not in everything
    for _ in range(3):
        assert await rig.feed.poll() == 0
    await rig.restart()
    assert await rig.feed.poll() == 0
    assert len(rig.posts) == 2
    sandbox.state.add_incoming("9812345600", A_NUMBER, answered=False)
    assert await rig.feed.poll() == 1 and len(rig.posts) == 3


async def test_dial_is_read_page_by_page(rig, sandbox) -> None:
    for i in range(230):
        sandbox.state.add_incoming(f"98123{i:05d}", A_NUMBER, answered=True, billsec=30)
    assert await rig.feed.poll() == 230
    pages = [(r.form["page"], r.form["limit"]) for r in sandbox.state.recorded("dial")]
    assert pages == [("1", "100"), ("2", "100"), ("3", "100")]
    sent = sandbox.state.recorded("dial")[0].form
    assert (sent["fromdate"], sent["todate"]) == ("2026/11/22", "2026/11/23")


async def test_calls_older_than_a_day_are_remembered_not_posted(rig, sandbox, clock) -> None:
    sandbox.state.add_incoming(
        "9812345678", A_NUMBER, answered=False, at=clock.now - timedelta(hours=25)
    )
    assert await rig.feed.poll() == 0
    assert rig.posts == [] and await rig.feed.missed_waiting() == []


async def test_a_kaleyra_outage_is_posted_once_and_its_end_once(rig, sandbox) -> None:
    sandbox.state.set_fault("dial", Fault(error_rate=1.0))
    for _ in range(3):
        assert await rig.feed.poll() == 0
    sandbox.state.set_fault("dial", None)
    seed_two(sandbox)
    assert await rig.feed.poll() == 2
    assert await rig.feed.poll() == 0
    texts = rig.posted_text()
    assert len(texts) == 4
    assert texts[0].startswith(":red_circle: Incoming calls cannot be read from Kaleyra")
    assert texts[1].startswith(":large_green_circle: Kaleyra answers again")


async def test_a_failed_post_is_tried_again_next_poll(rig, sandbox) -> None:
    seed_two(sandbox)
    rig.feed.notify.post_once.side_effect = [NOT_POSTED]
    assert await rig.feed.poll() == 0
    rig.feed.notify.post_once.side_effect = rig._post
    assert await rig.feed.poll() == 2


async def test_first_click_claims_and_dials_from_the_clickers_number(rig, sandbox) -> None:
    _, missed = seed_two(sandbox)
    await rig.feed.poll()
    won = await rig.feed.call_back(AGENT_A, missed["id"])
    assert isinstance(won, Claimed) and won.feed.claimed_by == AGENT_A
    assert rig.dialled == [(AGENT_A, "+919876543210", "+919812345699")]
    late = await rig.feed.call_back(AGENT_B, missed["id"])
    assert isinstance(late, AlreadyClaimed) and late.feed.claimed_by == AGENT_A
    again = await rig.feed.call_back(AGENT_A, missed["id"])
    assert isinstance(again, AlreadyClaimed)
    assert len(rig.dialled) == 1
    await rig.background.drain()
    channel, ts, payload = rig.updates[-1]
    assert (channel, ts) == (CHANNEL, (await rig.feed.store.feed_call(missed["id"])).message_ts)
    assert ":telephone_receiver: <@U0AGENTA> is calling back" in text_of(payload)
    assert "Call back" not in json.dumps(payload["blocks"])
    await rig.restart()  # the claim is in the store
    assert isinstance(await rig.feed.call_back(AGENT_B, missed["id"]), AlreadyClaimed)
    assert len(rig.dialled) == 1


async def test_an_agent_without_a_verified_number_is_told_to_register(rig, sandbox) -> None:
    _, missed = seed_two(sandbox)
    await rig.feed.poll()
    with pytest.raises(NotRegistered, match="/c2c register"):
        await rig.feed.call_back(NEWCOMER, missed["id"])
    assert rig.dialled == []
    assert (await rig.feed.store.feed_call(missed["id"])).claimed_by is None  # nothing claimed


async def test_a_refused_dial_releases_the_claim(rig, sandbox) -> None:
    _, missed = seed_two(sandbox)
    await rig.feed.poll()

    def refuse(*_args: Any) -> None:
        raise Refused("no")

    rig.feed.dial = refuse
    with pytest.raises(Refused):
        await rig.feed.call_back(AGENT_A, missed["id"])
    rig.feed.dial = rig._dial
    assert isinstance(await rig.feed.call_back(AGENT_B, missed["id"]), Claimed)


async def test_the_call_backs_outcome_reaches_the_channel_message(rig, sandbox, clock) -> None:
    _, missed = seed_two(sandbox)
    await rig.feed.poll()
    await rig.feed.call_back(AGENT_A, missed["id"])
    clock.advance(seconds=5)
    (call,) = await rig.store.create_calls("c2c", [(AGENT_A, "+919876543210", "+919812345699")])
    await rig.feed.poll()
    assert (await rig.store.feed_call(missed["id"])).callback_call_id == call.id
    await rig.store.update_call(
        call.id, state="final", status1="ANSWER", status2="ANSWER", billsec=125
    )
    await rig.feed.poll()
    assert ":white_check_mark: <@U0AGENTA> called back: connected, 2 min 5 s" in text_of(
        rig.updates[-1][2]
    )
    updates = len(rig.updates)
    await rig.feed.poll()
    assert len(rig.updates) == updates  # final: not rendered again


async def test_a_claim_with_no_call_placed_is_released_after_a_while(rig, sandbox, clock) -> None:
    _, missed = seed_two(sandbox)
    await rig.feed.poll()
    await rig.feed.call_back(AGENT_A, missed["id"])
    clock.advance(seconds=CLAIM_EXPIRES.total_seconds() + 60)
    await rig.feed.poll()
    assert (await rig.store.feed_call(missed["id"])).claimed_by is None
    text = text_of(rig.updates[-1][2])
    assert "<@U0AGENTA>'s call back did not go through" in text
    assert "Call back" in json.dumps(rig.updates[-1][2]["blocks"])
    assert isinstance(await rig.feed.call_back(AGENT_B, missed["id"]), Claimed)


async def test_a_failed_call_back_waits_for_someone_else(rig, sandbox) -> None:
    _, missed = seed_two(sandbox)
    await rig.feed.poll()
    await rig.feed.call_back(AGENT_A, missed["id"])
    (call,) = await rig.store.create_calls("c2c", [(AGENT_A, "+919876543210", "+919812345699")])
    await rig.store.update_call(call.id, state="failed", error="Kaleyra refused it")
    await rig.feed.poll()
    assert (await rig.store.feed_call(missed["id"])).claimed_by is None
    assert [m.key for m in await rig.feed.missed_waiting()] == [missed["id"]]


async def test_only_admins_choose_the_channel(rig, sandbox) -> None:
    with pytest.raises(Refused, match="Only admins"):
        await rig.feed.set_channel(AGENT_A, "C0OTHER")
    assert (await rig.store.audit_entries(1))[0].action == "callfeed.channel.refused"
    assert await rig.feed.set_channel(ADMIN, "C0OTHER") == "C0OTHER"
    seed_two(sandbox)
    await rig.feed.poll()
    assert {channel for channel, _ in rig.posts} == {"C0OTHER"}
    await rig.feed.set_channel(ADMIN, None)
    sandbox.state.clear_requests()
    sandbox.state.add_incoming("9812345600", A_NUMBER, answered=False)
    assert await rig.feed.poll() == 0
    assert sandbox.state.recorded("dial") == []  # off: Kaleyra is not even asked
    await rig.restart()
    assert await rig.feed.channel() is None


# ------------------------------------------------------------------ outcomes


async def placed_call(rig, user_id: str = AGENT_A) -> int:
    (call,) = await rig.store.create_calls("c2c", [(user_id, "+919876543210", "+919123456789")])
    await rig.store.update_call(
        call.id, state="final", status1="ANSWER", status2="ANSWER", billsec=40
    )
    return call.id


async def test_call_back_outcome_books_exactly_one_followup(rig, sandbox, clock) -> None:
    call_id = await placed_call(rig)
    when = clock.now.replace(hour=15, minute=30) + timedelta(days=1)
    saved = await rig.feed.log_outcome(
        OutcomeDraft(AGENT_A, call_id, "call_back", "Wants the <!channel> price", when)
    )
    assert (saved.outcome, saved.note) == ("call_back", "Wants the <!channel> price")
    await rig.background.drain()
    (request,) = sandbox.state.recorded("followup")
    assert request.form["phone"] == "9123456789" and request.form["follower"] == "9876543210"
    assert request.form["ontime"] == "24-11-2026 15:30"
    stored = await rig.store.get_outcome(call_id)
    assert stored.followup_id == "2351"
    assert (await rig.store.get_followup("2351")).user_id == AGENT_A
    assert "Follow-up `2351` set" in text_of(rig.dms[-1][1])
    # Saving it again unchanged books nothing more; a new time moves the same follow-up.
    await rig.feed.log_outcome(OutcomeDraft(AGENT_A, call_id, "call_back", "again", when))
    await rig.background.drain()
    assert len(sandbox.state.recorded("followup")) == 1
    await rig.feed.log_outcome(
        OutcomeDraft(AGENT_A, call_id, "call_back", "later", when + timedelta(hours=1))
    )
    await rig.background.drain()
    edit = sandbox.state.recorded("followup")[-1].form
    assert (edit["id"], edit["ontime"]) == ("2351", "24-11-2026 16:30")
    assert len(sandbox.state.followups) == 1


async def test_outcome_problems_are_named_by_field(rig, clock) -> None:
    call_id = await placed_call(rig)
    with pytest.raises(OutcomeProblems) as missing:
        await rig.feed.log_outcome(OutcomeDraft(AGENT_A, call_id, "call_back", ""))
    assert missing.value.problems == {"followup_at": "Pick when to call back."}
    with pytest.raises(OutcomeProblems) as past:
        await rig.feed.log_outcome(
            OutcomeDraft(AGENT_A, call_id, "call_back", "", clock.now - timedelta(hours=1))
        )
    assert "is in the past" in past.value.problems["followup_at"]
    with pytest.raises(OutcomeProblems) as bad:
        await rig.feed.log_outcome(OutcomeDraft(AGENT_A, call_id, "", "x" * 1001))
    assert set(bad.value.problems) == {"outcome", "note"}
    assert await rig.store.get_outcome(call_id) is None


async def test_only_the_caller_logs_an_outcome(rig, sandbox) -> None:
    call_id = await placed_call(rig)
    with pytest.raises(Refused):
        await rig.feed.outcome_form(AGENT_B, call_id)
    with pytest.raises(Refused):
        await rig.feed.log_outcome(OutcomeDraft(AGENT_B, call_id, "voicemail"))
    await rig.feed.log_outcome(OutcomeDraft(AGENT_A, call_id, "voicemail", "left a message"))
    call, existing = await rig.feed.outcome_form(AGENT_A, call_id)
    assert call.id == call_id and existing.outcome == "voicemail"
    assert (await rig.feed.outcomes_for([call_id, 999]))[call_id].note == "left a message"
    await rig.background.drain()
    assert sandbox.state.recorded("followup") == []


async def test_an_outcome_of_a_call_back_shows_in_the_channel(rig, sandbox) -> None:
    _, missed = seed_two(sandbox)
    await rig.feed.poll()
    await rig.feed.call_back(AGENT_A, missed["id"])
    (call,) = await rig.store.create_calls("c2c", [(AGENT_A, "+919876543210", "+919812345699")])
    await rig.store.update_call(
        call.id, state="final", status1="ANSWER", status2="ANSWER", billsec=60
    )
    await rig.feed.poll()
    await rig.feed.log_outcome(OutcomeDraft(AGENT_A, call.id, "interested"))
    await rig.background.drain()
    assert "connected, 1 min · outcome: *interested*" in text_of(rig.updates[-1][2])


# ------------------------------------------------------------------ digest and App Home


async def test_the_activity_digest_counts_what_happened(rig, sandbox, clock) -> None:
    store = rig.store
    # Agent A placed three calls: two answered (100 s and 50 s of talk), one not.
    for status2, billsec in (("ANSWER", 100), ("ANSWER", 50), ("NOANSWER", 0)):
        (call,) = await store.create_calls("c2c", [(AGENT_A, "+919876543210", "+919123456789")])
        await store.update_call(
            call.id, state="final", status1="ANSWER", status2=status2, billsec=billsec
        )
    # Incoming: one answered by B, two missed; one of them called back within the hour.
    sandbox.state.add_incoming("9812345678", B_NUMBER, answered=True, billsec=30)
    first = sandbox.state.add_incoming("9812345601", A_NUMBER, answered=False)
    sandbox.state.add_incoming("9812345602", A_NUMBER, answered=False)
    await rig.feed.poll()
    await rig.feed.call_back(AGENT_B, first["id"])
    clock.advance(minutes=10)
    (back,) = await store.create_calls("c2c", [(AGENT_B, "+919876500011", "+919812345601")])
    await store.update_call(back.id, state="final", status1="ANSWER", status2="ANSWER", billsec=20)
    await rig.feed.poll()
    # One broadcast of three numbers; a follow-up due today for A, one tomorrow.
    plan = BroadcastPlan(numbers=["+919000000001", "+919000000002", "+919000000003"])
    job = await store.create_job("obd", ADMIN, plan)
    result = BroadcastResult(total=3, accepted=3, statuses={"COMPLETED": 2, "BUSY": 1})
    await store.update_job(job, state="done", result=result)
    await store.create_job("obd", ADMIN, plan)  # never confirmed: not a broadcast sent
    for when in (clock.now.replace(hour=18), clock.now + timedelta(days=1)):
        await rig.followups.save(
            FollowupDraft(AGENT_A, Phone.known("+919123456789"), "Ravi", A_PHONE, when)
        )
    digest = await rig.feed.activity()
    by_user = {a.user_id: a for a in digest.agents}
    a, b = by_user[AGENT_A], by_user[AGENT_B]
    assert (a.placed, a.answered, a.talk_seconds, a.followups_due) == (3, 2, 150, 1)
    assert (b.placed, b.answered, b.talk_seconds, b.incoming_answered) == (1, 1, 20, 1)
    assert (digest.incoming_answered, digest.incoming_missed) == (1, 2)
    assert (digest.missed_called_back_within_hour, digest.missed_waiting) == (1, 1)
    assert (digest.broadcasts, digest.broadcast_numbers) == (1, 3)
    assert digest.broadcast_outcomes == {"COMPLETED": 2, "BUSY": 1}
    assert digest.followups_due_today == 1
    text = text_of(await rig.feed.activity_digest())
    assert (
        "<@U0AGENTA>: 3 placed, 67% answered, talk time 2 min 30 s, 1 follow-up due today" in text
    )
    assert (
        "1 answered, 2 missed; 1 of the missed called back within an hour, 1 still waiting" in text
    )
    assert "*Broadcasts* 1 sent to 3 numbers: 2 completed, 1 busy" in text
    assert "98123" not in text and "98765" not in text
    assert await rig.feed.post_digest() is True
    assert await rig.feed.post_digest() is False  # once a day
    assert rig.posts[-1][0] == CHANNEL and "Team activity" in text_of(rig.posts[-1][1])


async def test_missed_calls_waiting_for_app_home(rig, sandbox) -> None:
    _, missed = seed_two(sandbox)
    other = sandbox.state.add_incoming("9812345611", A_NUMBER, answered=False)
    await rig.feed.poll()
    await rig.feed.call_back(AGENT_A, other["id"])
    waiting = await rig.feed.missed_waiting(limit=5)
    assert [w.key for w in waiting] == [missed["id"]]
    blocks = missed_calls_section(waiting, IST)
    assert blocks[0]["text"]["text"] == "Missed calls waiting"
    assert blocks[1]["accessory"]["action_id"] == CALL_BACK
    assert blocks[1]["accessory"]["value"] == missed["id"]
    assert "98******99" in blocks[1]["text"]["text"]
    assert "None" in missed_calls_section([], IST)[1]["text"]["text"]


async def test_the_digest_goes_with_the_health_digest_unless_timed(rig, clock) -> None:
    assert await rig.feed.digest_time() == "09:00"
    rig.feed.activity_time = "18:30"
    assert await rig.feed.digest_time() == "18:30"
    rig.feed.activity_time = "6pm"  # not HH:MM: the health digest's time
    assert await rig.feed.digest_time() == "09:00"
    rig.feed.activity_time = "10:00"  # an hour ago (11:00 now): sent late, once
    assert await rig.feed.catch_up() is True
    assert await rig.feed.catch_up() is False
    rig.feed.activity_time = "07:00"  # four hours ago: beyond the grace
    clock.advance(days=1)
    assert await rig.feed.catch_up() is False

    async def no_channel() -> None:
        return None

    rig.feed.channel = no_channel  # type: ignore[method-assign]
    assert await rig.feed.post_digest() is False  # nowhere to post


async def test_a_call_without_a_status_yet_waits_for_the_next_poll(rig, sandbox) -> None:
    row = sandbox.state.add_incoming("9812345678", A_NUMBER, answered=True, billsec=30)
    row.update(status="", billsec="0")  # still talking: Kaleyra has no outcome yet
    assert await rig.feed.poll() == 0
    row.update(status="ANSWER", billsec="30")
    assert await rig.feed.poll() == 1
    assert "answered by <@U0AGENTA>, 30 s" in rig.posted_text()[0]


async def test_a_refused_followup_is_said_and_tried_again_on_the_next_save(
    rig, sandbox, clock
) -> None:
    call_id = await placed_call(rig)
    when = clock.now + timedelta(days=1)
    sandbox.state.set_fault("followup", Fault(error_rate=1.0, api_error=("E106", "bad ontime")))
    await rig.feed.log_outcome(OutcomeDraft(AGENT_A, call_id, "call_back", "", when))
    await rig.background.drain()
    assert "the follow-up was not created: Kaleyra refused it: bad ontime" in text_of(
        rig.dms[-1][1]
    )
    assert (await rig.store.get_outcome(call_id)).followup_id is None
    sandbox.state.set_fault("followup", None)
    await rig.feed.log_outcome(OutcomeDraft(AGENT_A, call_id, "call_back", "", when))
    await rig.background.drain()
    assert (await rig.store.get_outcome(call_id)).followup_id is not None
    assert len(sandbox.state.followups) == 1
