"""Health: change alerts from periodic `monitor` polls, and the daily digest. Each sent once."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.kaleyra import KaleyraError
from bot.kaleyra.models import HealthReport
from bot.services.home import DIGEST_CHANNEL, DIGEST_TIME
from bot.views import health as views
from bot.views.common import describe_kaleyra_error

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger("voicebot.health")
STATE_KEY, DIGEST_STATE_KEY, OUTAGE_KEY = "health_state", "health_digest_state", "health_outage"
DIGEST_GRACE = timedelta(hours=3)


def snapshot(report: HealthReport) -> dict[str, dict[str, Any]]:
    """Incidents keyed by region code, service and numbers (DESIGN.md's identity)."""
    out = {}
    for incident in report.incidents:
        key = "|".join([incident.region_code, incident.service, ",".join(sorted(incident.numbers))])
        out[key] = {
            "region": incident.region,
            "region_code": incident.region_code,
            "type": incident.type,
            "service": incident.service,
            "numbers": sorted(incident.numbers),
        }
    return out


def diff(before: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    changes = []
    for key, incident in now.items():
        if key not in before:
            changes.append({"kind": "new", "now": incident})
        elif before[key]["type"] != incident["type"]:
            changes.append({"kind": "moved", "before": before[key], "now": incident})
    changes.extend(
        {"kind": "cleared", "before": incident}
        for key, incident in before.items()
        if key not in now
    )
    return changes


class HealthWatch:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def channel(self) -> str | None:
        stored = self.deps.store.get_setting(DIGEST_CHANNEL)
        if stored == "off":
            return None
        return stored or self.deps.settings.health_digest_channel

    def digest_time(self) -> str:
        return self.deps.store.get_setting(DIGEST_TIME) or self.deps.settings.health_digest_time

    async def _post(self, payload: dict[str, Any]) -> bool:
        channel = self.channel()
        if not channel:
            return False
        try:
            await self.deps.slack.chat_postMessage(channel=channel, **payload)
        except SlackApiError as exc:
            log.warning("health post to %s failed: %s", channel, exc.response.get("error"))
            return False
        return True

    def _load(self, key: str) -> dict[str, Any] | None:
        raw = self.deps.store.get_setting(key)
        return json.loads(raw) if raw else None

    async def poll(self) -> list[dict[str, Any]]:
        """One `monitor` read: alert on changes (once), on an outage (once) and its recovery (once)."""
        store, sandbox = self.deps.store, self.deps.uses_sandbox
        try:
            report = await self.deps.kaleyra.health()
        except KaleyraError as exc:
            if store.get_setting(OUTAGE_KEY) != "1":
                store.set_setting(OUTAGE_KEY, "1")
                await self._post(views.outage_message(describe_kaleyra_error(exc), sandbox=sandbox))
            return []
        if store.get_setting(OUTAGE_KEY) == "1":
            store.set_setting(OUTAGE_KEY, None)
            await self._post(views.outage_message("", recovered=True, sandbox=sandbox))
        now = snapshot(report)
        before = self._load(STATE_KEY)
        store.set_setting(STATE_KEY, json.dumps(now))  # stored first: a restart does not re-alert
        if before is None:
            return []  # the first poll after the first start is the baseline
        changes = diff(before, now)
        if changes:
            await self._post(views.alert_message(changes, sandbox=sandbox))
        return changes

    def last_due(self, now: datetime) -> datetime:
        """The most recent digest time at or before `now`, in the account time zone."""
        tz = self.deps.settings.tz
        hour, minute = (int(x) for x in self.digest_time().split(":"))
        local = now.astimezone(tz)
        due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return due if due <= local else due - timedelta(days=1)

    async def digest(self, due: datetime | None = None, *, late: bool = False) -> bool:
        """Post the digest due at `due` (default: the latest due time) exactly once."""
        if not self.channel():
            return False
        due = due or self.last_due(self.deps.clock())
        key = f"digest:{due.isoformat()}"
        store = self.deps.store
        if not store.claim(key, "digest", due, late=late):
            return False
        problem = None
        try:
            report = await self.deps.kaleyra.health()
        except KaleyraError as exc:
            report, problem = None, describe_kaleyra_error(exc)
        now = snapshot(report) if report else None
        previous = self._load(DIGEST_STATE_KEY)
        changes = diff(previous, now) if (previous is not None and now is not None) else []
        payload = views.digest_message(
            report,
            changes,
            store.take_missed(),
            late=late,
            problem=problem,
            sandbox=self.deps.uses_sandbox,
        )
        if not await self._post(payload):
            store.release(key)
            return False
        if now is not None:
            store.set_setting(DIGEST_STATE_KEY, json.dumps(now))
        store.mark_sent(key)
        return True

    async def catch_up(self) -> str:
        """On start: a digest missed while down is sent late within the grace window, else noted."""
        if not self.channel():
            return "no channel"
        now = self.deps.clock()
        due = self.last_due(now)
        key = f"digest:{due.isoformat()}"
        if any(e["key"] == key for e in self.deps.store.sent_entries("digest")):
            return "already sent"
        if now - due <= DIGEST_GRACE:
            return "sent late" if await self.digest(due, late=True) else "not sent"
        self.deps.store.mark_missed(key, "digest", due, f"daily digest of {due:%Y-%m-%d %H:%M}")
        return "missed"
