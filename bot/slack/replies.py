"""Slack plumbing every handler shares: opening forms safely and replying by DM."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.views.common import error_message

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
        await respond(**error_message(f"{problem}. Type it instead: `{example}`.", sandbox=sandbox))
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


async def download(client: AsyncWebClient, file: dict[str, Any], limit: int) -> bytes:
    """A file a user uploaded in a form, read with the bot token (needs files:read)."""
    import httpx

    url = file.get("url_private_download") or file.get("url_private")
    if not url:
        info = await client.files_info(file=file["id"])
        url = info["file"].get("url_private_download") or info["file"]["url_private"]
    async with (
        httpx.AsyncClient(timeout=30, follow_redirects=True) as http,
        http.stream("GET", url, headers={"Authorization": f"Bearer {client.token}"}) as response,
    ):
        response.raise_for_status()
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data.extend(chunk)
            if len(data) > limit:
                raise ValueError(f"the file is larger than {limit // 1024 // 1024} MB")
        return bytes(data)
