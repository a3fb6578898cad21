"""The Bolt app, built from one Deps."""

from __future__ import annotations

import logging

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest

from bot.deps import Deps
from bot.runtime.metrics import count_request
from handlers import register_all

log = logging.getLogger("voicebot.app")


async def on_error(error: Exception, body: dict) -> None:
    # Logged for operators; Slack gets no stack trace (handlers answer users themselves).
    log.error("unhandled error in %s: %r", body.get("type") or body.get("command"), error)


class VoicebotApp(AsyncApp):
    """Bolt's AsyncApp, counting each request it handles, over HTTP and Socket Mode alike."""

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        response = await super().async_dispatch(req)
        count_request(req.body, response.status, response.body)
        return response


def build_app(deps: Deps) -> AsyncApp:
    settings = deps.settings
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    app = VoicebotApp(
        client=deps.slack,
        signing_secret=signing_secret,
        # Socket Mode frames are authenticated by the app token, not signed.
        request_verification_enabled=not settings.socket_mode,
        # Listeners ack at once and hand slow work to deps.background, so waiting for them
        # to return is cheap and saves Bolt's ack-polling loop.
        process_before_response=True,
        logger=logging.getLogger("voicebot.bolt"),
    )
    app.error(on_error)
    register_all(app, deps)
    return app
