"""`voicebot local` (what `make run` starts without Slack credentials): a page at
http://127.0.0.1:$PORT/ that stands in for Slack in the browser.

The page reaches the bot as Slack does: each command, click and form is a Slack-signed request
to the real Bolt app's /slack/events, and the bot's Web API calls land in the same fake Slack the
tests use, mounted on this server. What the fake Slack accepted is kept in a Workspace; the page
reads it as JSON and hears of changes by Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route

from bot.deps import Deps, Tuning, build_deps
from bot.local.directory import ADMIN, CALLS, OPS, PEOPLE, escape_like_slack, manifest_commands
from bot.local.fakeslack import APP_ID, TEAM_ID, FakeSlack
from bot.local.page.workspace import Origin, Workspace
from bot.phones import InvalidNumber, parse_phone
from bot.server import create_asgi
from bot.settings import Settings

HERE = Path(__file__).parent
FAKE = "/fakeslack"  # where the fake Web API is mounted on this server
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
INCIDENT_REGIONS = {
    "KA-IN": "Karnataka",
    "MH-IN": "Maharashtra",
    "ND-IN": "New Delhi",
    "TN-IN": "Tamil Nadu",
}
INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>voicebot · local Slack</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/local/static/style.css">
</head><body><div id="app">Loading…</div>
<script src="/local/static/app.js"></script></body></html>
"""


def local_settings(settings: Settings, port: int, secret: str, data_dir: Path) -> Settings:
    base = f"http://127.0.0.1:{port}"
    return settings.model_copy(
        update={
            "port": port,
            "slack_bot_token": SecretStr("xoxb-local-slack"),
            "slack_signing_secret": SecretStr(secret),
            "slack_app_token": None,
            "slack_api_url": f"{base}{FAKE}/api/",
            # Make-believe calls on a database of their own, fresh each run, as the sandbox is:
            # no id the sandbox hands out can meet a row from an earlier run.
            "database_path": str(data_dir / "local-voicebot.db"),
            "admin_user_ids": settings.admin_user_ids or ADMIN,
            "public_url": None,
            "calls_channel": settings.calls_channel or CALLS,
            "health_digest_channel": settings.health_digest_channel or OPS,
        }
    )


