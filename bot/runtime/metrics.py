"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry()

# Kaleyra's answers are free-form: every distinct `status` would be a new time series, so a
# label takes a value from this vocabulary (the codes both documents list, and the client's
# own words) or "other". HTTP status codes are three digits and stay as they are.
KALEYRA_CODES = frozenset(
    {
        *(f"E{n}" for n in range(100, 112)),  # the legacy API's generic codes
        "E542",
        "E701",
        "RBC201",
        "RBC3004",
        "RBC3007",
        "RBC3108",
        "RBC3109",
        "RBC3114",
        "RBC3115",
        "RBC3119",
    }
)
CLIENT_STATUSES = frozenset({"ok", "timeout", "connect_error", "bad_response"})
_HTTP_STATUS = re.compile(r"[1-5][0-9]{2}")
_OPERATION = re.compile(r"[a-z][a-zA-Z0-9._]{0,39}")


def kaleyra_status(status: object) -> str:
    """A Kaleyra status or code as a metrics label: a known word, an HTTP code, or "other"."""
    text = str(status).strip()
    if text in CLIENT_STATUSES or text in KALEYRA_CODES or _HTTP_STATUS.fullmatch(text):
        return text
    return "other"


def operation_label(operation: object) -> str:
    text = str(operation)
    return text if _OPERATION.fullmatch(text) else "other"


class KaleyraCounter(Counter):
    """A Counter whose (operation, status) labels are bounded, whatever Kaleyra answers."""

    def labels(self, *values: object, **named: object) -> Any:
        if len(values) == 2 and not named:
            return super().labels(operation_label(values[0]), kaleyra_status(values[1]))
        if set(named) == {"operation", "status"} and not values:
            return super().labels(
                operation=operation_label(named["operation"]),
                status=kaleyra_status(named["status"]),
            )
        return super().labels(*values, **named)


COMMANDS = Counter(
    "voicebot_commands_total",
    "Slack commands, actions and form submissions handled, by name and outcome",
    ["name", "outcome"],
    registry=REGISTRY,
)
KALEYRA_REQUESTS = KaleyraCounter(
    "voicebot_kaleyra_requests_total",
    "Requests sent to Kaleyra, by operation and status (HTTP code, Kaleyra code, timeout, connect_error)",
    ["operation", "status"],
    registry=REGISTRY,
)
KALEYRA_LATENCY = Histogram(
    "voicebot_kaleyra_request_seconds",
    "Kaleyra request latency by operation",
    ["operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
JOBS = Counter(
    "voicebot_scheduler_jobs_total",
    "Scheduler job runs by job and outcome (ok, failed, missed)",
    ["job", "outcome"],
    registry=REGISTRY,
)
SENDS = Counter(
    "voicebot_scheduled_sends_total",
    "Digests and reminders sent, and whether late or missed",
    ["kind", "timing"],
    registry=REGISTRY,
)


def listener_name(payload: Mapping[str, Any]) -> str:
    """What a Slack request is for, for the metrics: a command, action, form, shortcut or event."""
    if payload.get("command"):
        return str(payload["command"])[:40]
    if payload.get("actions"):
        return "action:" + str(payload["actions"][0].get("action_id"))[:60]
    if isinstance(payload.get("view"), dict):
        return "view:" + str(payload["view"].get("callback_id"))[:60]
    if payload.get("callback_id"):
        return "shortcut:" + str(payload["callback_id"])[:60]
    if isinstance(payload.get("event"), dict):
        return "event:" + str(payload["event"].get("type"))[:60]
    return "other"


def outcome(status: int, body: str, *, failed: bool = False) -> str:
    """How a request ended, as a user would tell it: ok, refused (told off), rejected, failed."""
    if failed:
        return "failed"  # the bot failed and said so to the user
    if status != 200:
        return "rejected" if status in (401, 403) else "failed"
    refused = ":warning:" in body or '"response_action":"errors"' in body.replace(" ", "")
    return "refused" if refused else "ok"


def count_request(
    payload: Mapping[str, Any], status: int, body: str, *, failed: bool = False
) -> None:
    # Unverified requests get no name of their own, and neither do requests no listener took:
    # made-up names must not grow the labels.
    if status == 401:
        name = "unverified"
    elif status == 404:
        name = "unhandled"
    else:
        name = listener_name(payload)
    COMMANDS.labels(name, outcome(status, body, failed=failed)).inc()


__all__ = [
    "COMMANDS",
    "CONTENT_TYPE_LATEST",
    "JOBS",
    "KALEYRA_LATENCY",
    "KALEYRA_REQUESTS",
    "REGISTRY",
    "SENDS",
    "count_request",
    "generate_latest",
    "kaleyra_status",
    "listener_name",
    "outcome",
]
