"""The app's own data, typed: what the store returns, services pass around and views render."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from bot.kaleyra.models import Incident, KeyStyle
from bot.phones import Phone


@dataclass(frozen=True)
class Agent:
    user_id: str
    number: str  # E.164
    role: str
    created_at: str
    updated_at: str


@dataclass
class CallRow:
    id: int
    kind: str
    user_id: str
    agent_number: str
    customer_number: str
    kaleyra_id: str | None
    state: str  # placing, placed, unknown, failed, final
    status1: str | None
    status2: str | None
    duration: int | None
    billsec: int | None
    recording: str | None
    channel: str | None
    message_ts: str | None
    callback_token: str | None
    error: str | None
    created_at: str
    updated_at: str
    final_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CallRow:
        return cls(**{k: row.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class OpenCall:
    """What following an open call needs first; its row is read when its turn comes."""

    id: int
    kaleyra_id: str
    created_at: str


# ---- followup


class StoredRow(BaseModel):
    """A typed row of the store: frozen, and JSON round-trips through the model; fields are
    attributes (`row.state`), never `row["state"]`."""

    model_config = ConfigDict(frozen=True)


ReminderState = Literal["pending", "sent", "missed", "none"]


class Followup(StoredRow):
    """A follow-up as voicebot knows it: Kaleyra keeps the auto-call, the store who owns it."""

    id: str
    phone: str  # E.164 (or Kaleyra's text when it is not a number)
    name: str
    follower: str  # E.164
    ontime: datetime  # aware
    notes: str = ""
    autocall: bool = False
    user_id: str | None = None  # who owns it in Slack; None = made outside Slack, not ours
    state: Literal["active", "done", "deleted"] = "active"
    source: Literal["slack", "kaleyra"] = "slack"  # kaleyra = made outside Slack, synced
    reminder: ReminderState = "pending"  # pending until its reminder is sent or missed
    remind_at: datetime | None = (
        None  # snoozed (or first reminder moved to now); None = ontime - lead
    )


@dataclass(frozen=True)
class FollowupDraft:
    """What a user asked to save, from `/followup add` or the form: one parameter set for both."""

    user_id: str
    phone: Phone
    name: str
    follower: Phone
    when: datetime  # naive in the account time zone, or aware
    notes: str = ""
    autocall: bool = False
    followup_id: str | None = None  # set when editing


class SentEntry(StoredRow):
    """One row of the exactly-once sent log: a reminder or digest and what became of it."""

    key: str
    kind: str  # reminder | digest
    due_at: str  # ISO, UTC
    state: Literal["claimed", "sent", "missed", "reported"]
    late: bool = False
    at: str = ""
    detail: str | None = None


# ---- blacklist


class BlacklistEntry(StoredRow):
    number: str  # E.164
    added_by: str  # Slack user id
    added_at: str  # ISO, UTC
    reason: str = ""


class BlacklistPage(NamedTuple):
    """What `/blacklist list` shows: the newest entries, how many there are, numbers in full?"""

    entries: list[BlacklistEntry]
    total: int
    show_numbers: bool


# ---- voicehealth


class HealthChange(StoredRow):
    """A change between two health snapshots: a new row, a row whose type moved, a cleared row."""

    kind: Literal["new", "moved", "cleared"]
    before: Incident | None = None
    now: Incident | None = None


class KaleyraAccount(BaseModel):
    """How the Kaleyra account takes requests, as `voicebot doctor` found it."""

    key_style: KeyStyle
    group_status_method: str
    checked_at: datetime


class AccountNote(NamedTuple):
    """What an admin sees under /voicehealth about the account's dialect."""

    found: KaleyraAccount | None  # None: `voicebot doctor` has not run on this database


class DigestSettings(NamedTuple):
    """Where and when the daily health digest goes; `channel` None = off."""

    channel: str | None
    at: str  # HH:MM, account time zone


# ---- audit


class AuditEntry(StoredRow):
    id: int
    at: str  # ISO, UTC
    user_id: str
    action: str
    outcome: str
    numbers: str = ""  # masked, comma-separated
    kaleyra_ids: str = ""  # comma-separated
    detail: dict[str, Any] = Field(default_factory=dict)


# ---- c2c


@dataclass(frozen=True)
class CallHistory:
    """A page of the calls a user placed through the bot, newest first, with logged outcomes."""

    user_id: str
    calls: tuple[CallRow, ...]
    outcomes: dict[int, Any]  # calls.id -> CallOutcome (typed in the callfeed section)
    older: int | None  # before_id of the next page, None on the last one


