"""The Bolt app, built from one Deps."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest

from bot.deps import Deps
from bot.runtime.logs import REQUEST_ID
from bot.runtime.metrics import count_request
from bot.store import StoreError
from handlers import register_all

log = logging.getLogger("voicebot.app")

# Command text is parsed before the ack, so its length is bounded: 4,000 characters is far past
# any real /c2c, /followup or /voicehealth (two numbers, a name, a date range); /blacklist takes
# lists, 1,000 numbers at once even written as "+91 98765 43210, ". /obd takes long lists and
# checks them after the ack, so only the 1 MB body cap applies to it.
TEXT_LIMITS = {"/c2c": 4000, "/followup": 4000, "/voicehealth": 4000, "/blacklist": 20_000}
HINTS = {"/blacklist": " Add the numbers in parts of up to 1,000."}
FAILED_HEADER = "x-voicebot-outcome"  # set on answers to requests that failed inside the bot


def too_long(command: str, length: int, limit: int) -> str:
    return (
        f"I could not read that: it is {length:,} characters, and `{command}` takes at most"
        f" {limit:,}. Nothing was done.{HINTS.get(command, '')}"
    )


def problem_for(error: Exception, request_id: str | None) -> str:
    """What a user is told when a listener failed: why, if the bot knows; else a reference."""
    if isinstance(error, StoreError):
        return str(error)
    if isinstance(error, sqlite3.Error):
        return (
            "The bot's database could not be used just now, so nothing was saved."
            " Try again in a minute; if it keeps happening, tell an admin."
        )
    reference = f" (reference {request_id})" if request_id else ""
    return (
        f"Something went wrong inside the bot{reference}. It may not have been done:"
        " check before trying again, and tell an admin if it keeps happening."
    )


def _first_input_block(view: Any) -> str | None:
    if not isinstance(view, dict):
        return None
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return None


def error_handler(deps: Deps) -> Callable[..., Awaitable[BoltResponse | None]]:
    async def on_error(
        error: Exception, body: dict, request: AsyncBoltRequest
    ) -> BoltResponse | None:
        # Logged for operators with the traceback (the log filter masks numbers and removes
        # secrets from it); Slack gets no stack trace, the user a sentence.
        name = body.get("type") or body.get("command")
        log.error("unhandled error in %s: %r", name, error, exc_info=error)
        problem = problem_for(error, REQUEST_ID.get())
        payload = deps.replies.error(problem)
        headers = {"content-type": "application/json;charset=utf-8", FAILED_HEADER: "failed"}
        if body.get("command"):  # the ack itself carries the answer
            return BoltResponse(status=200, body=json.dumps(payload), headers=headers)
        if body.get("type") == "view_submission":
            block = _first_input_block(body.get("view"))
            if block:  # the form stays open, with the problem under its first field
                errors = {"response_action": "errors", "errors": {block: problem[:150]}}
                return BoltResponse(status=200, body=json.dumps(errors), headers=headers)
        respond = request.context.respond
        user = (body.get("user") or {}).get("id") if isinstance(body.get("user"), dict) else None
        if respond is not None:
            deps.background.spawn(_reply(respond, payload), name="error-reply")
        elif user:
            deps.background.spawn(deps.notify.dm(user, payload), name="error-reply")
        return BoltResponse(status=200, body="", headers=headers)

    return on_error


async def _reply(respond: Any, payload: dict[str, Any]) -> None:
    try:
        await respond(**payload, replace_original=False, response_type="ephemeral")
    except Exception as exc:  # an expired response_url: the log line above is what is left
        log.warning("error reply failed: %s", type(exc).__name__)


def text_cap(deps: Deps) -> Callable[..., Awaitable[BoltResponse | None]]:
    async def cap_command_text(body: dict, next: Callable[[], Awaitable[None]]) -> Any:
        command = body.get("command")
        limit = TEXT_LIMITS.get(command) if isinstance(command, str) else None
        text = body.get("text")
        if limit is not None and isinstance(text, str) and len(text) > limit:
            payload = deps.replies.error(too_long(command, len(text), limit))
            return BoltResponse(
                status=200,
                body=json.dumps(payload),
                headers={"content-type": "application/json;charset=utf-8"},
            )
        return await next()

    return cap_command_text


class VoicebotApp(AsyncApp):
    """Bolt's AsyncApp, counting each request it handles, over HTTP and Socket Mode alike."""

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        response = await super().async_dispatch(req)
        failed = FAILED_HEADER in response.headers
        count_request(req.body, response.status, response.body, failed=failed)
        if failed:
            response.headers.pop(FAILED_HEADER, None)
        return response


def build_app(deps: Deps) -> AsyncApp:
    settings = deps.settings
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    app = VoicebotApp(
        client=deps.slack,
        signing_secret=signing_secret,
        # Not verified twice: over HTTP, bot/server.py checks the signature over the raw bytes
        # before Bolt sees the body (and 401s what fails); Socket Mode frames are authenticated
        # by the app token, not signed.
        request_verification_enabled=False,
        # Listeners ack at once and hand slow work to deps.background, so waiting for them
        # to return is cheap and saves Bolt's ack-polling loop.
        process_before_response=True,
        logger=logging.getLogger("voicebot.bolt"),
    )
    app.error(error_handler(deps))
    app.middleware(text_cap(deps))
    register_all(app, deps)
    return app
