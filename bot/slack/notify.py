"""Posts, updates, Home publishes, DMs and uploads for work that follows an ack.

One policy for Slack failing: the failure is logged with Slack's error code and the caller gets
a falsy answer, so a job can release what it claimed and try again later. Nothing here raises
into a background task, and every payload carries the sandbox notice when no real calls are made.

Every call goes through the budget (bot/slack/budget.py), which keeps each method to Slack's
rate: an update or a Home publish that must wait is queued (the newest state per message or
user) and the caller goes on; a message is updated, and a Home tab published, only when what it
shows changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.budget import QUEUED, Priority, SlackBudget, Submitted
from bot.views.common import with_notice

log = logging.getLogger("voicebot.notify")


@dataclass(frozen=True, slots=True)
class Posted:
    """Where a message landed, so it can be updated later."""

    channel: str
    ts: str


async def _answer(submitted: Submitted) -> bool:
    """Slack's answer when the call went at once; True when it waits in the budget."""
    if not submitted.went:
        return True
    result = await submitted.result
    return True if result is QUEUED else bool(result)


def _rate_limited(exc: Exception) -> bool:
    return isinstance(exc, SlackApiError) and getattr(exc.response, "status_code", 0) == 429


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


NOT_POSTED, MAYBE_POSTED = "not posted", "maybe posted"
SHOWN_KEPT = 10_000  # messages and Home tabs whose last shown payload is remembered


def _fingerprint(payload: dict[str, Any]) -> bytes:
    return hashlib.blake2b(
        json.dumps(payload, sort_keys=True, default=str).encode(), digest_size=16
    ).digest()


class Notifier:
    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        sandbox: bool,
        budget: SlackBudget | None = None,
        progress_hold: float = 0.0,
    ) -> None:
        self.slack = slack
        self.sandbox = sandbox
        self.budget = budget or SlackBudget()
        # A progress tick waits this long, so a newer state (often the final one) replaces it.
        self.progress_hold = progress_hold
        self._shown: OrderedDict[Hashable, bytes] = OrderedDict()

    def _unchanged(self, key: Hashable, fingerprint: bytes) -> bool:
        return self._shown.get(key) == fingerprint

    def _remember(self, key: Hashable, fingerprint: bytes) -> None:
        self._shown[key] = fingerprint
        self._shown.move_to_end(key)
        if len(self._shown) > SHOWN_KEPT:
            self._shown.popitem(last=False)

    def _dress(self, payload: dict[str, Any]) -> dict[str, Any]:
        return with_notice(payload) if self.sandbox else payload

    async def post(
        self, channel: str, payload: dict[str, Any], *, priority: Priority = Priority.NORMAL
    ) -> Posted | None:
        """chat.postMessage; posting to a user id lands in the app's DM with them."""
        dressed = self._dress(payload)
        try:
            response = await self.budget.call(
                "chat.postMessage",
                lambda: self.slack.chat_postMessage(channel=channel, **dressed),
                channel=channel,
                priority=priority,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Slack's refusals, resets after slack_sdk's retries, bad data
            log.warning("chat.postMessage failed: %s", _reason(exc))
            return None
        posted = Posted(str(response.get("channel") or channel), str(response.get("ts") or ""))
        # What the message shows now: an update to the same payload would change nothing.
        self._remember(("chat.update", posted.channel, posted.ts), _fingerprint(dressed))
        return posted

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
            opened = await self.budget.call(
                "conversations.open", lambda: self.slack.conversations_open(users=user_id)
            )
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

    async def update(
        self,
        channel: str,
        ts: str,
        payload: dict[str, Any],
        *,
        priority: Priority = Priority.NORMAL,
    ) -> bool:
        """chat.update, unless the message already shows `payload`.

        When the budget sends it at once, the answer is Slack's; when it must wait, True: it is
        queued (a newer update of the same message replaces it) and the caller goes on.
        """
        dressed = self._dress(payload)
        key = ("chat.update", channel, ts)
        fingerprint = _fingerprint(dressed)

        async def send() -> bool:
            if self._unchanged(key, fingerprint):
                return True
            try:
                await self.slack.chat_update(channel=channel, ts=ts, **dressed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if _rate_limited(exc):
                    raise  # the budget waits Retry-After and sends it again
                log.warning("chat.update failed: %s", _reason(exc))
                return False
            self._remember(key, fingerprint)
            return True

        hold = self.progress_hold if priority is Priority.PROGRESS else 0.0
        submitted = self.budget.submit(
            "chat.update", send, key=key, priority=priority, delay=hold, patient=False
        )
        return await _answer(submitted)

    async def publish(self, user_id: str, view: dict[str, Any]) -> bool:
        """views.publish of a Home tab now (it was opened; Home views carry their own notice)."""

        async def ready() -> dict[str, Any]:
            return view

        return await _answer(self._submit_publish(user_id, ready, Priority.URGENT, 0.0, 0.0))

    def publish_later(
        self,
        user_id: str,
        build: Callable[[], Awaitable[dict[str, Any]]],
        *,
        delay: float = 0.0,
        spacing: float = 0.0,
    ) -> None:
        """Refresh a Home tab: at most one publish per `spacing` seconds per user, `delay`
        after the first change asked for it, the view built when it goes (the latest state)."""
        self._submit_publish(user_id, build, Priority.NORMAL, delay, spacing)

    def _submit_publish(
        self,
        user_id: str,
        build: Callable[[], Awaitable[dict[str, Any]]],
        priority: Priority,
        delay: float,
        spacing: float,
    ) -> Submitted:
        key = ("views.publish", user_id)

        async def send() -> bool:
            view = await build()  # the latest state, read from the store when it goes
            fingerprint = _fingerprint(view)
            if self._unchanged(key, fingerprint):
                return True
            try:
                await self.slack.views_publish(user_id=user_id, view=view)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a Home tab that cannot refresh is not worth a message
                if _rate_limited(exc):
                    raise
                log.info("views.publish for %s failed: %s", user_id, _reason(exc))
                return False
            self._remember(key, fingerprint)
            return True

        return self.budget.submit(
            "views.publish",
            send,
            key=key,
            priority=priority,
            delay=delay,
            spacing=spacing,
            patient=False,
        )

    async def upload(
        self, channel: str, *, filename: str, content: bytes | str, title: str, comment: str
    ) -> bool:
        """files_upload_v2: Slack's current upload flow (needs files:write)."""
        try:
            # Three calls of their own (get URL, upload, complete): the client's retry covers them.
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
