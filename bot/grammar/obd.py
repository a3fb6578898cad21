"""/obd text: broadcasts, status, dialer uploads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.grammar import (
    Help,
    OpenModal,
    UsageError,
    parse_date,
    parse_time,
)

_SOUND_TOKEN = re.compile(r"^(\d+\.sound|ivr:[\w-]+|[\w-]+\.ivr)$", re.IGNORECASE)
_QUOTED = re.compile(r'^\s*["“”](.*?)["“”](.*)$', re.S)
_PLAY_OR_SAY = re.compile(r"(?:^|\s)(play|say)(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class ObdStart:
    numbers_text: str = ""  # raw list, validated by the planner so every skip can be reported
    group: str | None = None
    play: str | None = None
    say: str | None = None
    at: datetime | None = None  # naive, in the account time zone
    campaign: str | None = None
    retries: int | None = None


@dataclass(frozen=True)
class ObdStatus:
    ident: str

    @property
    def is_group(self) -> bool:
        return self.ident.isdigit()


@dataclass(frozen=True)
class DialerUpload:
    campaign: str
    numbers_text: str


ObdCommand = ObdStart | ObdStatus | DialerUpload | Help | OpenModal
OBD_USAGE = (
    'Use `/obd <numbers> play 123.sound` or `/obd <numbers> say "text"`, optionally followed by '
    "`at YYYY-MM-DD HH:MM`, `campaign <name>`, `retries <0-2>`. Type `/obd help` for more."
)


def parse_obd(text: str) -> ObdCommand:
    stripped = text.strip()
    words = stripped.split()
    if not words:
        return OpenModal()
    head = words[0].lower()
    if head == "help":
        return Help()
    if head == "status":
        if len(words) != 2 or not re.fullmatch(r"\d+(-\d+)?", words[1]):
            raise UsageError(
                "Use `/obd status 217691534` for a group or `/obd status 217691534-1` for one call."
            )
        return ObdStatus(words[1])
    if head == "dialer":
        if len(words) < 3:
            raise UsageError("Use `/obd dialer <campaign> <numbers>`.")
        if not re.fullmatch(r"[\w.-]{1,64}", words[1]):
            raise UsageError(
                f'The campaign name "{words[1][:64]}" may use letters, digits, _ . and - only.'
            )
        return DialerUpload(words[1], stripped.split(maxsplit=2)[2])
    match = _PLAY_OR_SAY.search(stripped)
    if not match:
        raise UsageError(OBD_USAGE)
    targets, verb, rest = (
        stripped[: match.start()].strip(),
        match.group(1).lower(),
        stripped[match.end() :],
    )
    group = None
    if targets.lower().startswith("group"):
        parts = targets.split()
        if len(parts) != 2 or not re.fullmatch(r"[\w,-]{1,64}", parts[1]):
            raise UsageError("Use `/obd group 4477 play 123.sound`.")
        group, targets = parts[1], ""
    elif not targets:
        raise UsageError("Give the numbers to call before `play` or `say`. " + OBD_USAGE)
    play = say = None
    if verb == "play":
        tokens = rest.split(maxsplit=1)
        if not tokens or not _SOUND_TOKEN.match(tokens[0]):
            raise UsageError(
                "After `play` give a sound or IVR: `123.sound`, `ivr:1234` or `1234.ivr`."
            )
        play, rest = tokens[0].lower(), (tokens[1] if len(tokens) > 1 else "")
    else:
        quoted = _QUOTED.match(rest)
        if not quoted or not quoted.group(1).strip():
            raise UsageError(
                'After `say` give the message in quotes: say "Your order has shipped".'
            )
        say, rest = quoted.group(1).strip(), quoted.group(2)
        if len(say) > 1000:
            raise UsageError(f"The message is {len(say)} characters; keep it under 1000.")
    options = _obd_options(rest.split())
    return ObdStart(numbers_text=targets, group=group, play=play, say=say, **options)


def _obd_options(words: list[str]) -> dict:
    options: dict = {}
    i = 0
    while i < len(words):
        key = words[i].lower()
        if key == "at" and i + 2 < len(words):
            day, clock = parse_date(words[i + 1]), parse_time(words[i + 2])
            options["at"] = datetime.combine(day, clock)
            i += 3
        elif key == "campaign" and i + 1 < len(words):
            if not re.fullmatch(r"[\w.-]{1,64}", words[i + 1]):
                raise UsageError("A campaign name may use letters, digits, _ . and - only.")
            options["campaign"] = words[i + 1]
            i += 2
        elif key == "retries" and i + 1 < len(words):
            if words[i + 1] not in {"0", "1", "2"}:
                raise UsageError("retries must be 0, 1 or 2.")
            options["retries"] = int(words[i + 1])
            i += 2
        else:
            raise UsageError(f"I don't understand `{' '.join(words[i:])[:60]}`. " + OBD_USAGE)
    return options
