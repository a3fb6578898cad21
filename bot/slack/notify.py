"""Posts, updates, Home publishes, DMs and uploads for work that follows an ack.

One policy for Slack failing: the failure is logged with Slack's error code and the caller gets
a falsy answer, so a job can release what it claimed and try again later. Nothing here raises
into a background task, and every payload carries the sandbox notice when no real calls are made.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.views.common import with_notice

log = logging.getLogger("voicebot.notify")


@dataclass(frozen=True, slots=True)
class Posted:
    """Where a message landed, so it can be updated later."""

    channel: str
    ts: str


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


NOT_POSTED, MAYBE_POSTED = "not posted", "maybe posted"


class Notifier:
    def __init__(self, slack: AsyncWebClient, *, sandbox: bool) -> None:
        self.slack = slack
        self.sandbox = sandbox

    def _dress(self, payload: dict[str, Any]) -> dict[str, Any]:
        return with_notice(payload) if self.sandbox else payload

    async def post(self, channel: str, payload: dict[str, Any]) -> Posted | None:
        """chat.postMessage; posting to a user id lands in the app's DM with them."""
        try:
            response = await self.slack.chat_postMessage(channel=channel, **self._dress(payload))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Slack's refusals, resets after slack_sdk's retries, bad data
            log.warning("chat.postMessage failed: %s", _reason(exc))
            return None
        return Posted(str(response.get("channel") or channel), str(response.get("ts") or ""))

    async def post_once(self, channel: str, payload: dict[str, Any]) -> Posted | str:
        """chat.postMessage for a post that must never be made twice: NOT_POSTED when Slack
        answered that it did not post it, MAYBE_POSTED when the answer was lost (a timeout, a
        reset): the message may be in the channel, and only its history can tell."""
        try:
            response = await self.slack.chat_postMessage(channel=channel, **self._dress(payload))
        except asyncio.CancelledError:
            raise
        except SlackApiError as exc:
            log.warning("chat.postMessage failed: %s", _reason(exc))
            return NOT_POSTED
        except Exception as exc:
            log.warning("chat.postMessage answer lost: %s", _reason(exc))
            return MAYBE_POSTED
        return Posted(str(response.get("channel") or channel), str(response.get("ts") or ""))

    async def find_posted(
        self, channel: str, event_type: str, key: str, since: float
    ) -> Posted | str | None:
        """The bot's message in `channel` since `since` (epoch seconds) whose metadata is
        `event_type` with this `key`; None when there is none; MAYBE_POSTED when the history
        could not be read (a missing scope, Slack down)."""
        try:
            response = await self.slack.conversations_history(
                channel=channel, oldest=f"{since:.6f}", limit=200, include_all_metadata=True
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("conversations.history failed: %s", _reason(exc))
            return MAYBE_POSTED
        for found in response.get("messages") or []:
            metadata = found.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and str(payload.get("key")) == key:
                return Posted(channel, str(found.get("ts") or ""))
        return None

    async def dm(self, user_id: str, payload: dict[str, Any]) -> Posted | None:
        """A message in the app's DM with the user (posting to a user id lands there)."""
        return await self.post(user_id, payload)

    async def open_dm(self, user_id: str, payload: dict[str, Any]) -> Posted | None:
        """A direct message by the book: conversations.open, then chat.postMessage to it."""
        try:
            opened = await self.slack.conversations_open(users=user_id)
            channel = str((opened.get("channel") or {}).get("id") or "")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("conversations.open failed: %s", _reason(exc))
            return None
        if not channel:
            log.warning("conversations.open gave no channel")
            return None
        return await self.post(channel, payload)

    async def update(self, channel: str, ts: str, payload: dict[str, Any]) -> bool:
        try:
            await self.slack.chat_update(channel=channel, ts=ts, **self._dress(payload))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("chat.update failed: %s", _reason(exc))
            return False
        return True

    async def publish(self, user_id: str, view: dict[str, Any]) -> bool:
        """views.publish of a Home tab (Home views carry their own sandbox notice)."""
        try:
            await self.slack.views_publish(user_id=user_id, view=view)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a Home tab that cannot refresh is not worth a message
            log.info("views.publish for %s failed: %s", user_id, _reason(exc))
            return False
        return True

    async def upload(
        self, channel: str, *, filename: str, content: bytes | str, title: str, comment: str
    ) -> bool:
        """files_upload_v2: Slack's current upload flow (needs files:write)."""
        try:
            await self.slack.files_upload_v2(
                channel=channel,
                filename=filename,
                content=content,
                title=title,
                initial_comment=comment,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("files_upload_v2 failed: %s", _reason(exc))
            return False
        return True
