"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry()

COMMANDS = Counter(
    "voicebot_commands_total",
    "Slack commands, actions and form submissions handled, by name and outcome",
    ["name", "outcome"],
    registry=REGISTRY,
)
KALEYRA_REQUESTS = Counter(
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


def outcome(status: int, body: str) -> str:
    """How a request ended, as a user would tell it: ok, refused (told off), rejected, failed."""
    if status != 200:
        return "rejected" if status in (401, 403) else "failed"
    refused = ":warning:" in body or '"response_action":"errors"' in body.replace(" ", "")
    return "refused" if refused else "ok"


def count_request(payload: Mapping[str, Any], status: int, body: str) -> None:
    # Unverified requests get no name of their own: made-up names must not grow the labels.
    name = "unverified" if status == 401 else listener_name(payload)
    COMMANDS.labels(name, outcome(status, body)).inc()


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
    "listener_name",
    "outcome",
]
