"""ClickToCall: the one dial door, placing, the card, callbacks (real store and sandbox client;
Slack and the App Home are substituted)."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.models import AlreadyHandled, AskFirst, Click, Dialling
from bot.phones import parse_phone
from bot.runtime.background import Background
from bot.services.agents import Agents, NotRegistered, NotVerified, Refused
from bot.services.c2c import CLICK_WINDOW, TOKEN_TTL, ClickToCall, safe_recording
from bot.slack.notify import Posted
from bot.store import Store
from tests.support.harness import text_of

ADMIN, AGENT, OTHER = "U0ADMIN", "U0AGENT", "U0OTHER"
MINE, CUSTOMER = parse_phone("9876543210"), parse_phone("9123456789")


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "c.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
def notify(mocker):
    notifier = mocker.Mock()
    notifier.dm = mocker.AsyncMock(return_value=Posted("D0AGENT", "1700000000.000100"))
    notifier.update = mocker.AsyncMock(return_value=True)
    return notifier


@pytest.fixture
def agents(store) -> Agents:
    return Agents(store, env_admins=frozenset({ADMIN}))


def make(store, kaleyra, notify, agents, clock, mocker, **kw) -> ClickToCall:
    return ClickToCall(
        store,
        kaleyra,
        notify,
        agents,
        mocker.Mock(),  # the App Home
        Background(),
        clock,
        public_url=kw.pop("public_url", None),
        region="IN",
        tz=clock.now.tzinfo,
        auto_track=False,
        **kw,
    )


@pytest.fixture
def c2c(store, kaleyra, notify, agents, clock, mocker) -> ClickToCall:
    return make(store, kaleyra, notify, agents, clock, mocker)


async def proven(c2c: ClickToCall, store: Store, user: str = AGENT, number=MINE) -> None:
    await store.register_agent(user, number.e164)
    await store.set_verified(user, number.e164, by=ADMIN)


def click(where: str = "1700000000.000200", value: str = "v") -> Click:
    return Click(AGENT, where, "some_button", value)


async def test_request_dial_applies_first_leg_repeat_check_and_double_click_guard(
    c2c, store, sandbox, clock
) -> None:
    with pytest.raises(NotRegistered):
        await c2c.request_dial(AGENT, CUSTOMER)
    await proven(c2c, store)
    first = await c2c.request_dial(AGENT, CUSTOMER, click=click())
    assert first == Dialling(MINE, CUSTOMER)
    assert (
        await c2c.request_dial(AGENT, CUSTOMER, click=click()) == AlreadyHandled()
    )  # double click
    clock.advance(seconds=CLICK_WINDOW.total_seconds() + 1)
    again = await c2c.request_dial(AGENT, CUSTOMER, click=click())
    assert isinstance(again, AskFirst) and again.redial.customer == CUSTOMER.e164
    await c2c.background.drain()
    assert len(sandbox.state.recorded("dial.click2call")) == 1

    redial = again.redial
    confirmed = await c2c.request_dial(
        AGENT, CUSTOMER, agent=MINE, click=click("1700000000.000300"), redial=redial
    )
    assert confirmed == Dialling(MINE, CUSTOMER, again=True)
    # The same payload from another message (a forwarded or re-sent button) dials nothing.
    assert (
        await c2c.request_dial(AGENT, CUSTOMER, agent=MINE, click=click("other"), redial=redial)
        == AlreadyHandled()
    )
    await c2c.background.drain()
    assert len(sandbox.state.recorded("dial.click2call")) == 2


async def test_an_unverified_number_never_rings(c2c, store, agents, sandbox) -> None:
    await agents.register(AGENT, MINE)
    with pytest.raises(NotVerified):
        await c2c.request_dial(AGENT, CUSTOMER)
    with pytest.raises(Refused, match="Only admins can choose the first leg"):
        await c2c.request_dial(AGENT, CUSTOMER, agent=MINE)  # naming it does not help
    await c2c.background.drain()
    assert sandbox.state.recorded("dial.click2call") == []


async def test_registration_rings_the_code_and_verify_proves_it(c2c, store, sandbox) -> None:
    registration = await c2c.register(AGENT, MINE)
    await c2c.background.drain()
    [call] = sandbox.state.recorded("voice.call")
    assert call.form["numbers"] == "9876543210"
    assert " ".join(registration.code) in call.form["message"]
    assert registration.code not in json.dumps(
        [e.model_dump() for e in await store.audit_entries()]
    )  # the code is nowhere in the store
    assert await c2c.verify(AGENT, registration.code) == MINE
    c2c.home.refresh_later.assert_called_with(AGENT)


async def test_with_kaleyra_io_the_code_is_a_text_target(
    store, kaleyra, notify, agents, clock, mocker, sandbox
) -> None:
    c2c = make(store, kaleyra, notify, agents, clock, mocker, io_bridge="+918047000000")
    registration = await c2c.register(AGENT, MINE)
    await c2c.background.drain()
    [sent] = sandbox.state.recorded("outbound")
    assert sent.form["to"] == "+919876543210" and sent.form["bridge"] == "+918047000000"
    target = json.loads(sent.form["target"])
    assert " ".join(registration.code) in target[0]["message"]["text"]
    assert sandbox.state.recorded("voice.call") == []


async def test_a_verification_call_kaleyra_refuses_is_reported(c2c, store, sandbox, notify) -> None:
    from bot.sandbox import Fault

    sandbox.state.set_fault("voice.call", Fault(error_rate=1.0, api_error=("E999", "No credit")))
    await c2c.register(AGENT, MINE)
    await c2c.background.drain()
    [(user, payload)] = [c.args for c in notify.dm.call_args_list]
    assert user == AGENT and "I could not ring +91 98765 43210" in text_of(payload)
    assert "No credit" in text_of(payload)
    assert (await store.audit_entries(action="c2c.verify.call"))[0].outcome == "rejected"


async def test_an_answer_of_an_odd_shape_still_gets_a_card(
    c2c, store, sandbox, notify, mocker
) -> None:
    await proven(c2c, store)
    mocker.patch.object(c2c.kaleyra, "click_to_call", side_effect=ValueError("id: not a str"))
    await c2c.request_dial(AGENT, CUSTOMER)
    await c2c.background.drain()
    [(user, card)] = [c.args for c in notify.dm.call_args_list]
    assert user == AGENT and "Outcome unknown" in text_of(card)
    call = (await store.recent_calls(AGENT))[0]
    assert call.state == "unknown" and call.message_ts
    # Unknown means it may have rung: dialling again asks first.
    assert isinstance(await c2c.request_dial(AGENT, CUSTOMER), AskFirst)


async def test_a_failure_after_kaleyra_placed_the_call_still_gets_a_card(
    c2c, store, sandbox, notify, mocker
) -> None:
    await proven(c2c, store)
    real_update = store.update_call
    calls = {"n": 0}

    async def flaky(call_id, **fields):
        calls["n"] += 1
        if fields.get("state") == "placed":
            raise OSError("disk I/O error")
        return await real_update(call_id, **fields)

    mocker.patch.object(store, "update_call", side_effect=flaky)
    await c2c.request_dial(AGENT, CUSTOMER)
    await c2c.background.drain()
    assert len(sandbox.state.recorded("dial.click2call")) == 1
    [(user, card)] = [c.args for c in notify.dm.call_args_list]
    assert user == AGENT and "Outcome unknown" in text_of(card)


async def test_callbacks_move_forward_only(c2c, store, sandbox) -> None:
    await proven(c2c, store)
    await c2c.request_dial(AGENT, CUSTOMER)
    await c2c.background.drain()
    call = (await store.recent_calls(AGENT))[0]
    await c2c.on_callback(call, {"status1": "ANSWER", "duration": "0"})
    await c2c.on_callback(
        call, {"status1": "ANSWER", "status2": "ANSWER", "duration": "40", "billsec": "35"}
    )
    final = await store.get_call(call.id)
    assert (final.state, final.status2, final.duration, final.billsec) == (
        "final",
        "ANSWER",
        40,
        35,
    )
    # A late or replayed callback: nothing of a final call changes, nothing is wiped.
    await c2c.on_callback(call, {"status1": "BUSY", "status2": "", "duration": ""})
    after = await store.get_call(call.id)
    assert (after.status1, after.status2, after.duration, after.billsec, after.updated_at) == (
        "ANSWER",
        "ANSWER",
        40,
        35,
        final.updated_at,
    )


async def test_a_leg_status_is_never_moved_back(c2c, store, sandbox) -> None:
    await proven(c2c, store)
    await c2c.request_dial(AGENT, CUSTOMER)
    await c2c.background.drain()
    call = (await store.recent_calls(AGENT))[0]
    await c2c.on_callback(call, {"status1": "ANSWER", "duration": "12"})
    await c2c.on_callback(call, {"status1": "", "status2": "", "duration": ""})
    row = await store.get_call(call.id)
    assert (row.status1, row.duration, row.state) == ("ANSWER", 12, "placed")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("//play.example/?id=9", "https://play.example/?id=9"),
        ("https://play.example/a.mp3", "https://play.example/a.mp3"),
        ("http://play.example/a.mp3", None),
        ("javascript:alert(1)", None),
        ("https://evil.example/login|Re-enter your Slack password", None),
        ("https://evil.example/<!channel>", None),
        ("", None),
    ],
)
def test_recording_links_are_https_only(given: str, kept: str | None) -> None:
    assert safe_recording(given) == kept


@pytest.mark.parametrize(
    "token",
    ["", "1", "nope", "1-deadbeef", "0-" + "0" * 32, "1-" + "G" * 32, "१-" + "0" * 32, "9" * 400],
)
async def test_any_token_string_is_answered_without_raising(c2c, token: str) -> None:
    assert await c2c.call_for_token(token) is None


async def test_a_token_expires_a_day_after_its_call(store, kaleyra, notify, agents, clock, mocker):
    c2c = make(store, kaleyra, notify, agents, clock, mocker, public_url="https://bot.example")
    await proven(c2c, store)
    await c2c.request_dial(AGENT, CUSTOMER)
    await c2c.background.drain()
    call = (await store.recent_calls(AGENT))[0]
    assert await c2c.call_for_token(call.callback_token) == await store.get_call(call.id)
    clock.advance(seconds=TOKEN_TTL.total_seconds() + 1)
    assert await c2c.call_for_token(call.callback_token) is None


async def test_the_log_shows_full_numbers_to_admins_and_the_caller_only(
    c2c, store, sandbox
) -> None:
    await proven(c2c, store, ADMIN, parse_phone("9000012345"))
    # A number no other test rings: a late call of an earlier test cannot pass for this agent's.
    await proven(c2c, store, AGENT, parse_phone("9000054321"))
    await c2c.request_dial(ADMIN, parse_phone("9123456701"))
    await c2c.request_dial(AGENT, parse_phone("9123456702"))
    await c2c.background.drain()
    mine = (await store.recent_calls(AGENT))[0].kaleyra_id
    page = await c2c.call_log(AGENT, "log", None, None)
    assert page.full_numbers == {mine}
    admin = await c2c.call_log(ADMIN, "log", None, None)
    assert admin.full_numbers is None
    other = await c2c.call_log(OTHER, "log", None, None)
    assert other.full_numbers == frozenset()


async def test_a_dial_queued_while_a_batch_is_written_is_placed_without_waiting_for_another(
    c2c, store, sandbox, mocker
) -> None:
    """The second dial arrives while the first one's row is being written (a slow database):
    it is recorded and placed by the same recording task, not left until some later dial."""
    await proven(c2c, store)
    real, writing = store.create_calls, asyncio.Event()

    async def slow(*args, **kwargs):
        writing.set()
        await asyncio.sleep(0.2)
        return await real(*args, **kwargs)

    mocker.patch.object(store, "create_calls", side_effect=slow)
    await c2c.request_dial(AGENT, parse_phone("9123456701"))
    await writing.wait()
    await c2c.request_dial(AGENT, parse_phone("9123456702"))  # nothing dials after it
    await c2c.background.drain()
    placed = [r.form["receiver"] for r in sandbox.state.recorded("dial.click2call")]
    assert placed == ["9123456701", "9123456702"]
    assert len(await store.recent_calls(AGENT)) == 2
