"""Replies to the person who acted: rendered messages with the sandbox notice, safe sends."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.views.common import error_message, info_message, with_notice

Responder = Callable[..., Awaitable[Any]]
log = logging.getLogger("voicebot.slack")


async def open_modal(
    client: AsyncWebClient,
    trigger_id: str,
    view: dict[str, Any],
    respond: Responder,
    example: str,
    *,
    sandbox: bool = False,
) -> bool:
    """views.open; when Slack refuses (an expired trigger), point to the text grammar instead."""
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
        return True
    except SlackApiError as exc:
        expired = exc.response.get("error") == "expired_trigger_id"
        problem = "The form could not open in time" if expired else "The form could not open"
        shown = error_message(f"{problem}. Type it instead: `{example}`.")
        await respond(**(with_notice(shown) if sandbox else shown))
        return False


async def reply(respond: Responder, **message: Any) -> bool:
    """Reply without letting a failed reply (expired response_url, Slack down) abort the work."""
    try:
        await respond(**message)
        return True
    except Exception as exc:  # aiohttp and Slack errors alike: log, don't raise
        log.warning("reply failed: %s", type(exc).__name__)
        return False


def dm_responder(client: AsyncWebClient, user_id: str) -> Responder:
    """A `respond` for work that has no response_url (a submitted form): reply in the DM."""

    async def respond(**message: Any) -> None:
        message.pop("replace_original", None)
        message.pop("response_type", None)
        await client.chat_postMessage(channel=user_id, **message)

    return respond


def later(deps: Any, respond: Responder, **message: Any) -> None:
    """Reply after the ack has gone: the HTTP response to Slack never waits for a reply."""
    deps.background.spawn(reply(respond, **message), name="reply")


class Replies:
    """Messages for the person who acted, with the sandbox notice when no real calls are placed.

    Views build the message; this adds what every reply of this process shares, so no view
    needs to know which Kaleyra it talks to.
    """

    def __init__(self, *, sandbox: bool) -> None:
        self.sandbox = sandbox

    def show(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A view's message, as this process sends it."""
        return with_notice(payload) if self.sandbox else payload

    def error(self, problem: object) -> dict[str, Any]:
        """What is wrong and what to do; `problem` is escaped (an exception's text is fine)."""
        return self.show(error_message(str(problem)))

    def info(self, text: str) -> dict[str, Any]:
        """Plain information; `text` is mrkdwn the caller has already escaped."""
        return self.show(info_message(text))
