"""Notifier: one policy for Slack failing, the sandbox notice, uploads through files_upload_v2."""

from __future__ import annotations

import asyncio
import re

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.local.fakeslack import FakeSlack
from bot.local.serverthread import ServerThread
from bot.slack.notify import Notifier, Posted
from bot.views.common import SANDBOX_NOTICE, info_message


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