class LocalSlack:
    """The app, the fake Slack and the page's routes on one Starlette app (`asgi`)."""

    def __init__(self, settings: Settings, port: int, *, tuning: Tuning | None = None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._data = tempfile.TemporaryDirectory(prefix="voicebot-local-")
        secret = secrets.token_hex(16)
        self.settings = local_settings(settings, port, secret, Path(self._data.name))
        self.fake = FakeSlack()
        self.fake.base_url = self.base + FAKE
        self.workspace = Workspace()
        self.fake.answered.append(self.workspace.on_answer)
        self.fake.listeners.append(self.workspace.on_call)
        self.deps: Deps = build_deps(
            self.settings,
            tuning=tuning
            or Tuning(poll_seconds=1.0, auto_track=not self.settings.scheduler_enabled),
        )
        self.verifier = SignatureVerifier(secret)
        self.asgi = create_asgi(self.deps)
        self.asgi.router.routes[0:0] = self.routes()
        self.sandbox_notices: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the server's, once it answers
        if self.deps.sandbox is not None:  # what a phone would have said (verification codes)
            self.deps.sandbox.state.listeners.append(self._notice)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/favicon.ico", lambda _r: Response(status_code=204), methods=["GET"]),
            Route("/local/static/{name}", self.static, methods=["GET"]),
            Route("/local/state", self.state, methods=["GET"]),
            Route("/local/events", self.events, methods=["GET"]),
            Route("/local/command", self.command, methods=["POST"]),
            Route("/local/say", self.say, methods=["POST"]),
            Route("/local/action", self.action, methods=["POST"]),
            Route("/local/submit", self.submit, methods=["POST"]),
            Route("/local/close", self.close_modal, methods=["POST"]),
            Route("/local/shortcut", self.shortcut, methods=["POST"]),
            Route("/local/upload", self.upload, methods=["POST"]),
            Route("/local/home", self.home, methods=["POST"]),
            Route("/local/sandbox/incoming", self.incoming, methods=["POST"]),
            Route("/local/sandbox/incident", self.incident, methods=["POST"]),
            Mount(FAKE, app=self.fake.app),
        ]

    def _notice(self, text: str) -> None:
        self.sandbox_notices.append(text)
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self.workspace.changed)

    # ------------------------------------------------------------------ to the bot, as Slack

    async def _send(self, body: str, content_type: str) -> httpx.Response:
        self._loop = asyncio.get_running_loop()
        ts = str(int(time.time()))
        headers = {
            "content-type": content_type,
            "x-slack-request-timestamp": ts,
            "x-slack-signature": self.verifier.generate_signature(timestamp=ts, body=body),
        }
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(f"{self.base}/slack/events", content=body, headers=headers)

    async def _interactive(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = await self._send(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )
        return response.json() if response.content else {}

    def _response_url(self, origin: Origin) -> str:
        return f"{self.fake.base_url}/response/{self.workspace.response_ident(origin)}"

    def _person(self, user: str) -> dict[str, str]:
        name = next((p.name for p in PEOPLE if p.id == user), user.lower())
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    # ------------------------------------------------------------------ page routes

    async def index(self, _request: Request) -> Response:
        return HTMLResponse(INDEX)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", status_code=404)
        return FileResponse(HERE / name, media_type=STATIC[name])

    async def state(self, request: Request) -> Response:
        self._loop = asyncio.get_running_loop()
        user = request.query_params.get("user") or ADMIN
        tz = request.query_params.get("tz")
        if tz:  # users.info answers with the reader's zone, as Slack's profile would
            self.fake.user_tz[user] = tz
        snapshot = self.workspace.snapshot(user)
        snapshot.update(
            me=user,
            admins=[p.id for p in PEOPLE if await self.deps.agents.is_admin(p.id)],
            commands=[asdict(c) for c in manifest_commands()],
            sandbox=self.deps.sandbox is not None,
            notices=self.sandbox_notices[-20:],
            regions=INCIDENT_REGIONS,
        )
        return JSONResponse(snapshot)

    async def events(self, request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            version = -1
            while not await request.is_disconnected():
                version = await self.workspace.wait(version, timeout=10)
                yield f"data: {version}\n\n"

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"cache-control": "no-store"}
        )

    async def command(self, request: Request) -> Response:
        data = await request.json()
        user, channel = str(data["user"]), str(data["channel"])
        command, _, text = str(data["text"]).strip().partition(" ")
        origin = Origin(user, channel)
        known = [c.command for c in manifest_commands()]
        if known and command not in known:  # Slack answers these itself; the app never hears
            guess = difflib.get_close_matches(command, known, n=1)
            also = f" Did you mean `{guess[0]}`?" if guess else f" Try one of {', '.join(known)}."
            self.workspace.reply(origin, {"text": f"`{command}` is not a valid command.{also}"})
            return JSONResponse({"ok": True})
        body = urlencode(
            {
                "token": "unused",
                "team_id": TEAM_ID,
                "team_domain": "local",
                "channel_id": channel,
                "channel_name": channel.lower(),
                "user_id": user,
                "user_name": self._person(user)["name"],
                "command": command,
                "text": escape_like_slack(text.strip()),
                "api_app_id": APP_ID,
                "response_url": self._response_url(origin),
                "trigger_id": self.workspace.trigger(user),
            }
        )
        response = await self._send(body, "application/x-www-form-urlencoded")
        if response.status_code != 200:
            self.workspace.reply(
                origin,
                {"text": f'/{command.lstrip("/")} failed with the error "dispatch_failed"'},
            )
        elif response.content:
            self.workspace.reply(origin, response.json())
        return JSONResponse({"ok": True})

    async def say(self, request: Request) -> Response:
        data = await request.json()
        self.workspace.say(str(data["user"]), str(data["channel"]), str(data["text"]))
        return JSONResponse({"ok": True})

    async def action(self, request: Request) -> Response:
        data = await request.json()
        user, where, action = str(data["user"]), data["where"], data["action"]
        action = {**action, "action_ts": f"{time.time():.6f}"}
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": self._person(user),
            "api_app_id": APP_ID,
            "trigger_id": self.workspace.trigger(user),
            "actions": [action],
        }
        if where["kind"] == "message":
            channel, ts = str(where["channel"]), str(where["ts"])
            message = self.workspace.find(channel, ts)
            ephemeral = message is not None and message.only_for is not None
            payload |= {
                "container": {
                    "type": "message",
                    "message_ts": ts,
                    "channel_id": channel,
                    "is_ephemeral": ephemeral,
                },
                "channel": {"id": channel},
                "response_url": self._response_url(Origin(user, channel, ts)),
                "state": {"values": data.get("values") or {}},
            }
            if message is not None and not ephemeral:
                payload["message"] = message.show() | {"type": "message", "user": "U0VOICEBOT"}
        else:
            view = self._view(user, str(where["view_id"]))
            if view is None:
                return JSONResponse({"ok": False, "error": "that view is gone"}, status_code=404)
            payload |= {
                "container": {"type": "view", "view_id": view["id"]},
                "view": {**view, "state": {"values": data.get("values") or {}}},
            }
        await self._interactive(payload)
        return JSONResponse({"ok": True})

    def _view(self, user: str, view_id: str) -> dict[str, Any] | None:
        home = self.workspace.homes.get(user)
        if home and home["id"] == view_id:
            return home
        return next((v for v in self.workspace.modals.get(user, []) if v["id"] == view_id), None)

    async def submit(self, request: Request) -> Response:
        data = await request.json()
        user = str(data["user"])
        view = self._view(user, str(data["view_id"]))
        if view is None:
            return JSONResponse({"errors": {}, "gone": True})
        answer = await self._interactive(
            {
                "type": "view_submission",
                "team": {"id": TEAM_ID},
                "user": self._person(user),
                "api_app_id": APP_ID,
                "trigger_id": self.workspace.trigger(user),
                "view": {**view, "state": {"values": data.get("values") or {}}},
            }
        )
        return JSONResponse({"errors": self.workspace.after_submit(user, answer)})

    async def close_modal(self, request: Request) -> Response:
        data = await request.json()
        user = str(data["user"])
        view = self._view(user, str(data["view_id"]))
        if view is not None and view.get("notify_on_close"):
            await self._interactive(
                {
                    "type": "view_closed",
                    "team": {"id": TEAM_ID},
                    "user": self._person(user),
                    "api_app_id": APP_ID,
                    "view": view,
                    "is_cleared": False,
                }
            )
        self.workspace.close_modal(user)
        return JSONResponse({"ok": True})

    async def shortcut(self, request: Request) -> Response:
        data = await request.json()
        user, channel, ts = str(data["user"]), str(data["channel"]), str(data["ts"])
        message = self.workspace.find(channel, ts)
        if message is None:
            return JSONResponse({"ok": False}, status_code=404)
        await self._interactive(
            {
                "type": "message_action",
                "callback_id": str(data.get("callback_id") or "call_this_number"),
                "team": {"id": TEAM_ID},
                "user": self._person(user),
                "channel": {"id": channel},
                "api_app_id": APP_ID,
                "trigger_id": self.workspace.trigger(user),
                "response_url": self._response_url(Origin(user, channel)),
                "message_ts": ts,
                "message": {"type": "message", "text": message.text, "ts": ts},
            }
        )
        return JSONResponse({"ok": True})

    async def upload(self, request: Request) -> Response:
        form = await request.form()
        upload = form["file"]
        if isinstance(upload, str):
            return JSONResponse({"error": "no file"}, status_code=400)
        content = await upload.read()
        file_id = f"F{secrets.token_hex(5).upper()}"
        return JSONResponse(self.fake.upload(file_id, content, upload.filename or "numbers.csv"))

    async def home(self, request: Request) -> Response:
        data = await request.json()
        user = str(data["user"])
        body = json.dumps(
            {
                "token": "unused",
                "team_id": TEAM_ID,
                "api_app_id": APP_ID,
                "type": "event_callback",
                "event_id": f"Ev{secrets.token_hex(5).upper()}",
                "event_time": int(time.time()),
                "event": {
                    "type": "app_home_opened",
                    "user": user,
                    "channel": "D" + user[1:],
                    "tab": "home",
                },
            }
        )
        await self._send(body, "application/json")
        return JSONResponse({"ok": True})

    # ------------------------------------------------------------------ sandbox controls

    async def incoming(self, request: Request) -> Response:
        """A call to the team line: the sandbox lists it in `dial`, the feed posts it now."""
        data = await request.json()
        sandbox = self.deps.sandbox
        if sandbox is None:
            return JSONResponse({"error": "only with the sandbox"}, status_code=400)
        region = self.settings.default_region
        try:
            caller = parse_phone(str(data.get("caller") or ""), region)
            agent = parse_phone(str(data.get("agent") or ""), region)
            answered = data.get("outcome") == "answered"
            sandbox.state.add_incoming(
                caller.national,
                agent.national,
                answered=answered,
                billsec=int(data.get("seconds") or 60) if answered else None,
            )
        except (InvalidNumber, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        posted = await self.deps.callfeed.poll()
        return JSONResponse({"ok": True, "posted": posted})

    async def incident(self, request: Request) -> Response:
        """The voice network changes: an incident in a region, or all clear."""
        data = await request.json()
        sandbox = self.deps.sandbox
        if sandbox is None:
            return JSONResponse({"error": "only with the sandbox"}, status_code=400)
        await self.deps.voicehealth.poll()  # the state before the change is the baseline
        kind = str(data.get("type") or "critical")
        code = str(data.get("region") or "KA-IN")
        if kind == "clear":
            sandbox.state.incidents = []
        else:
            sandbox.state.incidents = [
                *[i for i in sandbox.state.incidents if i.get("region_code") != code],
                {
                    "region": INCIDENT_REGIONS.get(code, code),
                    "region_code": code,
                    "type": kind,
                    "service": str(data.get("service") or "outgoing"),
                    "numbers": ["+918047000000"],
                },
            ]
        changes = await self.deps.voicehealth.poll()
        return JSONResponse({"ok": True, "changes": len(changes)})


def serve_local(settings: Settings) -> int:
    import uvicorn

    from bot.runtime.logs import configure_logging

    configure_logging(settings)
    for noisy in ("apscheduler", "httpx"):  # a line a second otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    local = LocalSlack(settings, settings.port)
    print(
        f"voicebot: no Slack credentials, so Slack is local: open {local.base}/ in a browser"
        f" (the Kaleyra {'sandbox' if local.deps.uses_sandbox else 'account you configured'}"
        " answers; Ctrl-C stops).",
        flush=True,
    )
    config = uvicorn.Config(
        local.asgi,
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,  # the page's event stream would hold Ctrl-C for 10 s
    )
    uvicorn.Server(config).run()
    return 0
