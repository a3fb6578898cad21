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

_TOKENS = re.compile(r"\b(xox[abpre]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_TRACEBACKS = logging.Formatter()  # renders exc_info the standard way, before it is cleaned

# Control characters from Kaleyra or user text would let one log line pose as several, or
# drive the terminal (ANSI escapes); in console logs they are written as escapes.
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if c != 0x09}
_CONTROLS |= {0x0A: "\\n", 0x0D: "\\r", 0x85: "\\x85", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def one_line(text: str) -> str:
    """The text on one line: new lines and other control characters escaped."""
    return text.translate(_CONTROLS)


class PrivacyFilter(logging.Filter):
    """Mask numbers and strip Slack tokens and known secrets from every record, any logger:
    the message, and the traceback and stack that come with it."""

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
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set, so the cleaned text is all they see.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        # Asyncio tasks copy the context, so work that follows an ack keeps its request id.
        if REQUEST_ID.get() is not None:
            record.request_id = REQUEST_ID.get()
        if CALL_ID.get() is not None:
            record.call_id = CALL_ID.get()
        return True


class ConsoleFormatter(logging.Formatter):
    """`time level logger: message`, one line per record; a traceback follows indented, so no
    text from outside can start a line that looks like a record of its own."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for extra in (record.exc_text, record.stack_info):
            if extra:
                text += "".join(f"\n    | {one_line(line)}" for line in extra.splitlines())
        return text


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
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = mask_text(_TOKENS.sub("[token]", record.exc_text))
        if record.stack_info:
            payload["stack"] = mask_text(_TOKENS.sub("[token]", record.stack_info))
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
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
