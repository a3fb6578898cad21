"""A recording stand-in for Slack's Web API and a driver that sends Slack-signed requests.

The console uses it to run the real Bolt app with no Slack account; the tests use it to see
every Web API call the app makes. Nothing here talks to Slack.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.local.blockkit import check_message, check_view
from bot.local.ratelimits import RateLimits

TEAM_ID, BOT_USER_ID, APP_ID = "T0VOICE", "U0VOICEBOT", "A0VOICE"
MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
VIEW_METHODS = frozenset({"views.open", "views.update", "views.push", "views.publish"})


@dataclass
class SlackCall:
    method: str  # Web API method, or "response_url"
    payload: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    """Answers the Web API methods voicebot uses, records each call, injects faults on demand."""

    def __init__(self) -> None:
        self.calls: list[SlackCall] = []
        self.lock = threading.Lock()
        self.listeners: list[Callable[[SlackCall], None]] = []
        # Called with each call Slack accepted and its answer (the ts or view id it handed out).
        self.answered: list[Callable[[SlackCall, dict[str, Any]], None]] = []
        self._ts = itertools.count(1)
        self._views = itertools.count(1)
        self._failures: dict[str, list[tuple[str, int, float | None]]] = {}
        self.user_tz: dict[str, str] = {}
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self.api, methods=["POST", "GET"]),
                Route("/response/{ident}", self.response_url, methods=["POST"]),
                WebSocketRoute("/socket", self.socket),
                Route("/files/{file_id}", self.file, methods=["GET"]),
                Route("/upload/{file_id}", self.receive_upload, methods=["POST"]),
            ]
        )
        self.sockets: list[WebSocket] = []
        self.files: dict[str, bytes] = {}
        self.uploaded: dict[str, bytes] = {}  # files the app uploaded (files_upload_v2)
        self.invalid: list[tuple[str, list[str]]] = []  # payloads Slack would refuse
        self.strict = False  # True: answer invalid_blocks, as Slack does
        self.rate_limits: RateLimits | None = None  # set: 429 past each method's published tier
        self.peers: set[tuple[str, int]] = set()  # the app's connections (keep-alive: a few)
        self.base_url = ""  # set by whoever serves this app (tests, console)
        self.socket_connected = threading.Event()
        self.socket_replies: dict[str, threading.Event] = {}
        # What the app posted, per channel, as conversations.history answers it (newest first).
        self.messages: dict[str, list[dict[str, Any]]] = {}
        # For `voicebot doctor`'s tests: the scopes a token has (sent as Slack sends them, in
        # the x-oauth-scopes header) and the channels the bot was not invited to.
        self.oauth_scopes: list[str] | None = None
        self.not_member: set[str] = set()

    def fail(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        status: int = 200,
        retry_after: float | None = None,
    ) -> None:
        """The next `times` calls of `method` answer `error` (or HTTP 429 with Retry-After)."""
        with self.lock:
            self._failures.setdefault(method, []).extend([(error, status, retry_after)] * times)

    def _record(self, call: SlackCall) -> None:
        with self.lock:
            self.calls.append(call)
        for listener in list(self.listeners):
            listener(call)

    def of(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c.payload for c in self.calls if c.method == method]

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()

    async def api(self, request: Request) -> Response:
        method = request.path_params["method"]
        self.socket_url = f"ws://{request.url.hostname}:{request.url.port}/socket"
        payload = await _payload(request)
        if request.client is not None:
            self.peers.add((request.client.host, request.client.port))
        if request.headers.get("authorization"):
            payload.setdefault("_token_seen", True)
        call = SlackCall(method, payload)
        self._record(call)
        problems = self.check(method, payload)
        if problems and self.strict:
            return JSONResponse({"ok": False, "error": "invalid_blocks", "errors": problems})
        with self.lock:
            queued = self._failures.get(method)
            failure = queued.pop(0) if queued else None
        if failure is None and self.rate_limits is not None:
            wait = self.rate_limits.retry_after(method, payload)
            failure = ("ratelimited", 429, wait) if wait is not None else None
        if failure:
            error, status, retry_after = failure
            headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
            return JSONResponse({"ok": False, "error": error}, status_code=status, headers=headers)
        headers = {"x-oauth-scopes": ",".join(self.oauth_scopes)} if self.oauth_scopes else {}
        answer = self._answer(method, payload)
        for listener in list(self.answered):
            listener(call, answer)
        return JSONResponse(answer, headers=headers)

    def check(self, method: str, payload: dict[str, Any]) -> list[str]:
        """Block Kit's limits, as Slack applies them; what breaks them is kept in `invalid`."""
        if method in MESSAGE_METHODS:
            problems = check_message(payload)
        elif method in VIEW_METHODS:
            view = payload.get("view")
            view = json.loads(view) if isinstance(view, str) else view or {}
            problems = check_view(view)
        else:
            return []
        if problems:
            with self.lock:
                self.invalid.append((method, problems))
        return problems

    def _answer(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        ts = f"{1700000000 + next(self._ts)}.000100"
        channel = p.get("channel", "")
        if channel.startswith(("U", "W")):
            channel = "D" + channel[1:]  # posting to a user id lands in their DM
        match method:
            case "apps.connections.open":
                return {"ok": True, "url": self.socket_url}
            case "auth.test":
                return {
                    "ok": True,
                    "url": "https://voicebot.example/",
                    "team": "Voice",
                    "team_id": TEAM_ID,
                    "user": "voicebot",
                    "user_id": BOT_USER_ID,
                    "bot_id": "B0VOICE",
                }
            case "conversations.history":
                # Every message the app posted there, newest first (the fake's ts are not the
                # app's clock, so `oldest` and `latest` are not applied).
                with self.lock:
                    posted = list(reversed(self.messages.get(channel, [])))
                limit = int(p.get("limit") or 100)
                if str(p.get("include_all_metadata")).lower() not in {"true", "1"}:
                    posted = [{k: v for k, v in m.items() if k != "metadata"} for m in posted]
                return {"ok": True, "messages": posted[:limit], "has_more": len(posted) > limit}
            case "chat.postMessage":
                message = {"type": "message", "ts": ts, "text": p.get("text")}
                metadata = p.get("metadata")
                if isinstance(metadata, str):
                    metadata = json.loads(metadata)
                if metadata:
                    message["metadata"] = metadata
                with self.lock:
                    self.messages.setdefault(channel, []).append(message)
                return {
                    "ok": True,
                    "channel": channel,
                    "ts": ts,
                    "message": {"text": p.get("text")},
                }
            case "chat.update":
                return {
                    "ok": True,
                    "channel": channel,
                    "ts": p.get("ts", ts),
                    "message": {"text": p.get("text")},
                }
            case "chat.postEphemeral":
                return {"ok": True, "message_ts": ts}
            case "views.open" | "views.update" | "views.push" | "views.publish":
                view = p.get("view") or {}
                return {"ok": True, "view": {**view, "id": f"V{next(self._views):08d}"}}
            case "conversations.info":
                member = channel not in self.not_member
                return {"ok": True, "channel": {"id": channel, "is_member": member}}
            case "conversations.open":
                users = str(p.get("users", ""))
                return {"ok": True, "channel": {"id": "D" + users.split(",")[0][1:]}}
            case "files.getUploadURLExternal":
                file_id = f"F{next(self._views):08d}"
                return {
                    "ok": True,
                    "file_id": file_id,
                    "upload_url": f"{self.base_url}/upload/{file_id}",
                }
            case "files.completeUploadExternal":
                files = p.get("files")
                files = json.loads(files) if isinstance(files, str) else files or []
                return {
                    "ok": True,
                    "files": [{"id": f.get("id"), "title": f.get("title")} for f in files],
                }
            case "users.info":
                user = str(p.get("user", ""))
                tz = self.user_tz.get(user, "Asia/Kolkata")
                return {"ok": True, "user": {"id": user, "name": user.lower(), "tz": tz}}
            case _:
                return {"ok": True}

    async def socket(self, websocket: WebSocket) -> None:
        """Socket Mode: say hello, then record every envelope ack the app sends back."""
        await websocket.accept()
        await websocket.send_json(
            {"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}}
        )
        self.sockets.append(websocket)
        self.socket_connected.set()
        try:
            while True:
                message = await websocket.receive_json()
                self._record(SlackCall("socket_ack", message))
                event = self.socket_replies.get(str(message.get("envelope_id")))
                if event:
                    event.set()
        except WebSocketDisconnect:
            self.sockets.remove(websocket)

    async def push(self, envelope: dict[str, Any], to: int = -1) -> None:
        """Deliver an envelope to one connected app (the newest, or the `to`-th connection), as
        Slack does in Socket Mode: each envelope to one of the app's connections."""
        self.socket_replies.setdefault(str(envelope["envelope_id"]), threading.Event())
        await self.sockets[to].send_json(envelope)

    def upload(self, file_id: str, content: bytes, name: str = "numbers.csv") -> dict[str, Any]:
        """Put a file where a form's file_input would have it; returns the payload's file object."""
        self.files[file_id] = content
        return {
            "id": file_id,
            "name": name,
            "url_private_download": f"{self.base_url}/files/{file_id}",
        }

    async def file(self, request: Request) -> Response:
        self._record(
            SlackCall(
                "file_download",
                {
                    "id": request.path_params["file_id"],
                    "auth": request.headers.get("authorization", ""),
                },
            )
        )
        if not request.headers.get("authorization", "").startswith("Bearer xoxb-"):
            return PlainTextResponse("not authorised", status_code=403)
        content = self.files.get(request.path_params["file_id"])
        if content is None:
            return PlainTextResponse("no such file", status_code=404)
        return Response(content, media_type="text/csv")

    async def receive_upload(self, request: Request) -> Response:
        """Step 2 of files_upload_v2: the file's bytes, kept as `uploaded[file_id]`."""
        file_id = request.path_params["file_id"]
        self.uploaded[file_id] = await request.body()
        self._record(
            SlackCall("file_upload", {"id": file_id, "bytes": len(self.uploaded[file_id])})
        )
        return PlainTextResponse("OK - " + str(len(self.uploaded[file_id])))

    def uploaded_file(self, title_or_id: str) -> bytes | None:
        """The content of an uploaded file, by its id or by the title given at completion."""
        if title_or_id in self.uploaded:
            return self.uploaded[title_or_id]
        for payload in self.of("files.completeUploadExternal"):
            files = payload.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            for f in files:
                if f.get("title") == title_or_id:
                    return self.uploaded.get(f.get("id"))
        return None

    async def response_url(self, request: Request) -> Response:
        payload = await _payload(request)
        payload["_response_url"] = request.path_params["ident"]
        self._record(SlackCall("response_url", payload))
        if payload.get("delete_original") is not True:
            self.check("response_url", payload)
        return PlainTextResponse("ok")


async def _payload(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        return json.loads(raw)
    payload: dict[str, Any] = {}
    for key, value in parse_qsl(raw.decode(), keep_blank_values=True):
        if value[:1] in "[{":
            try:
                payload[key] = json.loads(value)
                continue
            except json.JSONDecodeError:
                pass
        payload[key] = value
    return payload


class SlackDriver:
    """Builds requests the way Slack sends them, signed with the app's signing secret."""

    def __init__(self, app_url: str, signing_secret: str, slack_url: str) -> None:
        self.app_url = app_url.rstrip("/")
        self.slack_url = slack_url.rstrip("/")
        self.verifier = SignatureVerifier(signing_secret)
        self.http = httpx.Client(timeout=30)
        self._ids = itertools.count(1)
        # Slack's trigger and event ids are unique: a driver over a database an earlier driver
        # used (a restart) must not repeat them, or the bot rightly takes them for retries.
        self._run = os.urandom(4).hex()

    def signed_headers(
        self, body: str, content_type: str, timestamp: int | None = None
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "content-type": content_type,
            "x-slack-request-timestamp": ts,
            "x-slack-signature": self.verifier.generate_signature(timestamp=ts, body=body),
        }

    def post(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
    ) -> httpx.Response:
        all_headers = {**self.signed_headers(body, content_type, timestamp), **(headers or {})}
        return self.http.post(f"{self.app_url}/slack/events", content=body, headers=all_headers)

    def command_body(
        self, command: str, text: str = "", *, user_id: str = "U0AGENT", channel_id: str = "C0SALES"
    ) -> str:
        n = next(self._ids)
        return urlencode(
            {
                "token": "legacy-unused",
                "team_id": TEAM_ID,
                "team_domain": "voice",
                "channel_id": channel_id,
                "channel_name": "sales",
                "user_id": user_id,
                "user_name": user_id.lower(),
                "command": command,
                "text": text,
                "api_app_id": APP_ID,
                "response_url": f"{self.slack_url}/response/cmd-{n}",
                "trigger_id": f"{n}.{self._run}.trigger",
            }
        )

    def command(self, command: str, text: str = "", **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", None)
        timestamp = kw.pop("timestamp", None)
        return self.post(
            self.command_body(command, text, **kw),
            "application/x-www-form-urlencoded",
            headers=headers,
            timestamp=timestamp,
        )

    def interactive(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded")

    def view_submission(
        self, view: dict[str, Any], values: dict[str, dict[str, Any]], *, user_id: str = "U0AGENT"
    ) -> httpx.Response:
        submitted = {**view, "id": view.get("id", "V0"), "state": {"values": values}}
        return self.interactive(
            {
                "type": "view_submission",
                "team": {"id": TEAM_ID},
                "user": {"id": user_id},
                "api_app_id": APP_ID,
                "trigger_id": f"{next(self._ids)}.{self._run}.trigger",
                "view": submitted,
            }
        )

    def block_action(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str = "U0AGENT",
        block_id: str = "b",
        action_ts: str | None = None,
    ) -> httpx.Response:
        n = next(self._ids)
        return self.interactive(
            {
                "type": "block_actions",
                "team": {"id": TEAM_ID},
                "user": {"id": user_id},
                "api_app_id": APP_ID,
                "trigger_id": f"{n}.{self._run}.trigger",
                "response_url": f"{self.slack_url}/response/act-{n}",
                "container": {"type": "message"},
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": block_id,
                        "value": value,
                        "type": "button",
                        "action_ts": action_ts or f"{time.time():.6f}",
                    }
                ],
            }
        )

    def message_shortcut(
        self, callback_id: str, text: str, *, user_id: str = "U0AGENT"
    ) -> httpx.Response:
        n = next(self._ids)
        return self.interactive(
            {
                "type": "message_action",
                "callback_id": callback_id,
                "team": {"id": TEAM_ID},
                "user": {"id": user_id},
                "channel": {"id": "C0SALES"},
                "api_app_id": APP_ID,
                "trigger_id": f"{n}.{self._run}.trigger",
                "response_url": f"{self.slack_url}/response/sc-{n}",
                "message_ts": "1700000000.000001",
                "message": {"type": "message", "text": text, "ts": "1700000000.000001"},
            }
        )

    def event(
        self, event: dict[str, Any], *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body = json.dumps(
            {
                "token": "x",
                "team_id": TEAM_ID,
                "api_app_id": APP_ID,
                "type": "event_callback",
                "event_id": f"Ev{self._run}{next(self._ids):08d}",
                "event_time": int(time.time()),
                "event": event,
            }
        )
        return self.post(body, "application/json", headers=headers)

    def close(self) -> None:
        self.http.close()
