"""What the sandbox remembers: calls, OBD groups, follow-ups, blacklist, dialer, health, faults."""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# The last two digits of a number choose how its leg ends, so tests and demos are repeatable.
OUTCOME_BY_SUFFIX = {
    "00": "BUSY",
    "01": "NOANSWER",
    "02": "FAILED",
    "03": "CONGESTION",
    "04": "CHANUNAVAIL",
    "05": "DND",
    "06": "CANCEL",
}

DEFAULT_SOUNDS = frozenset({"123", "1122", "13", "34", "38"})
DEFAULT_IVRS = frozenset({"1234"})
DEFAULT_GROUPS = {
    "4477": ["9876500011", "9876500012", "9876500013", "9876500014", "9876500015"],
}


LEGACY_NUMBER = re.compile(r"^[1-9]\d{9}$")
RING_SECONDS = 8  # how long an incoming call rings before it is answered
MISSED_RING_SECONDS = 25  # how long a missed call rang
VERIFICATION = re.compile(r"voicebot code is", re.IGNORECASE)


def outcome_for(number: str) -> str:
    return OUTCOME_BY_SUFFIX.get(number[-2:], "ANSWER")


def verification_code(text: str | None) -> str | None:
    """The six digits a voicebot verification message reads out ("… code is 1 2 3 4 5 6 …")."""
    match = VERIFICATION.search(text or "")
    if not match:
        return None
    digits = re.findall(r"\d", (text or "")[match.end() :])[:6]
    return "".join(digits) if len(digits) == 6 else None


@dataclass
class Fault:
    """Injected per operation ("dial.click2call", "outbound", … or "*" for all)."""

    latency: float = 0.0
    error_rate: float = 0.0  # probability of answering with `http_status`/`body`
    http_status: int = 503
    body: str = "<html><body>Service Unavailable</body></html>"
    timeout: bool = False  # hang for `hang_seconds` (the client times out first)
    hang_seconds: float = 30.0
    api_error: tuple[str, str] | None = None  # answer this (code, message) instead


@dataclass
class RecordedRequest:
    api: str  # "legacy" or "io"
    operation: str
    http_method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    json: Any
    key_header: str | None  # which header carried the key: x-api-key, api-key, api_key
    key_place: str | None = None  # "x-api-key header", "api_key parameter", … (KeyStyle names)


@dataclass
class C2CRecord:
    id: str
    caller: str
    receiver: str
    created: datetime
    seq: int
    callback: str | None = None
    custom: str | None = None
    caller_id: str | None = None


@dataclass
class ObdRecord:
    id: str
    group_id: str
    mobile: str
    created: datetime
    scheduled: datetime | None = None
    campaign: str | None = None


@dataclass
class FollowupState:
    id: str
    phone: str
    name: str
    follower: str
    ontime: datetime
    autocall: bool = False
    notes: str = ""


@dataclass
class SandboxState:
    api_key: str | None = None  # None: any non-empty key is accepted
    # An account's dialect (for `voicebot doctor`'s tests): the key places it looks at
    # ("x-api-key header", "api_key header", "api_key parameter"; None: all), and the one
    # spelling of voice.groupstatus it knows (None: any case).
    key_styles: frozenset[str] | None = None
    group_status_spelling: str | None = None
    sid: str | None = None  # None: any SID is accepted
    timezone: str = "Asia/Kolkata"
    step_seconds: float = 2.0  # how long each stage of a call takes
    clock: Callable[[], datetime] | None = None
    seed: int = 7
    sounds: set[str] = field(default_factory=lambda: set(DEFAULT_SOUNDS))
    ivrs: set[str] = field(default_factory=lambda: set(DEFAULT_IVRS))
    dids: set[str] = field(default_factory=lambda: {"+918047000000"})
    contact_groups: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_GROUPS))
    monitor_subscribed: bool = True
    incidents: list[dict[str, Any]] = field(default_factory=list)

    calls: dict[str, C2CRecord] = field(default_factory=dict)
    obd: dict[str, ObdRecord] = field(default_factory=dict)
    obd_groups: dict[str, list[str]] = field(default_factory=dict)
    followups: dict[str, FollowupState] = field(default_factory=dict)
    blacklist: set[str] = field(default_factory=set)
    dialer: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    outbound_jobs: list[dict[str, Any]] = field(default_factory=list)
    incoming: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    # What a person beside the sandbox would notice (a verification call's code), in order;
    # each listener (the console, `voicebot sandbox`) is called with each line as it happens.
    notices: list[str] = field(default_factory=list)
    listeners: list[Callable[[str], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(self.seed)
        self._ids = itertools.count(1)
        self._group_ids = itertools.count(217691534)
        self._followup_ids = itertools.count(2351)
        self._incoming_ids = itertools.count(1)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(self.tz)

    def next_seq(self) -> int:
        return next(self._ids)

    def next_group_id(self) -> str:
        return str(next(self._group_ids))

    def next_followup_id(self) -> str:
        return str(next(self._followup_ids))

    def set_fault(self, operation: str, fault: Fault | None) -> None:
        with self.lock:
            if fault is None:
                self.faults.pop(operation, None)
            else:
                self.faults[operation] = fault

    def fault_for(self, operation: str) -> Fault | None:
        return self.faults.get(operation) or self.faults.get("*")

    def recorded(self, operation: str | None = None) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if operation is None or r.operation == operation]

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    def announce(self, text: str) -> None:
        with self.lock:
            self.notices.append(text)
            listeners = list(self.listeners)
        for listener in listeners:
            listener(text)

    def add_incoming(
        self,
        caller: str,
        agent: str,
        *,
        answered: bool,
        billsec: int | None = None,
        location: str = "KARNATAKA",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """An incoming call from `caller` forwarded to the agent number `agent`, ended at `at`.

        The row has the fields of the collection's `dial` example; `dial` lists it from now on.
        """
        for name, number in (("caller", caller), ("agent", agent)):
            if not LEGACY_NUMBER.match(number):
                raise ValueError(f"{name} must be a 10-digit number, got {number!r}")
        if billsec is not None and billsec < 0:
            raise ValueError("billsec must be 0 or more")
        talk = (billsec if billsec is not None else 60) if answered else 0
        if answered and talk == 0:
            raise ValueError("an answered call has billed seconds")
        end = (at or self.now()).astimezone(self.tz)
        duration = talk + RING_SECONDS if answered else MISSED_RING_SECONDS
        start = end - timedelta(seconds=duration)
        with self.lock:
            seq = next(self._incoming_ids)
            digest = hashlib.sha1(f"incoming-{seq}-{start.isoformat()}".encode()).hexdigest()
            did = sorted(self.dids)[0] if self.dids else "+918047000000"
            row = {
                "id": f"{seq:04d}{digest[:18]}",
                "uniqid": f"{int(start.timestamp())}.{seq}",
                "parent_id": digest[18:40],
                "callfrom": caller,
                "callto": agent,
                "start_time": start.strftime("%Y-%m-%d %H:%M:%S"),
                "end_time": end.strftime("%Y-%m-%d %H:%M:%S"),
                "duration": str(duration),
                "billsec": str(talk),
                "notes": "",
                "location": location,
                "provider": "VODAFONE",
                "credits": f"{(talk // 60 + 1) * 0.6:.3f}" if answered else "0.000",
                "status": "ANSWER" if answered else "NOANSWER",
                "recording": f"//play.solutionsinfini.com/?id=9{seq:07d}" if answered else "",
                "date": start.strftime("%Y-%m-%d %I:%M %p"),
                "caller_id": did[-10:],
            }
            self.incoming.append(row)
        return row
