"""Every view builder, fed the largest realistic inputs, gives payloads Slack accepts.

Each public function of bot/views/*.py has a case here (a new builder without one fails
`test_every_builder_has_a_case`). A case builds its payloads from the longest names, notes and
reasons the forms allow, hostile `<!channel>`-style text wherever a person or Kaleyra supplies
words, and the largest counts the services pass (50+ follow-ups, 200 calls, 500 log rows, many
incidents, campaigns and chunks). Each payload must pass bot.local.blockkit (Slack's documented
limits) and show no live mention or forged link in mrkdwn or in the notification text.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.kaleyra.errors import KaleyraAPIError, KaleyraBadAnswer
from bot.kaleyra.models import C2CCall, CallDetail, HealthReport, Incident, KeyStyle, ObdCall
from bot.local.blockkit import check_message, check_view
from bot.models import (
    NOTE_MAX,
    AccountNote,
    ActivityDigest,
    AdminChanged,
    AdminRoster,
    AgentActivity,
    AgentStatus,
    AlreadyHandled,
    AskFirst,
    AuditEntry,
    Blacklisted,
    BlacklistEntry,
    BlacklistPage,
    BroadcastPlan,
    BroadcastResult,
    CallHistory,
    CallLogPage,
    CallOutcome,
    CallRow,
    Campaign,
    CampaignCounts,
    CampaignListing,
    CampaignProgress,
    CampaignResults,
    ClaimTaken,
    ControlOutcome,
    Dialling,
    FeedCall,
    Followup,
    HealthChange,
    KaleyraAccount,
    Redial,
    Registration,
    SentEntry,
    StartOutcome,
)
from bot.phones import BadEntry, NumberList, Phone
from bot.views import blacklist, c2c, callfeed, common, followup, home, obd, shortcut, voicehealth
from tests.support.sandbox import IST

MODULES: tuple[ModuleType, ...] = (
    blacklist,
    c2c,
    callfeed,
    common,
    followup,
    home,
    obd,
    shortcut,
    voicehealth,
)
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=IST)
TZ_NAME = "America/Argentina/ComodRivadavia"  # a zone key: Settings accepts only real ones
# What a hostile user, or a replayed Kaleyra answer, puts where words go.
HOSTILE = "<!channel> <https://evil.example/login|Re-enter your password> & <@U0BOSS> *now*"
LIVE_MARKUP = ("<!channel>", "<!here>", "<!everyone>", "<https://evil.example", "<@U0BOSS>")


def hostile(length: int) -> str:
    """`length` characters of hostile text (escaping makes it several times longer)."""
    return (HOSTILE + " ") * (length // (len(HOSTILE) + 1)) + HOSTILE[: length % (len(HOSTILE) + 1)]


NAME = hostile(100)  # Kaleyra's follow-up name: at most 100 characters
NOTES = hostile(1000)  # follow-up notes: at most 1000
KALEYRA_TEXT = hostile(5000)  # an error or status text Kaleyra sent back: unbounded
AGENT = Phone.known("+919876543210")
CUSTOMER = Phone.known("+919812345678")
FOREIGN = Phone.known("+442079460958")
PHONES = [Phone.known(f"+9198{i:08d}") for i in range(500)]
USERS = [f"U{i:010d}" for i in range(300)]


# ------------------------------------------------------------------ inputs


def followup_item(i: int = 0, **changes: Any) -> Followup:
    fields: dict[str, Any] = {
        "id": f"{9_000_000_000 + i}",
        "phone": PHONES[i % 500].e164,
        "name": NAME,
        "follower": AGENT.e164,
        "ontime": NOW + timedelta(minutes=i),
        "notes": NOTES,
        "autocall": True,
        "user_id": USERS[i % 300],
    }
    return Followup(**{**fields, **changes})


FOLLOWUPS = [followup_item(i) for i in range(60)] + [
    followup_item(60, phone=hostile(60), user_id=None, ontime=NOW - timedelta(days=1))
]


def call_row(i: int = 0, **changes: Any) -> CallRow:
    fields: dict[str, Any] = {
        "id": i + 1,
        "kind": "c2c",
        "user_id": USERS[0],
        "agent_number": AGENT.e164,
        "customer_number": PHONES[i % 500].e164,
        "kaleyra_id": f"{10**11 + i}",
        "state": ("final", "placed", "placing", "unknown", "failed", hostile(40))[i % 6],
        "status1": (hostile(30) if i % 7 == 0 else "ANSWER"),
        "status2": "NOANSWER",
        "duration": 99_999,
        "billsec": 99_998,
        "recording": "https://recordings.kaleyra.example/" + "r" * 400,
        "channel": "D0AGENT",
        "message_ts": "1700000000.000100",
        "callback_token": "t" * 64,
        "error": KALEYRA_TEXT,
        "created_at": "2026-11-23T05:00:00+00:00",
        "updated_at": "2026-11-23T05:00:00+00:00",
        "final_at": None,
    }
    return CallRow(**{**fields, **changes})


CALLS = [call_row(i) for i in range(200)]


def feed_call(i: int = 0, **changes: Any) -> FeedCall:
    fields: dict[str, Any] = {
        "key": f"{i:0>60}",
        "caller": PHONES[i % 500].e164,
        "agent_number": hostile(30),  # as Kaleyra gave it, when it does not parse
        "agent_user": USERS[i % 300] if i % 2 else None,
        "started_at": "2026-11-22T05:29:00+00:00",
        "billsec": 86_399,
        "status": hostile(30),
        "location": hostile(300),
        "missed": True,
        "state": "posted",
        "channel": "C0CALLS",
        "message_ts": "1.1",
        "claimed_by": None,
        "claimed_at": None,
        "callback_call_id": None,
        "callback_state": None,
        "callback_billsec": None,
        "created_at": "2026-11-23T05:30:00+00:00",
        "updated_at": "2026-11-23T05:30:00+00:00",
    }
    return FeedCall(**{**fields, **changes})


MISSED = [feed_call(i) for i in range(40)]
OUTCOME = CallOutcome(1, USERS[0], "call_back", hostile(NOTE_MAX), NOW.isoformat(), "2351", "", "")
ODD_OUTCOME = CallOutcome(2, USERS[0], hostile(40), hostile(NOTE_MAX), None, None, "", "")


def c2c_call(i: int = 0, **changes: Any) -> C2CCall:
    fields: dict[str, Any] = {
        "id": f"{hostile(40)}{i}",
        "callfrom": hostile(40),
        "callto": PHONES[i % 500].national,
        "start_time": hostile(40),
        "duration": 99_999,
        "billsec": 99_998,
        "status": hostile(30),
        "status2": "ANSWER",
        "recording": "https://recordings.kaleyra.example/" + "r" * 400,
    }
    return C2CCall(**{**fields, **changes})


def call_detail(i: int = 0) -> CallDetail:
    return CallDetail(
        id=f"{hostile(40)}{i}",
        callfrom=PHONES[i % 500].national,
        callto=hostile(40),
        date=hostile(40),
        duration=99_999,
        status="CHANUNAVAIL",
        status2=hostile(30),
    )


LOG_ROWS = [c2c_call(i) for i in range(500)]
DETAIL_ROWS = [call_detail(i) for i in range(500)]


def incident(i: int, kind: str = "critical") -> Incident:
    return Incident(
        region=f"{hostile(200)} {i}",
        region_code=hostile(40),
        type=kind,
        service=hostile(100),
        numbers=[hostile(20) for _ in range(30)],
    )


INCIDENTS = [
    incident(i, ("critical", "warning", "operational", hostile(20))[i % 4]) for i in range(300)
]
REPORT = HealthReport(incidents=INCIDENTS)
ACCOUNT_NOTES = [
    AccountNote(None),
    AccountNote(
        KaleyraAccount(
            key_style=KeyStyle.API_KEY_HEADER,
            group_status_method=hostile(30),
            checked_at=datetime(2026, 11, 23, 5, 30, tzinfo=IST),
        )
    ),
]
CHANGES = [
    HealthChange(kind=("new", "moved", "cleared")[i % 3], before=incident(i), now=incident(i + 1))
    for i in range(200)
]
MISSED_SENDS = [
    SentEntry(
        key=f"reminder:{i}",
        kind=hostile(30),
        due_at="2026-11-22T05:00:00+00:00",
        state="missed",
        detail=hostile(500),
    )
    for i in range(100)
]


def bad_entries(n: int) -> list[BadEntry]:
    return [
        BadEntry(i + 1, hostile(40), f'"{hostile(40)}" is a United Kingdom number')
        for i in range(n)
    ]


FOUND = NumberList(valid=PHONES[:50], invalid=bad_entries(300), duplicates=bad_entries(300))


def plan(**changes: Any) -> BroadcastPlan:
    numbers = [p.e164 for p in PHONES] * 20  # 10,000 numbers
    fields: dict[str, Any] = {
        "kind": "obd",
        "play": hostile(200),
        "say": hostile(1000),
        "campaign": hostile(100),
        "retries": 2,
        "numbers": numbers,
        "national": [n[3:] for n in numbers],
        "invalid": [f'#{i} "{hostile(40)}" is too short' for i in range(2000)],
        "duplicates": [f"#{i} {hostile(40)}" for i in range(2000)],
        "blacklisted": [p.pretty for p in PHONES],
        "requests": 50,
        "at_text": hostile(60),
        "api_name": "the legacy Voice API (voice.call)",
        "messages": {n: hostile(1000) for n in numbers[:200]},
        "calls_per_minute": 1,
        "again_of": 999_999,
    }
    return BroadcastPlan(**{**fields, **changes})


def campaign(state: str = "running", kind: str = "obd", **changes: Any) -> Campaign:
    result = BroadcastResult(
        total=10_000,
        accepted=9_000,
        rejected=500,
        unknown=500,
        group_ids=[hostile(30) for _ in range(200)],
        statuses={hostile(20) + str(i): 10 for i in range(100)} | {"ANSWER": 5_000},
        unreached=[p.e164 for p in PHONES],
        note=KALEYRA_TEXT,
    )
    fields: dict[str, Any] = {
        "id": 999_999,
        "kind": kind,
        "user_id": USERS[0],
        "state": state,
        "plan": plan(kind=kind, group=hostile(40) if kind == "group" else None),
        "result": result,
        "created_at": "2026-11-23T05:00:00+00:00",
        "updated_at": "2026-11-23T05:00:00+00:00",
        "pause_reason": "window" if state == "paused" else None,
        "paused_by": USERS[1],
    }
    return Campaign(**{**fields, **changes})


COUNTS = CampaignCounts(
    numbers={
        "accepted": 9_000,
        "refused": 400,
        "unknown": 300,
        "pending": 200,
        "cancelled": 100,
        "sending": 200,
    },
    chunks={"accepted": 45, "refused": 2, "unknown": 1, "pending": 2},
)
STATES = ("pending", "running", "paused", "interrupted", "tracking", "done", "cancelled", "expired")


def progress(state: str = "running", kind: str = "obd", **changes: Any) -> CampaignProgress:
    return CampaignProgress(
        campaign=campaign(state, kind, **changes),
        counts=COUNTS,
        errors=tuple(f"Request {i}: Kaleyra refused it: {KALEYRA_TEXT}" for i in range(50)),
        group_ids=tuple(hostile(30) for _ in range(200)),
        window=hostile(40),
        resumes_at=hostile(40),
    )


PROGRESSES = [progress(s) for s in STATES] + [progress("paused", pause_reason="user")]
PROGRESSES += [progress(s, "dialer") for s in ("running", "done")]
LISTINGS = [
    CampaignListing(
        id=999_990 + i,
        kind=("obd", "dialer")[i % 2],
        user_id=USERS[i],
        state=STATES[i % len(STATES)],
        created_at="2026-11-23T05:00:00+00:00",
        name=hostile(100),
        total=10_000,
        counts=COUNTS,
    )
    for i in range(20)
]
OBD_ROWS = [
    ObdCall(id=f"217691534-{i}", mobile=hostile(20), status=hostile(20), senttime=hostile(30))
    for i in range(1000)
]
REDIAL = Redial(AGENT.e164, CUSTOMER.e164, 2, 900, "n" * 32)
OVERRIDE = Redial(AGENT.e164, CUSTOMER.e164, 2, 900, "n" * 32, claim="k" * 64, override=True)
BLACKLISTED = [
    Blacklisted(AGENT, CUSTOMER, "U0ASHA", datetime(2026, 11, 23, 10), reason, override)
    for reason in ("", hostile(500))
    for override in (None, OVERRIDE)
]
REGISTRATIONS = [
    Registration(USERS[0], FOREIGN, verified=False, code="123456"),
    Registration(USERS[0], AGENT, verified=True),
    Registration(USERS[0], AGENT, verified=True, unchanged=True),
]
STATUSES = [
    AgentStatus(USERS[0], AGENT.e164, "admin", True),
    AgentStatus(USERS[0], FOREIGN.e164, "agent", False),
    AgentStatus(USERS[0], None, "agent", False),
]
AUDIT = [
    AuditEntry(
        id=i,
        at="2026-11-23T05:00:00+00:00",
        user_id=hostile(20),
        action=hostile(60),
        outcome=hostile(200),
    )
    for i in range(100)
]
BLACKLIST = [
    BlacklistEntry(
        number=PHONES[i].e164,
        added_by=USERS[i % 300],
        added_at=NOW.isoformat(),
        reason=hostile(2000),
    )
    for i in range(60)
]
KALEYRA_ERRORS = [
    KaleyraAPIError("E" * 20, KALEYRA_TEXT, field_errors={hostile(30): KALEYRA_TEXT}).user_message,
    KaleyraBadAnswer("voice.call", KALEYRA_TEXT, outcome_unknown=True).user_message,
]


def digest(agents: int = 300) -> ActivityDigest:
    activity = tuple(
        AgentActivity(USERS[i % 300], 9_999, 5_000, 10**7, 999, 999) for i in range(agents)
    )
    outcomes = {hostile(20) + str(i): i for i in range(100)}
    return ActivityDigest(
        NOW, NOW, activity, 10**6, 10**6, 10**6, 10**6, 10**4, 10**7, outcomes, 999
    )


# ------------------------------------------------------------------ cases

Case = Callable[[], Iterable[Any]]
CASES: dict[str, Case] = {
    # blacklist
    "blacklist.help_message": lambda: [blacklist.help_message()],
    "blacklist.modal": lambda: [blacklist.modal()],
    "blacklist.changed_message": lambda: [
        blacklist.changed_message(verb, phones)
        for verb in ("Blacklisted", "Removed")
        for phones in (PHONES, PHONES[:1])
    ],
    "blacklist.removed_message": lambda: [
        blacklist.removed_message(removed, unlisted)
        for removed in (PHONES, PHONES[:1], [])
        for unlisted in (PHONES, PHONES[:1], [])
        if removed or unlisted
    ],
    "blacklist.list_message": lambda: (
        [blacklist.list_message(BlacklistPage(BLACKLIST, 100_000, show)) for show in (True, False)]
        + [blacklist.list_message(BlacklistPage([], 0, False))]
    ),
    # c2c
    "c2c.help_message": lambda: [c2c.help_message()],
    "c2c.dial_modal": lambda: [
        c2c.dial_modal(number, can_change_agent=change)
        for number in (AGENT.e164, None, hostile(3000))
        for change in (True, False)
    ],
    "c2c.call_card": lambda: [
        c2c.call_card(
            agent=FOREIGN.pretty,
            customer=hostile(40),
            kaleyra_id=hostile(2000),
            state=state,
            status1=status1,
            status2=hostile(30),
            duration=99_999,
            billsec=99_998,
            recording=recording,
            error=KALEYRA_TEXT,
            call_id=2**31,
        )
        for state in ("placing", "placed", "unknown", "failed", "untracked", "final")
        for status1 in ("ANSWER", hostile(30), None)
        for recording in ("https://r.example/" + "r" * 480, HOSTILE)
    ],
    "c2c.redial_confirm": lambda: [c2c.redial_confirm(AskFirst(FOREIGN, CUSTOMER, REDIAL))],
    "c2c.dialling_text": lambda: [
        c2c.dialling_text(Dialling(FOREIGN, CUSTOMER, again)) for again in (True, False)
    ],
    "c2c.outcome_message": lambda: [
        c2c.outcome_message(outcome)
        for outcome in (
            Dialling(AGENT, FOREIGN),
            Dialling(AGENT, FOREIGN, again=True),
            AskFirst(AGENT, FOREIGN, REDIAL),
            AlreadyHandled(),
            *BLACKLISTED,
            ClaimTaken(CUSTOMER, "U0ASHA"),
        )
    ],
    "c2c.dm_after": lambda: [
        c2c.dm_after(outcome)
        for outcome in (
            Dialling(AGENT, FOREIGN),
            AskFirst(AGENT, FOREIGN, REDIAL),
            *BLACKLISTED,
            ClaimTaken(CUSTOMER, None),
        )
    ],
    "c2c.blacklisted_message": lambda: [
        c2c.blacklisted_message(b, masked=masked) for b in BLACKLISTED for masked in (True, False)
    ],
    "c2c.claim_taken_message": lambda: [
        c2c.claim_taken_message(ClaimTaken(CUSTOMER, holder)) for holder in ("U0ASHA", None)
    ],
    "c2c.not_dialled_message": lambda: [c2c.not_dialled_message()],
    "c2c.status_message": lambda: [
        c2c.status_message(call)
        for call in (c2c_call(), c2c_call(status="ANSWER"), C2CCall(id=hostile(2000)))
    ],
    "c2c.log_message": lambda: [
        c2c.log_message(hostile(500), rows, more=more, full_numbers=full)
        for rows in (LOG_ROWS, DETAIL_ROWS, [])
        for more in (True, False)
        for full in (None, frozenset(), frozenset(r.id for r in LOG_ROWS[:10]))
    ],
    "c2c.log_page_message": lambda: [
        c2c.log_page_message(CallLogPage(hostile(500), LOG_ROWS, True, frozenset()))
    ],
    "c2c.whoami_message": lambda: [c2c.whoami_message(s) for s in STATUSES],
    "c2c.history_message": lambda: [
        c2c.history_message(CallHistory(USERS[0], (), {}, None)),
        c2c.history_message(
            CallHistory(
                USERS[0],
                tuple(call_row(i) for i in range(20)),
                {1: OUTCOME, 2: ODD_OUTCOME},
                10**9,
            )
        ),
    ],
    "c2c.registration_message": lambda: [
        c2c.registration_message(r, show_code=show) for r in REGISTRATIONS for show in (True, False)
    ],
    "c2c.verified_message": lambda: [c2c.verified_message(FOREIGN)],
    "c2c.unregistered_message": lambda: [
        c2c.unregistered_message(USERS[0], removed) for removed in (True, False)
    ],
    "c2c.admins_message": lambda: [
        c2c.admins_message(AdminRoster(tuple(USERS), frozenset(USERS[:150]))),
        c2c.admins_message(AdminChanged("grant", USERS[0], True)),
        c2c.admins_message(AdminChanged("revoke", USERS[0], True)),
        c2c.admins_message(AdminChanged("revoke", USERS[0], False)),
    ],
    "c2c.register_modal": lambda: [
        c2c.register_modal(number) for number in (None, AGENT.e164, hostile(3000))
    ],
    "c2c.verify_modal": lambda: [
        c2c.verify_modal(r, show_code=show) for r in REGISTRATIONS for show in (True, False)
    ],
    "c2c.verification_call_text": lambda: [c2c.verification_call_text("123456")],
    "c2c.verification_failed_message": lambda: [
        c2c.verification_failed_message(FOREIGN, problem) for problem in KALEYRA_ERRORS
    ],
    # callfeed
    "callfeed.talk_time": lambda: [callfeed.talk_time(s) for s in (None, 0, 59, 60, 10**9)],
    "callfeed.feed_message": lambda: [
        callfeed.feed_message(item, IST, outcome=outcome, released_by=USERS[2], now=NOW)
        for item in (
            feed_call(),
            feed_call(1, missed=False),
            feed_call(2, claimed_by=USERS[3], callback_state="connected", callback_billsec=10**6),
            feed_call(3, claimed_by=USERS[3], callback_state=hostile(30)),
        )
        for outcome in (OUTCOME, ODD_OUTCOME, None)
    ],
    "callfeed.feed_channel_message": lambda: [
        callfeed.feed_channel_message(channel) for channel in ("C0CALLS", None)
    ],
    "callfeed.feed_outage_message": lambda: [
        callfeed.feed_outage_message(problem, recovered=recovered)
        for problem in KALEYRA_ERRORS
        for recovered in (True, False)
    ],
    "callfeed.calling_back_message": lambda: [callfeed.calling_back_message(feed_call())],
    "callfeed.already_claimed_message": lambda: [
        callfeed.already_claimed_message(feed_call(claimed_by=USERS[1]), user)
        for user in (USERS[1], USERS[2])
    ],
    "callfeed.log_outcome_button": lambda: [callfeed.log_outcome_button(2**63)],
    "callfeed.outcome_modal": lambda: [
        callfeed.outcome_modal(call_row(), outcome, IST) for outcome in (OUTCOME, ODD_OUTCOME, None)
    ],
    "callfeed.outcome_errors": lambda: [
        callfeed.outcome_errors({"outcome": KALEYRA_TEXT, "note": "x", hostile(20): "y"})
    ],
    "callfeed.outcome_line": lambda: [callfeed.outcome_line(o) for o in (OUTCOME, ODD_OUTCOME)],
    "callfeed.followup_made_message": lambda: [
        callfeed.followup_made_message(hostile(100), NOW, TZ_NAME)
    ],
    "callfeed.followup_failed_message": lambda: [
        callfeed.followup_failed_message(problem) for problem in KALEYRA_ERRORS
    ],
    "callfeed.missed_calls_section": lambda: [
        callfeed.missed_calls_section(missed, IST) for missed in (MISSED, [])
    ],
    "callfeed.activity_digest_message": lambda: [
        callfeed.activity_digest_message(digest(n), TZ_NAME) for n in (300, 0)
    ],
    # common
    "common.status_words": lambda: [common.status_words(s) for s in (None, "ANSWER", HOSTILE)],
    "common.escape": lambda: [common.escape(KALEYRA_TEXT)],
    "common.plural": lambda: [common.plural(n, "number") for n in (0, 1, 2)],
    "common.slack_date": lambda: [common.slack_date("2026-11-23T05:26:00+00:00")],
    "common.local_time": lambda: [
        common.local_time(text, ZoneInfo("Asia/Kolkata"))
        for text in ("2026-11-23 10:56:00", HOSTILE)
    ],
    "common.clip": lambda: [common.clip(common.escape(KALEYRA_TEXT)), common.clip(NAME, 75)],
    "common.section": lambda: [common.section(common.escape(KALEYRA_TEXT))],
    "common.sections": lambda: [
        common.message(
            common.sections([common.escape(hostile(n)) for n in (10, 5000, 900) * 20]), "t"
        )
    ],
    "common.context": lambda: [common.context(common.escape(KALEYRA_TEXT))],
    "common.header": lambda: [common.header(KALEYRA_TEXT)],
    "common.button": lambda: [
        common.button(KALEYRA_TEXT, "a" * 255, KALEYRA_TEXT, "danger"),
        common.button("Go", "go"),
    ],
    "common.text_element": lambda: [
        common.text_element("t", initial=KALEYRA_TEXT, multiline=True, placeholder=KALEYRA_TEXT),
        common.text_element("t", initial=KALEYRA_TEXT, max_length=12),
    ],
    "common.form": lambda: [
        common.form(
            "c" * 255,
            KALEYRA_TEXT,
            KALEYRA_TEXT,
            [common.input_block("b", KALEYRA_TEXT, common.text_element("t"), hint=KALEYRA_TEXT)],
            private_metadata="m" * 3000,
        )
    ],
    "common.retry_options": lambda: [
        {"type": "static_select", "action_id": "r", "options": common.retry_options()}
    ],
    "common.input_block": lambda: [
        common.form(
            "c",
            "t",
            "s",
            [
                common.input_block(f"b{i}", KALEYRA_TEXT, common.text_element("t"), hint=HOSTILE)
                for i in range(100)
            ],
        )
    ],
    "common.actions": lambda: [
        common.actions("b" * 255, *(common.button(HOSTILE, f"a{i}", HOSTILE) for i in range(25)))
    ],
    "common.message": lambda: [
        common.message(
            [common.section(common.escape(KALEYRA_TEXT))] * 80, common.escape(KALEYRA_TEXT * 10)
        )
    ],
    "common.with_notice": lambda: [
        common.with_notice(common.message([common.section("x")] * 80, "t")),
        common.with_notice(common.with_notice(common.info_message("x"))),
        common.with_notice({"type": "home", "blocks": [common.section("x")] * 100}),
    ],
    "common.error_message": lambda: [
        common.error_message(p) for p in [KALEYRA_TEXT, *KALEYRA_ERRORS]
    ],
    "common.info_message": lambda: [common.info_message(common.escape(KALEYRA_TEXT))],
    "common.describe_kaleyra_error": lambda: [
        common.describe_kaleyra_error(KaleyraAPIError("E1", KALEYRA_TEXT))
    ],
    # followup
    "followup.help_message": lambda: [followup.help_message()],
    "followup.modal": lambda: [
        followup.modal(follower=follower, can_change_follower=change, item=item)
        for follower in (AGENT.e164, None)
        for change in (True, False)
        for item in (None, FOLLOWUPS[0], FOLLOWUPS[-1], followup_item(autocall=False, notes=""))
    ],
    "followup.list_message": lambda: [
        followup.list_message(items, scope=scope, tz=IST, tz_name=TZ_NAME, now=NOW)
        for items in (FOLLOWUPS, FOLLOWUPS[:1], [])
        for scope in ("mine", "all")
    ],
    "followup.saved_message": lambda: [
        followup.saved_message(item, tz=IST, tz_name=TZ_NAME, edited=edited)
        for item in (FOLLOWUPS[0], FOLLOWUPS[-1])
        for edited in (True, False)
    ],
    "followup.deleted_message": lambda: [followup.deleted_message(FOLLOWUPS[-1])],
    "followup.snoozed_message": lambda: [followup.snoozed_message(NOW, tz=IST, tz_name=TZ_NAME)],
    "followup.done_message": lambda: [followup.done_message(hostile(100))],
    "followup.reminder_message": lambda: [
        followup.reminder_message(item, tz=IST, tz_name=TZ_NAME, late=late)
        for item in (FOLLOWUPS[0], FOLLOWUPS[-1], followup_item(id=hostile(300)))
        for late in (True, False)
    ],
    # home
    "home.home_view": lambda: [
        home.home_view(
            status=status,
            calls=calls,
            followups=followups,
            tz=IST,
            tz_name=TZ_NAME,
            digest=digest_setting,
            audit=audit,
            missed=missed,
            outcomes={c.id: (OUTCOME, ODD_OUTCOME)[c.id % 2] for c in CALLS},
        )
        for status in STATUSES
        for calls, followups, missed, audit, digest_setting in (
            (CALLS, FOLLOWUPS, MISSED, AUDIT, ("C0HEALTH", hostile(20))),
            (CALLS, FOLLOWUPS, MISSED, AUDIT, (None, "09:00")),
            ([], [], [], [], None),
            ([], [], None, None, None),
        )
    ],
    # shortcut
    "shortcut.nothing_to_call_message": lambda: [
        shortcut.nothing_to_call_message(found)
        for found in (FOUND, NumberList([], [], []), NumberList([], bad_entries(1), []))
    ],
    "shortcut.confirm_message": lambda: [
        shortcut.confirm_message(AGENT, FOREIGN, found) for found in (FOUND, NumberList([], [], []))
    ],
    "shortcut.pick_modal": lambda: [
        shortcut.pick_modal(PHONES, FOUND),
        shortcut.pick_modal(PHONES[:2]),
        shortcut.pick_modal([FOREIGN, CUSTOMER], NumberList([], [], [])),
    ],
    # voicehealth
    "voicehealth.help_message": lambda: [voicehealth.help_message()],
    "voicehealth.health_message": lambda: [
        voicehealth.health_message(report, note)
        for report in (REPORT, HealthReport(), HealthReport(incidents=INCIDENTS[:1]))
        for note in (None, *ACCOUNT_NOTES)
    ],
    "voicehealth.account_context": lambda: [
        voicehealth.account_context(note) for note in ACCOUNT_NOTES
    ],
    "voicehealth.digest_set_message": lambda: [
        voicehealth.digest_set_message(hostile(30), hostile(30))
    ],
    "voicehealth.digest_off_message": lambda: [voicehealth.digest_off_message()],
    "voicehealth.changes_lines": lambda: voicehealth.changes_lines(CHANGES),
    "voicehealth.alert_message": lambda: [
        voicehealth.alert_message(changes) for changes in (CHANGES, CHANGES[:1])
    ],
    "voicehealth.outage_message": lambda: [
        voicehealth.outage_message(problem, recovered=recovered)
        for problem in KALEYRA_ERRORS
        for recovered in (True, False)
    ],
    "voicehealth.digest_message": lambda: [
        voicehealth.digest_message(report, changes, missed, late=late, problem=KALEYRA_TEXT)
        for report in (REPORT, HealthReport(), None)
        for changes, missed in ((CHANGES, MISSED_SENDS), ([], []))
        for late in (True, False)
    ],
    # obd
    "obd.outcome_words": lambda: [obd.outcome_words(o) for o in ("REFUSED", "ANSWER", HOSTILE)],
    "obd.duration": lambda: [obd.duration(m) for m in (0.5, 45, 10**6)],
    "obd.bar": lambda: [obd.bar(done, total) for done, total in ((0, 0), (5, 10), (10, 10))],
    "obd.help_message": lambda: [obd.help_message()],
    "obd.confirm_message": lambda: (
        [obd.confirm_message(campaign("pending", kind)) for kind in ("obd", "dialer")]
        + [obd.confirm_message(campaign("pending", plan=plan(group=hostile(40), numbers=[])))]
    ),
    "obd.start_message": lambda: [
        obd.start_message(StartOutcome(999_999, kind, started, 10_000))
        for kind in ("obd", "dialer")
        for started in (True, False)
    ],
    "obd.progress_message": lambda: [
        obd.progress_message(p, controls=controls) for p in PROGRESSES for controls in (True, False)
    ],
    "obd.interrupted_message": lambda: [obd.interrupted_message(p) for p in PROGRESSES],
    "obd.control_message": lambda: [
        obd.control_message(ControlOutcome(999_999, verb, changed, hostile(30), 10_000, resumes))
        for verb in ("pause", "resume", "cancel")
        for changed in (True, False)
        for resumes in (None, hostile(40))
    ],
    "obd.cancelled_message": lambda: [obd.cancelled_message(999_999)],
    "obd.results_message": lambda: [
        obd.results_message(
            CampaignResults(
                campaign("done", kind),
                {hostile(20) + str(i): 10 for i in range(100)} | {"REFUSED": 5},
                unreached,
                status_api,
            )
        )
        for kind in ("obd", "dialer")
        for unreached in (10_000, 0)
        for status_api in (True, False)
    ],
    "obd.status_message": lambda: [
        obd.status_message(ident, rows)
        for ident in ("217691534", "217691534-1")
        for rows in (OBD_ROWS, [])
    ],
    "obd.campaign_status_message": lambda: [obd.campaign_status_message(p) for p in PROGRESSES],
    "obd.list_message": lambda: [obd.list_message(LISTINGS), obd.list_message([])],
    "obd.obd_modal": lambda: [obd.obd_modal()],
}

# Builders that may answer None: nothing is shown for a repeated click.
MAY_BE_NONE = {"c2c.outcome_message", "c2c.dm_after"}
# Text helpers that return words unescaped by design: their callers escape them.
RAW_TEXT = {"common.status_words", "common.clip", "common.describe_kaleyra_error"}
RAW_TEXT |= {"obd.outcome_words"}


# ------------------------------------------------------------------ checking


def problems_of(built: Any) -> list[str]:
    """Slack's verdict on what a builder returned, whatever its shape."""
    if isinstance(built, str):  # a line or word the callers put in a section
        return [] if built.strip() else ["empty text"]
    if isinstance(built, list):  # blocks, as App Home places them
        return check_view({"type": "home", "blocks": built})
    assert isinstance(built, dict), type(built)
    if built.get("type") in {"modal", "home"}:
        return check_view(built)
    if "type" not in built and ("blocks" in built or "text" in built):
        return check_message(built)
    if built.get("type") in {"section", "context", "header", "actions", "input", "divider"}:
        if built["type"] == "input":
            return check_view(
                {"type": "modal", "title": _plain("t"), "submit": _plain("s"), "blocks": [built]}
            )
        return check_message({"blocks": [built], "text": "t"})
    if "type" in built:  # an element
        return check_message({"blocks": [{"type": "actions", "elements": [built]}], "text": "t"})
    return []  # a mapping that is not Block Kit (form errors by block)


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def live_markup(built: Any) -> list[str]:
    """Hostile markup still live where Slack parses it: mrkdwn texts and the fallback text."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                found.extend(m for m in LIVE_MARKUP if m in node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    if isinstance(built, str):  # a line that goes into mrkdwn
        return [m for m in LIVE_MARKUP if m in built]
    if isinstance(built, dict) and isinstance(built.get("text"), str):
        found.extend(f"fallback text: {m}" for m in LIVE_MARKUP if m in built["text"])
    walk(built)
    return found


def public_builders() -> set[str]:
    names = set()
    for module in MODULES:
        short = module.__name__.rsplit(".", 1)[1]
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(obj):
                continue
            if obj.__module__ == module.__name__:
                names.add(f"{short}.{name}")
    return names


def test_every_builder_has_a_case() -> None:
    builders = public_builders()
    assert sorted(builders - set(CASES)) == [], "add a case for each new view builder"
    assert sorted(set(CASES) - builders) == [], "a case for a builder that no longer exists"


@pytest.mark.parametrize("name", sorted(CASES))
def test_builder_output_is_accepted_by_slack(name: str) -> None:
    built = list(CASES[name]())
    assert built, "a case must build something"
    for i, payload in enumerate(built):
        if payload is None:
            assert name in MAY_BE_NONE, f"#{i} built nothing"
            continue
        found = problems_of(payload)
        if not (isinstance(payload, str) and name in RAW_TEXT):
            found += live_markup(payload)
        assert not found, f"variant #{i}: {found[:6]} in {json.dumps(payload)[:200]}"


def test_long_lists_are_split_into_sections_not_cut() -> None:
    listed = json.dumps(
        followup.list_message(FOLLOWUPS, scope="all", tz=IST, tz_name=TZ_NAME, now=NOW)
    )
    assert all(f"`#{item.id}`" in listed for item in FOLLOWUPS[: followup.LIST_LIMIT])
    shown = json.dumps(blacklist.list_message(BlacklistPage(BLACKLIST, 60, True)))
    assert all(Phone.known(e.number).pretty in shown for e in BLACKLIST)
    log = json.dumps(c2c.log_message("Log", LOG_ROWS, more=True))
    assert all(common.escape(r.id) in log for r in LOG_ROWS[: c2c.LOG_PAGE_SIZE])


# ------------------------------------------------------------------ the checker itself


def _section(text: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def _button(**changes: Any) -> dict[str, Any]:
    return {"type": "button", "text": _plain("Go"), "action_id": "go", "value": "1", **changes}


def _options(n: int) -> list[dict[str, Any]]:
    return [{"text": _plain(f"o{i}"), "value": f"v{i}"} for i in range(n)]


def _modal(*blocks: dict[str, Any], **changes: Any) -> dict[str, Any]:
    view = {"type": "modal", "title": _plain("Form"), "submit": _plain("Save"), "blocks": blocks}
    return {**view, "blocks": list(blocks), **changes}


def _input(element: dict[str, Any]) -> dict[str, Any]:
    return {"type": "input", "block_id": "b", "label": _plain("Label"), "element": element}


def _msg(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"blocks": list(blocks), "text": "t"}


def _actions(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements)}


SELECT = {"type": "static_select", "action_id": "s", "options": _options(3)}
BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("section text", _msg(_section("x" * 3001)), "3001 characters, over 3000"),
    ("empty text", _msg(_section(" ")), "empty text"),
    ("no content", {"text": "", "blocks": []}, "needs text or blocks"),
    ("header", _msg({"type": "header", "text": {"type": "mrkdwn", "text": "h"}}), "plain_text"),
    ("header length", _msg({"type": "header", "text": _plain("h" * 151)}), "over 150"),
    ("fields", _msg({"type": "section", "fields": [_plain("f")] * 11}), "over 10"),
    ("field length", _msg({"type": "section", "fields": [_plain("f" * 2001)]}), "over 2000"),
    ("button text", _msg(_actions(_button(text=_plain("b" * 76)))), "over 75"),
    ("button mrkdwn", _msg(_actions(_button(text={"type": "mrkdwn", "text": "b"}))), "plain"),
    ("button value", _msg(_actions(_button(value=""))), "button value empty"),
    ("value length", _msg(_actions(_button(value="v" * 2001))), "over 2000"),
    ("button style", _msg(_actions(_button(style="green"))), "bad style"),
    ("extra property", _msg(_actions(_button(disabled=True))), "invalid additional property"),
    ("25 elements", _msg(_actions(*(_button(action_id=f"a{i}") for i in range(26)))), "over 25"),
    ("10 elements", _msg({"type": "context", "elements": [_plain("c")] * 11}), "over 10"),
    ("50 blocks", _msg(*[_section()] * 51), "51 blocks, over 50"),
    ("100 blocks", _modal(*[_section()] * 101), "101 blocks, over 100"),
    ("block ids", _msg(_section(block_id="a"), _section(block_id="a")), "duplicate block_id"),
    ("action ids", _msg(_actions(_button(), _button())), "duplicate action_id"),
    ("block id length", _msg(_section(block_id="b" * 256)), "bad block_id"),
    ("options", _modal(_input({**SELECT, "options": _options(101)})), "101 options, over 100"),
    ("radio", _modal(_input({**SELECT, "type": "radio_buttons", "options": _options(11)})), "10"),
    (
        "option value",
        _modal(_input({**SELECT, "options": [{"text": _plain("o"), "value": "v" * 151}]})),
        "over 150",
    ),
    (
        "option text",
        _modal(_input({**SELECT, "options": [{"text": _plain("o" * 76), "value": "v"}]})),
        "75",
    ),
    ("initial option", _modal(_input({**SELECT, "initial_option": _options(5)[4]})), "not one of"),
    (
        "duplicate values",
        _modal(_input({**SELECT, "options": _options(2) * 2})),
        "duplicate option",
    ),
    ("modal title", _modal(title=_plain("t" * 25)), "over 24"),
    ("submit", {"type": "modal", "title": _plain("t"), "blocks": [_input(SELECT)]}, "submit"),
    ("metadata", _modal(private_metadata="m" * 3001), "over 3000"),
    ("label", _modal({**_input(SELECT), "label": {"type": "mrkdwn", "text": "l"}}), "plain_text"),
    (
        "confirm text",
        _msg(
            _actions(
                _button(
                    confirm={
                        "title": _plain("Sure?"),
                        "text": {"type": "mrkdwn", "text": "Really?"},
                        "confirm": _plain("Yes"),
                        "deny": _plain("No"),
                    }
                )
            )
        ),
        "confirm.text: must be plain_text",
    ),
    (
        "confirm deny",
        _msg(
            _actions(
                _button(confirm={"title": _plain("t"), "text": _plain("t"), "confirm": _plain("y")})
            )
        ),
        "without deny",
    ),
    (
        "max_length",
        _modal(_input({"type": "plain_text_input", "action_id": "t", "max_length": 3001})),
        "max_length: 1 to 3000",
    ),
    (
        "initial value",
        _modal(
            _input(
                {
                    "type": "plain_text_input",
                    "action_id": "t",
                    "max_length": 5,
                    "initial_value": "123456",
                }
            )
        ),
        "initial_value longer",
    ),
    (
        "placeholder",
        _modal(
            _input({"type": "plain_text_input", "action_id": "t", "placeholder": _plain("p" * 151)})
        ),
        "over 150",
    ),
    (
        "milliseconds",
        _modal(
            _input(
                {"type": "datetimepicker", "action_id": "d", "initial_date_time": 1_700_000_000_000}
            )
        ),
        "10 digits",
    ),
    (
        "emoji on mrkdwn",
        _msg(
            _section(),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "c", "emoji": True}]},
        ),
        "emoji",
    ),
    ("file in message", _msg(_input({"type": "file_input", "action_id": "f"})), "modals only"),
    (
        "number input",
        _modal(_input({"type": "number_input", "action_id": "n"})),
        "is_decimal_allowed",
    ),
    ("unknown block", _msg({"type": "sectoin", "text": _plain("x")}), "unknown block type"),
]


@pytest.mark.parametrize(
    ("payload", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_the_checker_refuses_what_slack_refuses(payload: dict[str, Any], expected: str) -> None:
    found = check_view(payload) if payload.get("type") == "modal" else check_message(payload)
    assert any(expected in problem for problem in found), found


def test_the_checker_accepts_what_slack_accepts() -> None:
    confirm = {
        "title": _plain("t"),
        "text": _plain("t"),
        "confirm": _plain("y"),
        "deny": _plain("n"),
    }
    message_ = _msg(
        {"type": "header", "text": _plain("h" * 150)},
        _section("x" * 3000, block_id="a", accessory=_button()),
        {"type": "section", "fields": [_plain("f" * 2000)] * 10},
        _actions(*(_button(action_id=f"a{i}", confirm=confirm) for i in range(25))),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c", "verbatim": True}] * 10},
        {"type": "divider"},
        *[_section()] * 44,
    )
    assert check_message(message_) == []
    picker = {"type": "datetimepicker", "action_id": "d", "initial_date_time": 1_700_000_000}
    number = {"type": "number_input", "action_id": "n", "is_decimal_allowed": False}
    checkboxes = {"type": "checkboxes", "action_id": "c", "options": _options(10)}
    checkboxes["initial_options"] = checkboxes["options"][:2]
    view = _modal(
        _input({**SELECT, "options": _options(100), "initial_option": _options(1)[0]}),
        {**_input(picker), "block_id": "d"},
        {**_input({**number, "min_value": "0", "max_value": "900"}), "block_id": "n"},
        {**_input(checkboxes), "block_id": "c", "optional": True},
        {**_input({"type": "file_input", "action_id": "f", "max_files": 1}), "block_id": "f"},
        title=_plain("t" * 24),
        private_metadata="m" * 3000,
        callback_id="c" * 255,
    )
    assert check_view(view) == []
