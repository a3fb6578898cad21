"""Home: the tab built from the store, refreshes coalesced, status words escaped (no Slack)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.models import DigestSettings, Followup
from bot.runtime.background import Background
from bot.services.agents import Agents
from bot.services.home import Home
from bot.store import Store
from tests.support.harness import text_of

ADMIN, AGENT = "U0ADMIN", "U0AGENT"


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "h.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
def notify(mocker):
    notifier = mocker.Mock()
    notifier.publish = mocker.AsyncMock(return_value=True)
    return notifier


@pytest.fixture
def home(store, notify, clock) -> Home:
    return Home(
        store,
        notify,
        Agents(store, env_admins=frozenset({ADMIN})),
        Background(),
        clock,
        tz=clock.now.tzinfo,
        tz_name="Asia/Kolkata",
        sandbox=True,
        digest=lambda: DigestSettings("C0OPS", "08:30"),
    )


async def save_followup(store: Store, clock, follower: str) -> None:
    await store.save_followup(
        Followup(
            id="2351",
            phone="+918712345678",
            name="John <!here>",
            follower=follower,
            ontime=clock.now + timedelta(days=1),
            user_id=AGENT,
        )
    )


async def test_an_unverified_number_shows_as_such_and_grants_no_followups(
    home, store, clock
) -> None:
    await store.register_agent(AGENT, "+919876543210")
    await save_followup(store, clock, "+919876543210")
    text = text_of(await home.view(AGENT))
    assert "unverified — type `/c2c verify <code>`" in text
    assert "John" not in text and "None scheduled" in text
    await store.set_verified(AGENT, "+919876543210", by=ADMIN)
    text = text_of(await home.view(AGENT))
    assert "Your agent number is *+91 98765 43210* (role: agent)" in text
    assert "*John &lt;!here&gt;* +91 87123 45678" in text  # escaped
    assert "Sandbox" in text  # the notice, added by the service


async def test_status_words_and_states_are_escaped(home, store) -> None:
    [call] = await store.create_calls("c2c", [(AGENT, "+919876543210", "+919123456789")])
    await store.update_call(
        call.id, state="final", status1="<https://evil.example|X>", status2=None
    )
    text = text_of(await home.view(AGENT))
    assert "<https://evil" not in text and "&lt;https://evil.example|x&gt;" in text


async def test_admins_see_the_digest_and_the_audit(home, store) -> None:
    await store.audit(user_id=ADMIN, action="voicehealth.digest", outcome="set <!channel>")
    text = text_of(await home.view(ADMIN))
    assert "*Health digest*: <#C0OPS> at 08:30 Asia/Kolkata" in text
    assert "voicehealth.digest: set &lt;!channel&gt;" in text
    assert "Health digest" not in text_of(await home.view(AGENT))


async def test_refreshes_waiting_together_are_built_once(home, notify) -> None:
    for _ in range(5):
        home.refresh_later(AGENT)
    await home.background.drain()
    assert notify.publish.await_count == 1
    home.refresh_later(AGENT)  # a change after the publish gets a refresh of its own
    await home.background.drain()
    assert notify.publish.await_count == 2
