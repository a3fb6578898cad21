"""/followup text: add, list, edit, delete."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.grammar import (
    Help,
    OpenModal,
    UsageError,
    opening,
    parse_date,
    parse_number,
    parse_time,
    unknown_verb,
)
from bot.phones import Phone


@dataclass(frozen=True)
class FollowupAdd:
    phone: Phone
    when: datetime  # naive, in the account time zone
    name: str


@dataclass(frozen=True)
class FollowupList:
    scope: str = "mine"  # mine | all


@dataclass(frozen=True)
class FollowupEdit:
    followup_id: str


@dataclass(frozen=True)
class FollowupDelete:
    followup_id: str


FollowupCommand = FollowupAdd | FollowupList | FollowupEdit | FollowupDelete | Help | OpenModal
_FOLLOWUP_ID = re.compile(r"^#?(\d{1,12})$")


def _followup_id(words: list[str], verb: str) -> str:
    match = _FOLLOWUP_ID.match(words[0]) if len(words) == 1 else None
    if not match:
        raise UsageError(f"Give one follow-up id: `/followup {verb} 2351` (see `/followup list`).")
    return match.group(1)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}")
EXAMPLE = "`/followup add 9876543210 2026-11-24 16:30 Asha Rao`"


def _date_at(words: list[str]) -> int:
    """Where the date is among the words after `add`; UsageError naming what is wrong."""
    if not words:
        raise UsageError(f"Give the phone, the date, the time and a name: {EXAMPLE}.")
    found = next((i for i, w in enumerate(words) if _DATE.fullmatch(w)), None)
    if found == 0:
        raise UsageError(f"The phone number is missing: it comes before the date, as in {EXAMPLE}.")
    if found is not None:
        return found
    # The phone is the first run of number-like words; what follows it should have been a date.
    after = next((i for i, w in enumerate(words) if re.search(r"[^\d+()\-.]", w)), len(words))
    if after == 0:
        raise UsageError(f"`{words[0][:40]}` is not a phone number: {EXAMPLE}.")
    if after < len(words):
        raise UsageError(
            f"`{words[after][:40]}` is not a date: write the date as YYYY-MM-DD, as in {EXAMPLE}."
        )
    raise UsageError(f"The date is missing after the phone number: {EXAMPLE}.")


def parse_followup(text: str, region: str) -> FollowupCommand:
    first = opening(text)
    if not isinstance(first, tuple):
        return first
    head, rest = first
    if head == "list":
        if len(rest) > 1 or (rest and rest[0].lower() not in {"mine", "all"}):
            raise UsageError("Use `/followup list`, `/followup list mine` or `/followup list all`.")
        return FollowupList(rest[0].lower() if rest else "mine")
    if head == "edit":
        return FollowupEdit(_followup_id(rest, "edit"))
    if head == "delete":
        return FollowupDelete(_followup_id(rest, "delete"))
    if head != "add" and head.isalpha():
        raise unknown_verb("/followup", head, ("add", "list", "edit", "delete", "help"))
    if head != "add":
        raise UsageError(
            "Use `/followup add <phone> <YYYY-MM-DD> <HH:MM> <name>`, `list`, `edit <id>` or `delete <id>`."
        )
    date_at = _date_at(rest)
    if len(rest) < date_at + 2:
        raise UsageError(
            "The time is missing after the date: HH:MM, e.g. "
            f"`/followup add {' '.join(rest[: date_at + 1])} 16:30 Asha Rao`."
        )
    phone = parse_number(" ".join(rest[:date_at]), region, "customer")
    when = datetime.combine(parse_date(rest[date_at]), parse_time(rest[date_at + 1]))
    name = " ".join(rest[date_at + 2 :]).strip()
    if not name:
        raise UsageError(
            "The name is missing after the time: who is being called back? e.g. "
            f"`/followup add {' '.join(rest[: date_at + 2])} Asha Rao`."
        )
    if len(name) > 100:
        raise UsageError("Keep the name under 100 characters.")
    return FollowupAdd(phone, when, name)
