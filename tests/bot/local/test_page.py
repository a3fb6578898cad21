"""The local Slack page's server side, without a browser: what a click on the page sends to the
bot (signed, as Slack sends it) and what the page is then given to draw."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.deps import Tuning
from bot.local.directory import ADMIN, CALLS, OPS, SALES, escape_like_slack
from bot.local.page import LocalSlack
from bot.local.serverthread import ServerThread, free_port
from bot.settings import Settings


class Page:
    def __init__(self, server: ServerThread, local: LocalSlack) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.server = server
        self.local = local

    def settle(self) -> None:
        """Wait for the work a request set off after its ack (replies by response_url)."""
        assert self.server.loop is not None
        drain = self.local.deps.background.drain(10)
        asyncio.run_coroutine_threadsafe(drain, self.server.loop).result(15)

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self, user: str = ADMIN) -> dict[str, Any]:
        return self.http.get("/local/state", params={"user": user}).json()

    def texts(self, channel: str, user: str = ADMIN) -> list[str]:
        messages = self.state(user)["messages"].get(channel, [])
        return [m["text"] + " " + str(m["blocks"]) for m in messages]


@pytest.fixture
def page() -> Iterator[Page]:
    port = free_port()
    local = LocalSlack(
        Settings(_env_file=None, scheduler_enabled=False),
        port,
        tuning=Tuning(poll_seconds=0.2, auto_track=True, freeze_heap=False),
    )
    server = ServerThread(local.asgi, port).start()
    client = Page(server, local)
    try:
        yield client
    finally:
        client.http.close()
        server.stop()


def test_the_page_is_served_with_its_script_and_stylesheet(page: Page) -> None:
    assert "/local/static/app.js" in page.http.get("/").text
    assert page.http.get("/local/static/app.js").status_code == 200
    assert page.http.get("/local/static/style.css").status_code == 200
    assert page.http.get("/local/static/../__init__.py").status_code == 404
    state = page.state()
    assert [c["name"] for c in state["channels"]] == ["sales", "calls", "ops"]
    assert ADMIN in state["admins"]
    assert any(c["command"] == "/c2c" and "register" in c["usage_hint"] for c in state["commands"])


def test_a_command_reaches_the_bot_signed_and_its_reply_is_only_for_its_author(page: Page) -> None:
    page.post("/local/command", user=ADMIN, channel=SALES, text="/c2c register @asha 9876543210")
    [reply] = page.texts(SALES)
    assert "<@U0ASHA> now calls from +91 98765 43210" in reply
    assert page.texts(SALES, user="U0RAVI") == []  # ephemeral: only asha sees it


def test_an_unknown_command_is_answered_as_slack_does(page: Page) -> None:
    page.post("/local/command", user=ADMIN, channel=SALES, text="/c2 9876543210")
    [reply] = page.texts(SALES)
    assert "`/c2` is not a valid command. Did you mean `/c2c`?" in reply


def test_an_incoming_missed_call_is_posted_to_the_calls_channel(page: Page) -> None:
    answer = page.post(
        "/local/sandbox/incoming", caller="9812345678", agent="9876543210", outcome="missed"
    )
    assert answer["posted"] == 1
    [posted] = page.texts(CALLS)
    assert "Missed call" in posted and "98******78" in posted and "Call back" in posted


def test_a_network_incident_alerts_the_ops_channel(page: Page) -> None:
    answer = page.post("/local/sandbox/incident", region="KA-IN", type="critical")
    assert answer["changes"] == 1
    assert any("Karnataka" in text for text in page.texts(OPS))


def test_the_shortcut_on_a_message_offers_to_call_its_number(page: Page) -> None:
    page.post("/local/command", user=ADMIN, channel=SALES, text="/c2c register @asha 9876543210")
    page.post("/local/say", user=ADMIN, channel=SALES, text="Please ring Ravi on 9123456789")
    said = next(m for m in page.state()["messages"][SALES] if m["text"].startswith("Please ring"))
    page.post("/local/shortcut", user=ADMIN, channel=SALES, ts=said["ts"])
    page.settle()
    assert any("+91 91234 56789" in t and "Call" in t for t in page.texts(SALES)[2:])


def test_typed_mentions_and_channels_are_escaped_as_slack_does() -> None:
    assert escape_like_slack("register @asha 9000012399") == "register <@U0ASHA|asha> 9000012399"
    assert escape_like_slack("digest #ops 08:30") == "digest <#C0OPS|ops> 08:30"
    assert escape_like_slack("a <b> & @nobody") == "a &lt;b&gt; &amp; @nobody"
