"""What Broadcasts reads: its settings and tuning, as values, and the constants of sending."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger("voicebot.obd")

JSON_CALL_GROUPS = 5  # call groups per voice.json request
Sleep = Callable[[float], Awaitable[Any]]
Fetch = Callable[[dict[str, Any], int], Awaitable[bytes]]  # (Slack file, size limit)
Clock = Callable[[], datetime]
SETTLED = {"accepted": "accepted", "rejected": "refused", "unknown": "unknown"}
PLANS_KEPT = 16  # plans of running campaigns kept in memory (a 100 000-number plan is ~3 MB)
STORE_RETRIES, STORE_RETRY_SECONDS = 5, 2.0
OVERLAP_WINDOW = timedelta(
    hours=1
)  # a Start asks first if another broadcast of this long calls its numbers
# A sender's claim on a campaign, renewed before each request (past any pacing wait), so a dead
# replica's campaign is found within the lease plus the check's period (half the lease) and
# reported to its owner by another replica. Longer than a Kaleyra request may take
# (KALEYRA_TIMEOUT_SECONDS). CAMPAIGN_LEASE_SECONDS sets it (BroadcastConfig.sender_lease).
SENDER_LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class BroadcastConfig:
    """The settings and tuning Broadcasts reads, as values."""

    timezone: str = "Asia/Kolkata"
    region: str = "IN"
    via_io: bool = False  # KALEYRA_SID set: broadcasts go to kaleyra.io Outbound Calling
    bridge: str | None = None  # KALEYRA_BRIDGE
    calling_hours: tuple[time, time] | None = None  # OBD_CALLING_HOURS
    calls_per_minute: int | None = None  # OBD_CALLS_PER_MINUTE; None = no limit
    concurrency: int = 4  # requests of one campaign in flight at once
    progress_interval: float = 1.0  # at most one progress update a second per message
    follow_calls: bool = True  # no scheduler: the service follows calls and the window itself
    track_every: float = 15.0
    track_for: float = 3 * 3600
    # Several replicas share the database: at start, only campaigns whose sender's lease ran
    # out are interrupted (a live replica may be sending the others). One SQLite process: all.
    shared_database: bool = False
    sender_lease: timedelta = SENDER_LEASE

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def window_text(self) -> str | None:
        if not self.calling_hours:
            return None
        start, end = self.calling_hours
        return f"{start:%H:%M}-{end:%H:%M} {self.timezone}"
