"""/c2c text: dialling, lookups, registration and admin changes."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date

from bot.grammar import (
    CHANNEL,
    Help,
    OpenModal,
    UsageError,
    opening,
    parse_date,
    parse_number,
    parse_user,
    unknown_verb,
)
from bot.phones import NumberList, Phone, scan_numbers, split_entries


@dataclass(frozen=True)
class Dial:
    customer: Phone
    agent: Phone | None = None  # explicit first leg: admins only


@dataclass(frozen=True)
class CallStatus:
    call_id: str


@dataclass(frozen=True)
class CallLog:
    kind: str  # "log" (click-to-call) or "calls" (incoming forwarded to agents)
    from_date: date | None = None
    to_date: date | None = None


@dataclass(frozen=True)
class Register:
    number: Phone
    user_id: str | None = None  # someone else: admins only


@dataclass(frozen=True)
class Verify:
    code: str  # six digits


@dataclass(frozen=True)
class Unregister:
    user_id: str | None = None


@dataclass(frozen=True)
class WhoAmI:
    pass


@dataclass(frozen=True)
class AdminChange:
    action: str  # grant | revoke | list
    user_id: str | None = None


@dataclass(frozen=True)
class History:
    before_id: int | None = None  # a later page: calls older than this one


@dataclass(frozen=True)
class Feed:
    channel_id: str | None  # None = off


C2CCommand = (
    History
    | Feed
    | Dial
    | CallStatus
    | CallLog
    | Register
    | Verify
    | Unregister
    | WhoAmI
    | Help
    | OpenModal
    | AdminChange
)

_CALL_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CODE = re.compile(r"^\d{6}$")
# Slack's markup in message text: <target|label>, <target>, <@U…>, <#C…|name>, <!here>.
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def parse_code(text: str) -> str:
    """The 6-digit verification code, typed with or without spaces (`123 456`)."""
    code = "".join(text.split())
    if not _CODE.match(code):
        raise UsageError(
            "Give the 6-digit code the verification call read out: `/c2c verify 123456`."
        )
    return code


def visible_text(text: str) -> str:
    """What a reader sees of a Slack message: link labels, never link targets.

    `<tel:+449012345678|Call IT>` reads "Call IT"; a bare `<https://…>` reads as its address;
    mentions, channels and `<!here>` read as no number at all.
    """

    def shown(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#", "!")):
            return " "
        return f" {label} " if label is not None else f" {target} "

    return _MARKUP.sub(shown, text)


def numbers_in_message(text: str, region: str) -> NumberList:
    """The numbers a reader can see in a message, each checked like a typed number."""
    return scan_numbers(visible_text(text), region)


C2C_VERBS = (
    "status",
    "log",
    "calls",
    "register",
    "unregister",
    "verify",
    "whoami",
    "history",
    "feed",
    "admin",
    "help",
)
_LETTERS_ONLY = re.compile(r"^[a-z]{3,}$")


def parse_c2c(text: str, region: str) -> C2CCommand:
    first = opening(text)
    if not isinstance(first, tuple):
        return first
    head, rest = first
    if head == "whoami":
        if rest:
            raise UsageError("`/c2c whoami` takes nothing after it.")
        return WhoAmI()
    if head == "status":
        if len(rest) != 1 or not _CALL_ID.match(rest[0]):
            raise UsageError("Give one call id: `/c2c status c2c_5a7d85903dd7`.")
        return CallStatus(rest[0])
    if head in {"log", "calls"}:
        if len(rest) > 2:
            raise UsageError(f"Use `/c2c {head} [from-date [to-date]]`, dates as YYYY-MM-DD.")
        dates = [parse_date(w) for w in rest]
        if len(dates) == 2 and dates[0] > dates[1]:
            raise UsageError("The from-date is after the to-date.")
        return CallLog(head, *dates)
    if head == "register":
        if not rest:
            raise UsageError("Give your agent number: `/c2c register 9876543210`.")
        user_id = parse_user(rest[0])
        if user_id:
            if len(rest) < 2:
                raise UsageError("Give the number too: `/c2c register @someone 9876543210`.")
            return Register(parse_number(" ".join(rest[1:]), region, "agent"), user_id)
        return Register(parse_number(" ".join(rest), region, "agent"))
    if head == "verify":
        return Verify(parse_code(" ".join(rest)))
    if head == "admin":
        if rest == ["list"]:
            return AdminChange("list")
        user_id = (
            parse_user(rest[1])
            if len(rest) == 2 and rest[0].lower() in {"grant", "revoke"}
            else None
        )
        if not user_id:
            raise UsageError(
                "Use `/c2c admin grant @someone`, `/c2c admin revoke @someone` or `/c2c admin list`."
            )
        return AdminChange(rest[0].lower(), user_id)
    if head == "feed":
        return _parse_feed(rest)
    if head == "history":
        if rest and not (len(rest) == 1 and rest[0].isdigit()):
            raise UsageError("Use `/c2c history` (the Older button pages back).")
        return History(int(rest[0]) if rest else None)
    if head == "unregister":
        if not rest:
            return Unregister()
        user_id = parse_user(rest[0])
        if not user_id or len(rest) > 1:
            raise UsageError("Use `/c2c unregister` for yourself or `/c2c unregister @someone`.")
        return Unregister(user_id)
    near = difflib.get_close_matches(head, C2C_VERBS, n=1) if _LETTERS_ONLY.match(head) else []
    if near and not near[0].startswith(head):  # "regster", not "call" (a sentence)
        raise unknown_verb("/c2c", head, C2C_VERBS)
    return _parse_dial(text, region)


def _parse_dial(text: str, region: str) -> Dial:
    entries = split_entries(text)
    if len(entries) == 1:
        return Dial(parse_number(entries[0], region, "customer"))
    if len(entries) == 2:
        return Dial(
            customer=parse_number(entries[1], region, "customer"),
            agent=parse_number(entries[0], region, "agent"),
        )
    raise UsageError(
        f"I could not read `{text.strip()[:80]}`: use `/c2c <customer>` or, as an admin, "
        "`/c2c <agent> <customer>`. Type `/c2c help` for everything else."
    )


def _parse_feed(rest: list[str]) -> Feed:
    if len(rest) == 1 and rest[0].lower() == "off":
        return Feed(None)
    match = CHANNEL.match(rest[0]) if len(rest) == 1 else None
    if not match:
        raise UsageError(
            "Use `/c2c feed #channel` (pick it with # so Slack links it) or `/c2c feed off`."
        )
    return Feed(match.group(1))
