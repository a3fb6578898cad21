"""/blacklist text: add, remove, list."""

from __future__ import annotations

from dataclasses import dataclass

from bot.grammar import (
    Help,
    OpenModal,
    UsageError,
    strict_numbers,
    unknown_verb,
)
from bot.phones import Phone


@dataclass(frozen=True)
class BlacklistAdd:
    numbers: tuple[Phone, ...]
    reason: str = ""


@dataclass(frozen=True)
class BlacklistRemove:
    numbers: tuple[Phone, ...]


@dataclass(frozen=True)
class BlacklistList:
    pass


BlacklistCommand = BlacklistAdd | BlacklistRemove | BlacklistList | Help | OpenModal


def parse_blacklist(text: str, region: str) -> BlacklistCommand:
    words = text.split(maxsplit=1)
    if not words:
        return OpenModal()
    head, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
    if head == "help":
        return Help()
    if head == "list":
        return BlacklistList()
    if head in {"add", "remove"}:
        numbers, _, reason = rest.partition(" because ")
        phones = tuple(strict_numbers(numbers, region))
        return BlacklistAdd(phones, reason.strip()) if head == "add" else BlacklistRemove(phones)
    if head.isalpha():
        raise unknown_verb("/blacklist", head, ("add", "remove", "list", "help"))
    raise UsageError(
        "Use `/blacklist add <numbers>`, `/blacklist remove <numbers>` or `/blacklist list`."
    )
