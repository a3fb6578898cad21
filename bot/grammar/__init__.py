"""Slash-command text grammar: text in, a typed command or a UsageError out."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from bot.phones import InvalidNumber, Phone, parse_phone


class UsageError(ValueError):
    """The text does not fit the grammar; the message says what is wrong and what to type."""


_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")


def parse_user(token: str) -> str | None:
    match = _USER.match(token)
    return match.group(1) if match else None


def parse_date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise UsageError(f'"{text}" is not a date: use YYYY-MM-DD, for example 2026-11-23.')


def parse_time(text: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text)
    if not match:
        raise UsageError(
            f'"{text}" is not a time: use HH:MM on the 24-hour clock, for example 09:30.'
        )
    return time(int(match.group(1)), int(match.group(2)))


def parse_number(text: str, region: str, what: str) -> Phone:
    try:
        return parse_phone(text, region)
    except InvalidNumber as exc:
        raise UsageError(f"The {what} number {exc}.") from None


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class OpenModal:
    pass


def unknown_verb(command: str, word: str, verbs: Iterable[str]) -> UsageError:
    """A first word the command does not take, with the nearest one it does."""
    guess = difflib.get_close_matches(word.lower(), list(verbs), n=1, cutoff=0.6)
    hint = f" Did you mean `{command} {guess[0]}`?" if guess else ""
    return UsageError(
        f"`{command}` has no `{word[:40]}`.{hint} Type `{command} help` for everything it takes."
    )


def opening(text: str) -> OpenModal | Help | tuple[str, list[str]]:
    """Every command's first step: no text opens its form, `help` shows its usage, anything
    else is its verb (lower-cased) and the words after it."""
    words = text.split()
    if not words:
        return OpenModal()
    head = words[0].lower()
    if head == "help":
        return Help()
    return head, words[1:]


# A list of numbers where every entry must be valid.
def strict_numbers(text: str, region: str, what: str = "numbers") -> list[Phone]:
    """Every entry must be valid: one bad entry refuses the lot, naming each by position."""
    from bot.phones import parse_number_list

    parsed = parse_number_list(text, region)
    if parsed.invalid:
        shown = "; ".join(str(b) for b in parsed.invalid[:10])
        more = f" and {len(parsed.invalid) - 10} more" if len(parsed.invalid) > 10 else ""
        raise UsageError(
            f"Some {what} are not valid: {shown}{more}. Nothing was done; fix them and try again."
        )
    if not parsed.valid:
        raise UsageError(f"Give at least one of the {what}, e.g. 9876543210.")
    return parsed.valid