@dataclass(frozen=True, slots=True)
class CallProgress:
    """What Kaleyra reports of a click-to-call's two legs, from a status poll or a callback."""

    status1: str | None = None
    status2: str | None = None
    duration: int | None = None
    billsec: int | None = None
    recording: str | None = None
    final: bool = False


@dataclass(frozen=True)
class Verification:
    """Proof that a user holds their agent number: pending until the code read out is typed."""

    user_id: str
    number: str  # E.164, the number the code was read out to (or an admin assigned)
    state: Literal["pending", "verified"]
    code_hash: str | None  # HMAC of the code; None once verified
    tries: int  # wrong codes typed for this code
    expires_at: str | None  # ISO, UTC: the code is refused after this
    verified_by: str | None  # "self" after a code, else the admin who assigned the number
    calls_sent: int  # verification calls placed since first_call_at
    first_call_at: str | None  # ISO, UTC: start of the current 24-hour budget of calls
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Verification:
        return cls(**{k: row.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class AgentStatus:
    """Who a user is to the bot: `/c2c whoami` and the App Home's first line."""

    user_id: str
    number: str | None  # E.164 the user registered, proven or not
    role: Literal["admin", "agent"]
    verified: bool  # the number may ring first; False = waiting for `/c2c verify`


@dataclass(frozen=True)
class Registration:
    """What `/c2c register` did: a usable number, or a verification call on its way."""

    user_id: str
    number: Phone
    verified: bool  # usable now (assigned by an admin, or proven before)
    code: str | None = None  # the code the verification call reads out; never stored in clear
    unchanged: bool = False  # the same proven number again: nothing was done


@dataclass(frozen=True)
class AdminRoster:
    """`/c2c admin list`: everyone with admin rights and which come from ADMIN_USER_IDS."""

    admins: tuple[str, ...]
    from_env: frozenset[str]


@dataclass(frozen=True)
class AdminChanged:
    action: Literal["grant", "revoke"]
    target: str
    changed: bool  # False: revoking someone who was not an admin


@dataclass(frozen=True)
class Click:
    """One button press, as the double-click guard knows it: who, on what, which button."""

    user_id: str
    where: str  # the message ts, or the view id for a Home tab or modal
    action_id: str
    value: str

    @classmethod
    def of(cls, body: dict[str, Any], action: dict[str, Any]) -> Click:
        container = body.get("container") or {}
        where = (
            container.get("message_ts")
            or (body.get("message") or {}).get("ts")
            or container.get("view_id")
            or (body.get("view") or {}).get("id")
            or ""
        )
        user = (body.get("user") or {}).get("id", "")
        return cls(user, str(where), str(action.get("action_id", "")), str(action.get("value", "")))


@dataclass(frozen=True)
class Redial:
    """The *Dial again* button's payload: built once, by ClickToCall, used at most once."""

    agent: str  # E.164
    customer: str  # E.164
    retry: int | None
    delay: int | None
    nonce: str
    claim: str | None = None  # the feed call this dial calls back: re-checked at the click
    override: bool = False  # an admin's confirmation to call a blacklisted number

    def encode(self) -> str:
        data: dict[str, Any] = {
            "a": self.agent,
            "c": self.customer,
            "r": self.retry,
            "d": self.delay,
            "n": self.nonce,
        }
        if self.claim:
            data["k"] = self.claim
        if self.override:
            data["o"] = 1
        return json.dumps(data)

    @classmethod
    def decode(cls, value: str) -> Redial | None:
        """The payload, or None for anything that is not one (never raises)."""
        try:
            data = json.loads(value)
            redial = cls(
                agent=str(data["a"]),
                customer=str(data["c"]),
                retry=None if data.get("r") is None else int(data["r"]),
                delay=None if data.get("d") is None else int(data["d"]),
                nonce=str(data.get("n") or ""),
                claim=str(data["k"])[:64] if data.get("k") else None,
                override=data.get("o") == 1,
            )
        except (ValueError, TypeError, KeyError):
            return None
        e164 = all(
            n.startswith("+") and n[1:].isascii() and n[1:].isdigit() and 6 <= len(n) <= 16
            for n in (redial.agent, redial.customer)
        )
        return redial if e164 else None


@dataclass(frozen=True)
class Dialling:
    """The call is queued: the ack says so, the card follows in the DM."""

    agent: Phone
    customer: Phone
    again: bool = False  # confirmed through *Dial again*
    own: bool = True  # the first leg is the asker's own number (an admin may choose another's)


@dataclass(frozen=True)
class AskFirst:
    """The same call less than a minute ago: nothing dialled, the user is asked first."""

    agent: Phone
    customer: Phone
    redial: Redial


@dataclass(frozen=True)
class AlreadyHandled:
    """A second click of a button already acted on: nothing dialled, nothing said."""


@dataclass(frozen=True)
class Blacklisted:
    """The customer is on the bot's blacklist: nothing dialled. Who added it, when and why;
    for an admin, `override` is the *Call anyway* confirmation (audited when used)."""

    agent: Phone
    customer: Phone
    added_by: str  # Slack user id
    added_at: datetime  # local time
    reason: str
    override: Redial | None


@dataclass(frozen=True)
class ClaimTaken:
    """A *Dial again* of a call back whose claim is no longer the clicker's: nothing dialled.

    `holder` is who is calling the caller back now (None: the claim was released)."""

    customer: Phone
    holder: str | None


DialOutcome = Dialling | AskFirst | AlreadyHandled | Blacklisted | ClaimTaken


@dataclass(frozen=True)
class CallLogPage:
    """One page of `/c2c log` or `/c2c calls`, and whose numbers this reader may see in full."""

    title: str
    rows: list[Any]  # C2CCall or CallDetail rows, newest first
    more: bool  # Kaleyra has more rows than the page shows
    full_numbers: frozenset[str] | None  # row ids shown unmasked; None = every row (admins)


# ---- callfeed

OutcomeKind = Literal[
    "interested", "not_interested", "call_back", "wrong_number", "voicemail", "other"
]
OUTCOME_KINDS: tuple[OutcomeKind, ...] = (
    "interested",
    "not_interested",
    "call_back",
    "wrong_number",
    "voicemail",
    "other",
)
OUTCOME_WORDS: dict[str, str] = {
    "interested": "interested",
    "not_interested": "not interested",
    "call_back": "call back",
    "wrong_number": "wrong number",
    "voicemail": "voicemail",
    "other": "other",
}
NOTE_MAX = 1000


@dataclass(frozen=True)
class IncomingCall:
    """One `dial` row as the feed reads it: a call to the team line, forwarded to an agent."""

    key: str  # Kaleyra's id of the call: unique per call, so each is posted once
    caller: str  # E.164 when it parses, else as Kaleyra gave it
    agent_number: str  # E.164 when it parses, else as Kaleyra gave it
    started_at: str  # ISO, UTC
    billsec: int | None  # None: Kaleyra's value could not be read
    status: str
    location: str
    # Why the caller cannot be dialled back (another country, premium rate, not a number),
    # with the number masked; None when it passes the rules a typed number meets.
    caller_problem: str | None = None

    @property
    def missed(self) -> bool:
        """Not answered, or answered with no billed seconds."""
        return self.status.upper() != "ANSWER" or (self.billsec is not None and self.billsec <= 0)


# pending: to post; posting: a post begun, not known to have landed (reconciled with the
# channel's history before anything is posted again); posted: in the channel; skipped: too old
# when first read, never posted
FeedState = Literal["pending", "posting", "posted", "skipped"]
# Of a claimed missed call: dialling (no final status yet), then what the call came to. A call
# back that was not placed releases the claim instead, so the call waits for someone else.
CallbackState = Literal["dialling", "connected", "not_connected", "unknown"]


@dataclass(frozen=True)
class FeedCall:
    """An incoming call the feed has seen: where it was posted, and who called it back."""

    key: str
    caller: str
    agent_number: str
    agent_user: str | None  # the Slack user whose agent number took the call
    started_at: str  # ISO, UTC
    billsec: int
    status: str
    location: str
    missed: bool
    state: str  # FeedState
    channel: str | None
    message_ts: str | None
    claimed_by: str | None  # the agent who clicked Call back first
    claimed_at: str | None
    callback_call_id: int | None  # calls.id of the call back
    callback_state: str | None  # CallbackState
    callback_billsec: int | None
    created_at: str
    updated_at: str
    caller_problem: str | None = None  # why Call back cannot dial this caller (masked)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FeedCall:
        fields = {k: row.get(k) for k in cls.__dataclass_fields__}
        fields["missed"] = bool(fields["missed"])
        fields["billsec"] = int(fields["billsec"] or 0)
        return cls(**fields)


@dataclass(frozen=True)
class CallOutcome:
    """What came of a call the bot placed, logged by its caller; keyed by calls.id."""

    call_id: int
    user_id: str
    outcome: str  # OutcomeKind
    note: str
    followup_at: str | None  # ISO, UTC: when "call back" asked for a follow-up
    followup_id: str | None  # Kaleyra's id of that follow-up, once created
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CallOutcome:
        return cls(**{k: row.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class OutcomeDraft:
    """An outcome as submitted in the form, checked before it is stored."""

    user_id: str
    call_id: int
    outcome: str  # OutcomeKind
    note: str = ""
    followup_at: datetime | None = None  # aware; required for "call back"


@dataclass(frozen=True)
class BroadcastActivity:
    """One broadcast of the digest's window: how many numbers, and their statuses so far."""

    numbers: int
    accepted: int
    statuses: dict[str, int]


@dataclass(frozen=True)
class AgentActivity:
    user_id: str
    placed: int = 0
    answered: int = 0  # the customer answered
    talk_seconds: int = 0
    incoming_answered: int = 0
    followups_due: int = 0

    @property
    def answered_share(self) -> float:
        return self.answered / self.placed if self.placed else 0.0


@dataclass(frozen=True)
class ActivityDigest:
    """The team's last day on the phone, for the activity digest."""

    since: datetime  # aware, local
    until: datetime  # aware, local
    agents: tuple[AgentActivity, ...]
    incoming_answered: int
    incoming_missed: int
    missed_called_back_within_hour: int
    missed_waiting: int
    broadcasts: int
    broadcast_numbers: int
    broadcast_outcomes: dict[str, int]
    followups_due_today: int


# ---- obd

CampaignState = Literal[
    "pending",  # the confirmation is shown; nothing sent
    "running",  # chunks are being sent
    "paused",  # by a person, or by the calling window (pause_reason)
    "interrupted",  # the process stopped while it ran; the owner decides
    "tracking",  # every chunk handled; following the calls to their end
    "done",
    "cancelled",
    "expired",  # the confirmation was not clicked within CONFIRMATION_MINUTES
]
ChunkState = Literal["pending", "sending", "accepted", "refused", "unknown", "cancelled"]
CONFIRMATION_MINUTES = 15
# Worth calling again: never DND, blocked (blacklisted) or cancelled.
RETRYABLE_STATUSES = frozenset({"BUSY", "NOANSWER", "FAILED", "CONGESTION", "CHANUNAVAIL"})


class BroadcastPlan(BaseModel):
    """What a broadcast or dialer upload will do, checked before the confirmation is shown.

    Stored as the job's JSON and read back through this model; views render it.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["obd", "dialer"] = "obd"
    group: str | None = None  # a Kaleyra contact group instead of numbers
    play: str | None = None
    say: str | None = None
    campaign: str | None = None
    retries: int | None = None
    numbers: list[str] = Field(default_factory=list)  # E.164, in the order given
    national: list[str] = Field(default_factory=list)  # the same, as the legacy API wants them
    invalid: list[str] = Field(default_factory=list)
    duplicates: list[str] = Field(default_factory=list)
    blacklisted: list[str] = Field(default_factory=list)  # pretty numbers
    requests: int = 0  # Kaleyra requests (chunks) it takes
    at: datetime | None = None  # scheduled, aware in the account time zone
    at_text: str | None = None
    api_name: str = ""
    via_io: bool = False  # kaleyra.io Outbound Calling rather than the legacy Voice API
    messages: dict[str, str] = Field(default_factory=dict)  # E.164 -> its own message (voice.json)
    fields: dict[str, dict[str, str]] = Field(default_factory=dict)  # dialer custom columns
    calls_per_minute: int | None = None  # OBD_CALLS_PER_MINUTE when planned; None = no limit
    again_of: int | None = None  # the campaign whose unreached numbers this calls again

    @property
    def total(self) -> int:
        return 1 if self.group else len(self.numbers)

    @property
    def skipped(self) -> int:
        return len(self.invalid) + len(self.duplicates) + len(self.blacklisted)

    @property
    def paced(self) -> bool:
        return self.kind == "obd" and self.calls_per_minute is not None

    @property
    def estimated_minutes(self) -> float | None:
        """How long sending takes at the planned pace; None without a limit."""
        if not self.paced or self.calls_per_minute is None:
            return None
        return self.total / self.calls_per_minute


class BroadcastResult(StoredRow):
    """A campaign's outcome so far: counts when sending ended, statuses once the calls are read."""

    total: int = 0
    accepted: int = 0
    rejected: int = 0
    unknown: int = 0
    group_ids: list[str] = Field(default_factory=list)
    statuses: dict[str, int] = Field(default_factory=dict)  # Kaleyra status -> calls
    unreached: list[str] = Field(default_factory=list)  # E.164 worth calling again
    note: str | None = None
    file_withheld: bool = False  # its owner was no longer an admin: the CSV is for admins only


class Campaign(StoredRow):
    """A broadcast or dialer upload (a row of `jobs`): who, what, and where it stands."""

    id: int
    kind: Literal["obd", "dialer"]
    user_id: str  # the owner: the admin who asked for it
    state: CampaignState
    plan: BroadcastPlan
    result: BroadcastResult | None = None
    channel: str | None = None  # where its progress message is
    message_ts: str | None = None
    created_at: str  # ISO, UTC
    updated_at: str
    pause_reason: Literal["user", "window"] | None = None
    paused_by: str | None = None
    started_at: str | None = None
    results_at: str | None = None  # when the results summary was posted


class ChunkRow(StoredRow):
    """One Kaleyra request of a campaign: marked sending before it goes, settled after."""

    job_id: int
    idx: int  # 0-based, in sending order
    numbers: list[str] = Field(default_factory=list)  # E.164; empty for a contact group
    size: int  # numbers it covers (1 for a contact group)
    state: ChunkState
    group_ids: list[str] = Field(default_factory=list)
    code: str | None = None  # Kaleyra's error code when refused
    error: str | None = None  # what went wrong, in words
    sent_at: str | None = None  # ISO, UTC: marked sending
    done_at: str | None = None


class CampaignCounts(StoredRow):
    """Numbers (and chunks) of a campaign by chunk state."""

    numbers: dict[str, int] = Field(default_factory=dict)
    chunks: dict[str, int] = Field(default_factory=dict)

    def of(self, state: str) -> int:
        return self.numbers.get(state, 0)

    @property
    def total(self) -> int:
        return sum(self.numbers.values())

    @property
    def sent(self) -> int:
        """Numbers whose request went out and came back (or will never be known)."""
        return self.of("accepted") + self.of("refused") + self.of("unknown")

    @property
    def never_sent(self) -> int:
        return self.of("pending")

    @property
    def chunks_total(self) -> int:
        return sum(self.chunks.values())

    @property
    def chunks_done(self) -> int:
        return sum(self.chunks.get(s, 0) for s in ("accepted", "refused", "unknown"))


@dataclass(frozen=True)
class CampaignProgress:
    """What the progress message (and `/obd status <campaign>`) shows."""

    campaign: Campaign
    counts: CampaignCounts
    errors: tuple[str, ...] = ()  # "Request 3: Kaleyra refused it: …"
    group_ids: tuple[str, ...] = ()
    window: str | None = None  # "09:00-21:00 Asia/Kolkata" when paused by it
    resumes_at: str | None = None  # "2026-11-24 09:00" when paused by the window
    show_numbers: bool = True  # False: the reader is not an admin, Kaleyra's text is masked
    offer_results: bool = False  # an admin reads it: its owner's results file was withheld

    @property
    def finished(self) -> bool:
        return self.campaign.state in ("tracking", "done", "cancelled") and not (
            self.counts.of("pending") or self.counts.of("sending")
        )


@dataclass(frozen=True)
class CampaignListing:
    """One line of `/obd list`."""

    id: int
    kind: str
    user_id: str
    state: str
    created_at: str  # ISO, UTC
    name: str | None  # the Kaleyra campaign name given
    total: int
    counts: CampaignCounts


@dataclass(frozen=True)
class NumberOutcome:
    """One line of the results CSV."""

    number: str
    outcome: str  # Kaleyra's status, or REFUSED, UNKNOWN, NOT_SENT, SUBMITTED, NOT_REPORTED
    call_id: str
    sent_at: str
    chunk: int  # 1-based request number; 0 when never sent


@dataclass(frozen=True)
class CampaignResults:
    """The summary posted once every call of a campaign is final."""

    campaign: Campaign
    outcomes: dict[str, int]  # outcome -> numbers
    unreached: int  # numbers "Call the unreached again" would propose
    status_api: bool  # False on kaleyra.io: outcomes cannot be read, only what was submitted
    tracked_for: str = "about 3 h"  # how long calls are followed before the rest are unknown
    file_withheld: bool = False  # the owner is no longer an admin: the CSV goes to admins only


@dataclass(frozen=True)
class ControlOutcome:
    """What Pause, Resume or Cancel did to a campaign."""

    job_id: int
    verb: Literal["pause", "resume", "cancel"]
    changed: bool  # False: it was already in that state, or finished
    state: str
    not_called: int = 0  # cancel: numbers never sent
    resumes_at: str | None = None  # resume outside the calling window: when it starts itself


@dataclass(frozen=True)
class StartOutcome:
    """What clicking Start did."""

    job_id: int
    kind: str
    started: bool  # False: the confirmation had expired, or it asks first (`overlaps`)
    left_out: int = 0  # numbers blacklisted since the confirmation, not called
    # (id, owner, numbers shared) of other broadcasts of the last hour calling its numbers
    overlaps: tuple[tuple[int, str, int], ...] = ()
