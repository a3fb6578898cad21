"""Health: change alerts from periodic `monitor` polls, and the daily digest. Each sent once.

HealthWatch is the one owner of the digest settings (channel and time). A health state is
stored only after the alert about it was posted, so a failed post is alerted again on the next
poll; a digest whose post fails releases its claim and keeps its missed items for the next one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.kaleyra import KaleyraClient, KaleyraError
from bot.kaleyra.models import HealthReport, Incident
from bot.models import AccountNote, DigestSettings, HealthChange
from bot.services.agents import Agents
from bot.slack.notify import Notifier
from bot.store import Store
from bot.views import voicehealth as views
from bot.views.common import describe_kaleyra_error

log = logging.getLogger("voicebot.health")
Clock = Callable[[], datetime]
DIGEST_CHANNEL, DIGEST_TIME = "digest_channel", "digest_time"
STATE_KEY, DIGEST_STATE_KEY, OUTAGE_KEY = "health_state", "health_digest_state", "health_outage"
DIGEST_GRACE = timedelta(hours=3)
STALE_CLAIM = timedelta(minutes=10)

IncidentKey = tuple[str, str, tuple[str, ...]]
Snapshot = dict[IncidentKey, Incident]
_INCIDENTS = TypeAdapter(list[Incident])


def snapshot(incidents: list[Incident]) -> Snapshot:
    """Incidents by identity: region code, service and numbers (`Incident.key`)."""
    return {incident.key: incident for incident in incidents}


def diff(before: Snapshot, now: Snapshot) -> list[HealthChange]:
    """New rows and rows whose type moved (in the order Kaleyra lists them), then cleared rows."""
    changes = []
    for key, incident in now.items():
        if key not in before:
            changes.append(HealthChange(kind="new", now=incident))
        elif before[key].type != incident.type:
            changes.append(HealthChange(kind="moved", before=before[key], now=incident))
    changes.extend(
        HealthChange(kind="cleared", before=incident)
        for key, incident in before.items()
        if key not in now
    )
    return changes


def _nothing(_value: str) -> None:
    return None


class HealthWatch:
    def __init__(
        self,
        store: Store,
        kaleyra: KaleyraClient,
        notify: Notifier,
        agents: Agents,
        *,
        clock: Clock,
        tz: tzinfo,
        tz_name: str,
        default_channel: str | None,
        default_time: str,
        on_change: Callable[[str], None] = _nothing,
        reschedule: Callable[[str], Awaitable[None]] | None = None,
        sandbox: bool = False,
    ) -> None:
        self.store = store
        self.kaleyra = kaleyra
        self.notify = notify
        self.agents = agents
        self.clock = clock
        self.tz = tz
        self.tz_name = tz_name
        self.default_channel = default_channel
        self.default_time = default_time
        self.on_change = on_change  # an admin's App Home shows the digest settings
        self.reschedule = reschedule  # called with the new HH:MM: the digest job follows it
        self.sandbox = sandbox  # no account to describe

    # ------------------------------------------------------------------ settings

    async def digest_settings(self) -> DigestSettings:
        stored = await self.store.get_setting(DIGEST_CHANNEL)
        channel = None if stored == "off" else (stored or self.default_channel)
        return DigestSettings(
            channel, await self.store.get_setting(DIGEST_TIME) or self.default_time
        )

    async def channel(self) -> str | None:
        return (await self.digest_settings()).channel

    async def digest_time(self) -> str:
        return (await self.digest_settings()).at

    async def set_digest(
        self, user_id: str, channel_id: str, at: time | None = None
    ) -> DigestSettings:
        """Admins: post the digest in `channel_id`, at `at` (default: the time already set)."""
        await self._require_admin(user_id)
        hhmm = at.strftime("%H:%M") if at else await self.digest_time()
        await self.store.set_setting(DIGEST_CHANNEL, channel_id)
        await self.store.set_setting(DIGEST_TIME, hhmm)
        await self.store.audit(
            user_id=user_id,
            action="voicehealth.digest",
            outcome="set",
            detail={"channel": channel_id, "at": hhmm},
        )
        self.on_change(user_id)
        if self.reschedule is not None:
            await self.reschedule(hhmm)  # takes effect without a restart
        return await self.digest_settings()

    async def digest_off(self, user_id: str) -> None:
        await self._require_admin(user_id)
        await self.store.set_setting(DIGEST_CHANNEL, "off")
        await self.store.audit(user_id=user_id, action="voicehealth.digest", outcome="off")
        self.on_change(user_id)

    async def _require_admin(self, user_id: str) -> None:
        await self.agents.require_admin(
            user_id, "change the health digest", action="voicehealth.digest", command="voicehealth"
        )

    # ------------------------------------------------------------------ now

    async def report(self) -> HealthReport:
        """`monitor` now, for `/voicehealth`."""
        return await self.kaleyra.health()

    async def account_note(self, user_id: str) -> AccountNote | None:
        """For admins: how the client talks to the account, as `voicebot doctor` found it."""
        if self.sandbox or not await self.agents.is_admin(user_id):
            return None
        return AccountNote(await self.store.kaleyra_account())

    # ------------------------------------------------------------------ state

    async def _load(self, key: str) -> Snapshot | None:
        raw = await self.store.get_setting(key)
        if not raw:
            return None
        try:
            data: Any = json.loads(raw)
            rows = list(data.values()) if isinstance(data, dict) else data  # older: a dict by key
            return snapshot(_INCIDENTS.validate_python(rows))
        except (ValueError, ValidationError):
            log.warning("stored health state %s unreadable; starting a new baseline", key)
            return None

    async def _save(self, key: str, state: Snapshot) -> None:
        await self.store.set_setting(key, _INCIDENTS.dump_json(list(state.values())).decode())

    async def _post(self, payload: dict[str, Any]) -> bool:
        channel = await self.channel()
        return bool(channel) and await self.notify.post(channel, payload) is not None

    # ------------------------------------------------------------------ alerts

    async def poll(self) -> list[HealthChange]:
        """One `monitor` read: alert on changes (once), on an outage (once) and its recovery (once)."""
        try:
            report = await self.kaleyra.health()
        except KaleyraError as exc:
            await self._outage(exc)
            return []
        if await self.store.get_setting(OUTAGE_KEY) == "1" and (
            await self._post(views.outage_message("", recovered=True)) or not await self.channel()
        ):
            await self.store.set_setting(OUTAGE_KEY, None)
        now = snapshot(report.incidents)
        before = await self._load(STATE_KEY)
        if before is None:
            await self._save(STATE_KEY, now)  # the first poll after the first start is the baseline
            return []
        changes = diff(before, now)
        if changes and await self.channel() and not await self._post(views.alert_message(changes)):
            return changes  # not stored: the next poll alerts again
        await self._save(STATE_KEY, now)  # stored once alerted: a restart does not re-alert
        return changes

    async def _outage(self, exc: KaleyraError) -> None:
        if await self.store.get_setting(OUTAGE_KEY) == "1":
            return
        if await self._post(views.outage_message(describe_kaleyra_error(exc))):
            await self.store.set_setting(OUTAGE_KEY, "1")

    # ------------------------------------------------------------------ the digest

    async def last_due(self, now: datetime) -> datetime:
        """The most recent digest time at or before `now`, in the account time zone."""
        hour, minute = (int(x) for x in (await self.digest_time()).split(":"))
        local = now.astimezone(self.tz)
        due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return due if due <= local else due - timedelta(days=1)

    async def digest(self, due: datetime | None = None, *, late: bool = False) -> bool:
        """Post the digest due at `due` (default: the latest due time) exactly once."""
        channel = await self.channel()
        if not channel:
            return False
        due = due or await self.last_due(self.clock())
        key = f"digest:{due.isoformat()}"
        detail = f"daily digest of {due:%Y-%m-%d %H:%M}"
        if not await self.store.claim(key, "digest", due, late=late, detail=detail):
            return False
        sent = False
        try:
            sent = await self._send_digest(channel, late=late)
        finally:  # any failure, raised or answered, releases the claim for a later try
            if sent:
                await self.store.mark_sent(key)
            else:
                log.warning("digest %s not posted; released", key)
                await self.store.release(key)
        return sent

    async def _send_digest(self, channel: str, *, late: bool) -> bool:
        await self.store.sweep_stale_claims(self.clock() - STALE_CLAIM)
        problem = None
        try:
            report: HealthReport | None = await self.kaleyra.health()
        except KaleyraError as exc:
            report, problem = None, describe_kaleyra_error(exc)
        now = snapshot(report.incidents) if report is not None else None
        previous = await self._load(DIGEST_STATE_KEY)
        changes = diff(previous, now) if (previous is not None and now is not None) else []
        missed = await self.store.missed_entries()
        payload = views.digest_message(report, changes, missed, late=late, problem=problem)
        if await self.notify.post(channel, payload) is None:
            return False  # the missed items stay unreported for the next digest
        await self.store.mark_reported(m.key for m in missed)
        if now is not None:
            await self._save(DIGEST_STATE_KEY, now)
        return True

    async def catch_up(self) -> str:
        """On start: a digest missed while down is sent late within the grace window, else noted."""
        if not await self.channel():
            return "no channel"
        now = self.clock()
        due = await self.last_due(now)
        key = f"digest:{due.isoformat()}"
        if await self.store.is_sent(key):
            return "already sent"
        if now - due <= DIGEST_GRACE:
            return "sent late" if await self.digest(due, late=True) else "not sent"
        await self.store.mark_missed(key, "digest", due, f"daily digest of {due:%Y-%m-%d %H:%M}")
        return "missed"
