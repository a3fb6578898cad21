"""What the local Slack page shows, kept as Slack keeps it: channel messages (updated in place),
ephemeral messages, each person's stack of modals and App Home tab.

Fed by the fake Web API (every call it accepted, with the ts or view id it handed out) and by
the bot's answers to the requests the page sent; read by the page as one JSON document.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from bot.local.directory import CHANNELS, PEOPLE
from bot.local.fakeslack import SlackCall

BOT = "voicebot"


@dataclass
class Message:
    ts: str
    channel: str
    author: str  # a user id, or BOT
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    only_for: str | None = None  # ephemeral: the one person who sees it
    edited: bool = False
    at: float = field(default_factory=time.time)  # the fake Web API's ts is not a clock

    def show(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "channel": self.channel,
            "author": self.author,
            "text": self.text,
            "blocks": self.blocks,
            "ephemeral": self.only_for is not None,
            "edited": self.edited,
            "at": self.at,
        }


@dataclass(frozen=True)
class Origin:
    """Where a request came from, so its response_url lands there."""

    user: str
    channel: str
    ts: str | None = None  # the message a button was on


def dm_of(user: str) -> str:
    return "D" + user[1:]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class Workspace:
    def __init__(self) -> None:
        self.messages: dict[str, list[Message]] = {}
        self.modals: dict[str, list[dict[str, Any]]] = {}
        self.homes: dict[str, dict[str, Any]] = {}
        self.origins: dict[str, Origin] = {}
        self.triggers: dict[str, str] = {}
        self.version = 0
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self._local_ts = itertools.count(1)

    # ------------------------------------------------------------------ identities

    def trigger(self, user: str) -> str:
        trigger_id = f"{next(self._ids)}.{int(time.time())}.trigger"
        self.triggers[trigger_id] = user
        return trigger_id

    def response_ident(self, origin: Origin) -> str:
        ident = f"page-{next(self._ids)}"
        self.origins[ident] = origin
        return ident

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._local_ts):06d}"

    # ------------------------------------------------------------------ changes

    def changed(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, version: int, timeout: float = 15.0) -> int:
        if self.version == version:
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        return self.version

    def post(self, message: Message) -> Message:
        self.messages.setdefault(message.channel, []).append(message)
        self.changed()
        return message

    def say(self, user: str, channel: str, text: str) -> Message:
        """A person's own message in a channel (something to use the shortcut on)."""
        return self.post(Message(self._ts(), channel, user, text))

    def find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages.get(channel, []) if m.ts == ts), None)

    def _replace(self, channel: str, ts: str, payload: dict[str, Any]) -> bool:
        message = self.find(channel, ts)
        if message is None:
            return False
        message.text = str(payload.get("text") or "")
        message.blocks = _json(payload.get("blocks")) or []
        message.edited = True
        self.changed()
        return True

    def _delete(self, channel: str, ts: str) -> None:
        self.messages[channel] = [m for m in self.messages.get(channel, []) if m.ts != ts]
        self.changed()

    # ------------------------------------------------------------------ what the bot did

    def on_answer(self, call: SlackCall, answer: dict[str, Any]) -> None:
        """A Web API call the fake Slack accepted."""
        p = call.payload
        match call.method:
            case "chat.postMessage":
                self.post(
                    Message(
                        str(answer["ts"]),
                        str(answer["channel"]),
                        BOT,
                        str(p.get("text") or ""),
                        _json(p.get("blocks")) or [],
                    )
                )
            case "chat.update":
                self._replace(str(answer["channel"]), str(p.get("ts")), p)
            case "chat.postEphemeral":
                self.post(
                    Message(
                        self._ts(),
                        str(p.get("channel")),
                        BOT,
                        str(p.get("text") or ""),
                        _json(p.get("blocks")) or [],
                        only_for=str(p.get("user")),
                    )
                )
            case "views.open" | "views.push":
                user = self.triggers.get(str(p.get("trigger_id")))
                if user is not None:
                    view = {**(_json(p.get("view")) or {}), "id": answer["view"]["id"]}
                    stack = self.modals.setdefault(user, [])
                    if call.method == "views.open":
                        stack.clear()
                    stack.append(view)
                    self.changed()
            case "views.update":
                self._update_view(p, answer)
            case "views.publish":
                view = {**(_json(p.get("view")) or {}), "id": answer["view"]["id"]}
                self.homes[str(p.get("user_id"))] = view
                self.changed()

    def _update_view(self, p: dict[str, Any], answer: dict[str, Any]) -> None:
        view = _json(p.get("view")) or {}
        wanted_id, external = p.get("view_id"), p.get("external_id")
        for stack in self.modals.values():
            for i, shown in enumerate(stack):
                if (wanted_id and shown["id"] == wanted_id) or (
                    external and shown.get("external_id") == external
                ):
                    stack[i] = {**view, "id": shown["id"]}
                    self.changed()
                    return

    def on_call(self, call: SlackCall) -> None:
        """A POST to a response_url the page handed out."""
        if call.method != "response_url":
            return
        p = call.payload
        origin = self.origins.get(str(p.get("_response_url")))
        if origin is None:
            return
        if origin.ts and p.get("delete_original"):
            self._delete(origin.channel, origin.ts)
            return
        if origin.ts and p.get("replace_original") and self._replace(origin.channel, origin.ts, p):
            return
        self.reply(origin, p)

    def reply(self, origin: Origin, payload: dict[str, Any]) -> None:
        """An answer to a person's request: ephemeral unless it says in_channel."""
        if not payload or not (payload.get("text") or payload.get("blocks")):
            return
        public = payload.get("response_type") == "in_channel"
        self.post(
            Message(
                self._ts(),
                origin.channel,
                BOT,
                str(payload.get("text") or ""),
                _json(payload.get("blocks")) or [],
                only_for=None if public else origin.user,
            )
        )

    # ------------------------------------------------------------------ modals

    def top_modal(self, user: str) -> dict[str, Any] | None:
        stack = self.modals.get(user) or []
        return stack[-1] if stack else None

    def close_modal(self, user: str, *, all_of_them: bool = False) -> None:
        stack = self.modals.get(user) or []
        if stack:
            if all_of_them:
                stack.clear()
            else:
                stack.pop()
            self.changed()

    def after_submit(self, user: str, answer: dict[str, Any]) -> dict[str, str]:
        """Apply a view_submission's ack; the field errors to show, if any."""
        action = answer.get("response_action")
        stack = self.modals.get(user) or []
        if action == "errors":
            return {str(k): str(v) for k, v in (answer.get("errors") or {}).items()}
        if action == "update" and stack:
            stack[-1] = {**answer["view"], "id": stack[-1]["id"]}
        elif action == "push":
            stack.append({**answer["view"], "id": f"VP{next(self._ids):07d}"})
        elif action == "clear":
            stack.clear()
        elif stack:
            stack.pop()
        self.changed()
        return {}

    # ------------------------------------------------------------------ reading

    def snapshot(self, user: str) -> dict[str, Any]:
        visible = {
            channel: [m.show() for m in messages if m.only_for in (None, user)]
            for channel, messages in self.messages.items()
        }
        return {
            "version": self.version,
            "channels": [{"id": c.id, "name": c.name, "purpose": c.purpose} for c in CHANNELS],
            "dm": dm_of(user),
            "people": [{"id": p.id, "name": p.name} for p in PEOPLE],
            "messages": visible,
            "modals": self.modals.get(user) or [],
            "home": self.homes.get(user),
        }
