"""Logging: console or one JSON object a line; phone numbers masked and secrets removed."""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar

from bot.phones import mask_text
from bot.settings import Settings

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
CALL_ID: ContextVar[int | None] = ContextVar("call_id", default=None)

_TOKENS = re.compile(r"\b(xox[abpr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")


class PrivacyFilter(logging.Filter):
    """Mask numbers and strip Slack tokens and known secrets from every record, any logger."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[secret]")
        return mask_text(_TOKENS.sub("[token]", text))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.clean(record.getMessage())
        record.args = ()
        # Asyncio tasks copy the context, so work that follows an ack keeps its request id.
        if REQUEST_ID.get() is not None:
            record.request_id = REQUEST_ID.get()
        if CALL_ID.get() is not None:
            record.call_id = CALL_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("kaleyra_operation", "latency_ms", "request_id", "call_id"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exception"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(payload)


def configure_logging(settings: Settings) -> None:
    secrets = [
        s.get_secret_value()
        for s in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            settings.kaleyra_api_key,
        )
        if s is not None
    ]
    handler = logging.StreamHandler()
    handler.addFilter(PrivacyFilter(secrets))
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
