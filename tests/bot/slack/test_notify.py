"""Notifier: one policy for Slack failing, the sandbox notice, uploads through files_upload_v2."""

from __future__ import annotations

import asyncio
import re

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.local.fakeslack import FakeSlack
from bot.local.serverthread import ServerThread
from bot.slack.budget import SlackBudget
from bot.slack.client import PacedWebClient
from bot.slack.notify import Notifier, Posted
from bot.views.common import SANDBOX_NOTICE, info_message
from tests.support.harness import text_of


@pytest.fixture(scope="module")
def fake_slack():
    fake = FakeSlack()
    with ServerThread(fake.app) as server:
        fake.base_url = server.url
        yield fake, server.url


def _notifier(url: str, *, sandbox: bool = False) -> Notifier:
    return Notifier(AsyncWebClient(token="xoxb-t", base_url=url + "/api/"), sandbox=sandbox)


def test_post_lands_and_says_where(fake_slack) -> None:
    _fake, url = fake_slack
    first = asyncio.run(_notifier(url).post("U0AGENT", info_message("hello")))
    second = asyncio.run(_notifier(url).post("C0OPS", info_message("again")))
    assert first is not None and second is not None
    assert (first.channel, second.channel) == ("D0AGENT", "C0OPS")  # a user id lands in a DM
    assert re.fullmatch(r"\d{10}\.000100", first.ts)  # the fake's ts, as Slack answered it
    assert second == Posted("C0OPS", f"{int(float(first.ts)) + 1}.000100")


def test_sandbox_notice_is_added_once(fake_slack) -> None:
    fake, url = fake_slack
    fake.clear()
    asyncio.run(_notifier(url, sandbox=True).post("C1", info_message("hi")))
    [payload] = fake.of("chat.postMessage")
    assert str(payload["blocks"]).count(SANDBOX_NOTICE) == 1


def test_a_slack_refusal_is_a_falsy_answer_not_an_exception(fake_slack) -> None:
    fake, url = fake_slack
    fake.fail("chat.postMessage", "channel_not_found")
    assert asyncio.run(_notifier(url).post("C404", info_message("x"))) is None
    fake.fail("chat.update", "message_not_found")
    assert asyncio.run(_notifier(url).update("C1", "1.2", info_message("x"))) is False


def test_a_broken_connection_is_a_falsy_answer_too() -> None:
    # Nothing listens on this port: a reset after slack_sdk's own retries, as in production.
    notifier = Notifier(
        AsyncWebClient(token="xoxb-t", base_url="http://127.0.0.1:9/api/", retry_handlers=[]),
        sandbox=False,
    )
    assert asyncio.run(notifier.post("C1", info_message("x"))) is None


def test_upload_goes_through_the_v2_flow(fake_slack) -> None:
    fake, url = fake_slack
    fake.clear()
    ok = asyncio.run(
        _notifier(url).upload(
            "D0AGENT", filename="report.csv", content="a,b\n1,2\n", title="Report", comment="Here"
        )
    )
    assert ok
    [complete] = fake.of("files.completeUploadExternal")
    assert complete["channel_id"] == "D0AGENT" and complete["initial_comment"] == "Here"
    assert fake.uploaded_file("Report") == b"a,b\n1,2\n"


def _budgeted(url: str, budget: SlackBudget) -> Notifier:
    client = PacedWebClient(token="xoxb-t", base_url=url + "/api/", pace_seconds=0)
    return Notifier(client, sandbox=False, budget=budget)


def test_a_message_is_updated_only_when_what_it_shows_changed(fake_slack) -> None:
    fake, url = fake_slack
    fake.clear()

    async def run() -> None:
        notifier = _budgeted(url, SlackBudget())
        posted = await notifier.post("U1", info_message("ringing"))
        assert posted is not None
        for text in ("ringing", "ringing", "answered", "answered"):
            assert await notifier.update(posted.channel, posted.ts, info_message(text)) is True
        for _ in range(2):
            assert await notifier.publish("U1", {"type": "home", "blocks": []}) is True
        await notifier.slack.aclose()

    asyncio.run(run())
    assert [text_of(p) for p in fake.of("chat.update")] == ["answered"]
    assert len(fake.of("views.publish")) == 1


def test_a_429_is_waited_out_by_the_budget_and_the_update_is_not_lost(fake_slack) -> None:
    fake, url = fake_slack
    fake.clear()
    now = [0.0]
    fake.fail("chat.update", "ratelimited", status=429, retry_after=3)

    async def run() -> SlackBudget:
        budget = SlackBudget(clock=lambda: now[0], dispatch=False)
        notifier = _budgeted(url, budget)
        # Refused: the caller goes on, the update waits in the budget (slack_sdk retries nothing).
        assert await notifier.update("D1", "1.2", info_message("completed")) is True
        assert len(fake.of("chat.update")) == 1 and budget.limited["chat.update"] == 1
        assert budget.waiting == 1 and budget.next_due() == 3.0
        now[0] = 3.0
        budget.pump()
        while not budget.idle:
            await asyncio.sleep(0.01)  # the HTTP call on its way (no timer involved)
        await notifier.slack.aclose()
        return budget

    budget = asyncio.run(run())
    assert [text_of(p) for p in fake.of("chat.update")] == ["completed", "completed"]
    assert budget.limited["chat.update"] == 1
