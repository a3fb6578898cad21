"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

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

__all__ = [
    "COMMANDS",
    "CONTENT_TYPE_LATEST",
    "JOBS",
    "KALEYRA_LATENCY",
    "KALEYRA_REQUESTS",
    "REGISTRY",
    "SENDS",
    "generate_latest",
]
