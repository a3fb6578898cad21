"""Home: the tab built from the store, refreshes coalesced, status words escaped (no Slack)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.models import DigestSettings, Followup
from bot.runtime.background import Background
from bot.services.agents import Agents
from bot.services.home import Home
from bot.slack.budget import SlackBudget
from bot.slack.notify import Notifier
from bot.store import Store
from tests.support.harness import text_of

ADMIN, AGENT = "U0ADMIN", "U0AGENT"


async def _digest() -> DigestSettings:
    return DigestSettings("C0OPS", "08:30")


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
        digest=_digest,
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


async def test_refreshes_are_coalesced_per_user_and_publish_the_latest_state(
    store, clock, mocker
) -> None:
    """A burst of changes publishes the tab once, `quiet` after the first, then at most once
    per `spacing`; the view is built when it goes, so it shows the latest state."""
    slack = mocker.Mock()
    slack.views_publish = mocker.AsyncMock(return_value={"ok": True})
    now = [0.0]
    budget = SlackBudget(clock=lambda: now[0], dispatch=False)
    home = Home(
        store,
        Notifier(slack, sandbox=False, budget=budget),
        Agents(store, env_admins=frozenset({ADMIN})),
        Background(),
        clock,
        tz=clock.now.tzinfo,
        tz_name="Asia/Kolkata",
        sandbox=False,
        digest=_digest,
        quiet=3.0,
        spacing=5.0,
    )
    for _ in range(5):
        home.refresh_later(AGENT)
    assert slack.views_publish.await_count == 0 and budget.next_due() == 3.0
    await store.register_agent(AGENT, "+919876543210")  # a change after the refreshes were asked
    now[0] = 3.0
    budget.pump()
    await asyncio.sleep(0)
    assert slack.views_publish.await_count == 1
    assert "+91 98765 43210" in text_of(slack.views_publish.await_args.kwargs["view"])
    home.refresh_later(AGENT)
    assert budget.next_due() == 8.0  # spacing: 5 s after the last publish
