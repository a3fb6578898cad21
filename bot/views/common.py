"""Shared Block Kit pieces, escaping, and Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100  # a modal or Home tab
MAX_SECTION_TEXT = 3000
MAX_FALLBACK_TEXT = 4000
MAX_INPUT = 3000  # characters a plain-text input holds
SANDBOX_NOTICE = ":test_tube: Sandbox: no real calls are placed (KALEYRA_API_KEY is not set)."

STATUS_WORDS = {
    "ANSWER": "answered",
    "BUSY": "busy",
    "CANCEL": "cancelled",
    "FAILED": "failed",
    "CONGESTION": "network congestion",
    "NOANSWER": "no answer",
    "CHANUNAVAIL": "unreachable (switched off or out of coverage)",
    "DND": "blocked by Do-Not-Disturb",
    "BLOCKED": "blacklisted",
    "MAX-USE": "daily call limit reached",
    "OFF-HOUR": "outside allowed calling hours",
    "NOTALLOWED": "not allowed for this account",
    "COMPLETED": "completed",
    "SENT": "sent",
    "SCHEDULED": "scheduled",
}


def status_words(status: str | None) -> str:
    if not status:
        return "waiting"
    return STATUS_WORDS.get(status.upper(), status.lower())


def slack_date(moment: datetime | str, fmt: str = "{date_short_pretty} {time}") -> str:
    """A time each reader sees in their own Slack time zone (Slack's date token), with a
    labelled UTC fallback for clients that cannot render it. Naive times are UTC."""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    utc = when.astimezone(UTC)
    return f"<!date^{int(utc.timestamp())}^{fmt}|{utc:%Y-%m-%d %H:%M} UTC>"


def local_time(text: str, tz: Any) -> str:
    """A time Kaleyra wrote in the account's zone ("2026-11-23 10:40:12") as a date token;
    text that is not such a time is shown as it is, escaped."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return slack_date(datetime.strptime(text.strip(), fmt).replace(tzinfo=tz))
        except ValueError:
            continue
    return escape(text)


def plural(n: int, noun: str, many: str | None = None) -> str:
    """The noun for `n` of it: 1 number, 2 numbers (`many` for irregular plurals)."""
    return noun if n == 1 else many or noun + "s"


def escape(text: object) -> str:
    """Slack's three control characters; `<!channel>` and `<@U1>` then render as text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = MAX_SECTION_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}, **extra}


def sections(lines: list[str], limit: int = MAX_SECTION_TEXT) -> list[dict[str, Any]]:
    """Lines as sections of at most `limit` characters each: a long list is split, not cut.

    A single line longer than a section is clipped; `message` keeps the result within 50 blocks.
    """
    texts: list[str] = []
    for line in lines:
        line = clip(line, limit)
        if texts and len(texts[-1]) + len(line) + 1 <= limit:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return [section(text) for text in texts]


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, 150)}}


def button(text: str, action_id: str, value: str = "", style: str | None = None) -> dict[str, Any]:
    """A button; an empty `value` is left out rather than sent as an empty string."""
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, 75)},
        "action_id": action_id,
    }
    if value:
        element["value"] = value[:2000]
    if style:
        element["style"] = style
    return element


def text_element(
    action_id: str,
    *,
    initial: str | None = None,
    multiline: bool = False,
    max_length: int | None = None,
    placeholder: str | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
    }
    if initial:  # Slack refuses an initial value longer than the input takes
        element["initial_value"] = initial[: max_length or MAX_INPUT]
    if max_length:
        element["max_length"] = max_length
    if placeholder:
        element["placeholder"] = {"type": "plain_text", "text": clip(placeholder, 150)}
    return element


def form(
    callback_id: str,
    title: str,
    submit: str,
    blocks: list[dict[str, Any]],
    *,
    private_metadata: str = "",
) -> dict[str, Any]:
    """A modal with a submit and a Cancel button (titles are cut to Slack's 24 characters)."""
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": clip(title, 24)},
        "submit": {"type": "plain_text", "text": clip(submit, 24)},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view


def retry_options() -> list[dict[str, Any]]:
    """0, 1 or 2 retries: the most either Kaleyra API allows."""
    return [{"text": {"type": "plain_text", "text": str(n)}, "value": str(n)} for n in range(3)]


def input_block(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    """An input block of a form; `hint` is the grey line under it."""
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": clip(label, 2000)},
        "element": element,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": clip(hint, 2000)}
    return block


def actions(block_id: str, *elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def message(blocks: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """A message payload within Slack's limits; `text` is the notification fallback.

    The sandbox notice is not a view's business: Replies and Notifier add it (`with_notice`).
    """
    blocks = list(blocks)
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[: MAX_BLOCKS - 1], context("…more was cut to fit Slack's limits.")]
    return {"blocks": blocks, "text": clip(text, MAX_FALLBACK_TEXT)}


def with_notice(payload: dict[str, Any]) -> dict[str, Any]:
    """The same message or view with the sandbox notice at its foot (once, within the block
    limit: 50 for a message, 100 for a modal or Home tab)."""
    blocks = list(payload.get("blocks") or [])
    notice = context(SANDBOX_NOTICE)
    if notice in blocks:
        return payload
    limit = MAX_VIEW_BLOCKS if payload.get("type") in {"modal", "home"} else MAX_BLOCKS
    if len(blocks) >= limit:
        blocks = blocks[: limit - 1]
    return {**payload, "blocks": [*blocks, notice]}


def error_message(problem: str) -> dict[str, Any]:
    """A refusal or error: says what is wrong and what to do. `problem` is escaped here."""
    return message([section(f":warning: {escape(problem)}")], f"Problem: {escape(problem)}")


def info_message(text: str) -> dict[str, Any]:
    """Plain information; `text` is mrkdwn the caller has already escaped."""
    return message([section(text)], text)


def describe_kaleyra_error(exc: Exception) -> str:
    """What went wrong with Kaleyra and what to do, in words; never a stack trace or a secret."""
    from bot.kaleyra.errors import describe

    return describe(exc)
