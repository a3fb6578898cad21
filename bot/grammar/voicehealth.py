"""/voicehealth text: the health view and digest settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from bot.grammar import (
    CHANNEL,
    Help,
    OpenModal,
    UsageError,
    opening,
    parse_time,
    unknown_verb,
)


@dataclass(frozen=True)
class HealthNow:
    pass


@dataclass(frozen=True)
class DigestSet:
    channel_id: str
    at: time | None = None


@dataclass(frozen=True)
class DigestOff:
    pass


HealthCommand = HealthNow | DigestSet | DigestOff | Help


def parse_voicehealth(text: str) -> HealthCommand:
    first = opening(text)
    if isinstance(first, OpenModal):  # no text: the health view itself, there is no form
        return HealthNow()
    if isinstance(first, Help):
        return first
    head, rest = first
    if head != "digest" and head.isalpha():
        raise unknown_verb("/voicehealth", head, ("digest", "help"))
    if head != "digest":
        raise UsageError("Use `/voicehealth`, or `/voicehealth digest #channel [HH:MM]` or `off`.")
    if len(rest) == 1 and rest[0].lower() == "off":
        return DigestOff()
    if not rest or len(rest) > 2:
        raise UsageError("Use `/voicehealth digest #channel [HH:MM]` or `/voicehealth digest off`.")
    match = CHANNEL.match(rest[0])
    if not match:
        raise UsageError(f"`{rest[0]}` is not a channel: pick one with # so Slack links it.")
    return DigestSet(match.group(1), parse_time(rest[1]) if len(rest) == 2 else None)
