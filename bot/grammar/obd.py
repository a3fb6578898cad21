"""/obd text and form: broadcasts, status, list, dialer uploads."""

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
    unknown_verb,
)

_SOUND_TOKEN = re.compile(r"^(\d+\.sound|ivr:[\w-]+|[\w-]+\.ivr)$", re.IGNORECASE)
_QUOTED = re.compile(r'^\s*["“”](.*?)["“”](.*)$', re.S)
_PLAY_OR_SAY = re.compile(r"(?:^|\s)(play|say)(?=\s|$)", re.IGNORECASE)
_NAME = re.compile(r"[\w.-]{1,64}")


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
    """`/obd status <id>`: a Kaleyra group (digits) or call (`<n>-<m>`), or `#12` for a campaign.

    Bare digits short enough to be one of the bot's campaign ids are tried as a campaign first.
    """

    ident: str
    campaign: int | None = None  # written `#12`: the bot's own campaign id, for certain

    @property
    def is_group(self) -> bool:
        return self.ident.isdigit()

    @property
    def maybe_campaign(self) -> int | None:
        if self.campaign is not None:
            return self.campaign
        return int(self.ident) if self.ident.isdigit() and len(self.ident) <= 6 else None


@dataclass(frozen=True)
class ObdList:
    """`/obd list`: recent campaigns with their state and counts."""


@dataclass(frozen=True)
class DialerUpload:
    campaign: str
    numbers_text: str


@dataclass(frozen=True)
class ObdForm:
    """The /obd form as submitted: typed fields, checked by `form_problems`."""

    numbers_text: str = ""
    files: tuple[dict, ...] = ()  # Slack's file objects from the file input (at most one used)
    play: str | None = None
    say: str | None = None
    at: datetime | None = None  # naive, in the account time zone
    campaign: str | None = None
    retries: int | None = None
    dialer: str | None = None  # upload to this progressive-dialer campaign instead

    def start(self) -> ObdStart:
        return ObdStart(
            numbers_text=self.numbers_text,
            play=self.play,
            say=self.say,
            at=self.at,
            campaign=self.campaign,
            retries=self.retries,
        )


def form_problems(form: ObdForm) -> dict[str, str]:
    """What is wrong with the form, by field ("numbers", "play", "dialer"); empty when fine."""
    if not form.numbers_text and not form.files:
        return {"numbers": "Paste the numbers, or upload a CSV below."}
    if form.play and form.say:
        return {"play": "Give a sound or IVR to play, or a message to say, not both."}
    if not (form.play or form.say or form.dialer or form.files):
        return {"play": "Give a sound or IVR to play, or a message to say."}
    if form.dialer and not _NAME.fullmatch(form.dialer):
        return {"dialer": "Letters, digits, _ . and - only."}
    if form.play and not _SOUND_TOKEN.match(form.play):
        return {"play": "A sound or IVR: 123.sound, ivr:1234 or 1234.ivr."}
    if form.say and len(form.say) > 1000:
        return {"say": f"The message is {len(form.say)} characters; keep it under 1000."}
    return {}


ObdCommand = ObdStart | ObdStatus | ObdList | DialerUpload | Help | OpenModal
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
    if head == "list" and len(words) == 1:
        return ObdList()
    if head == "status":
        if len(words) == 2 and re.fullmatch(r"#\d{1,9}", words[1]):
            return ObdStatus(words[1][1:], campaign=int(words[1][1:]))
        if len(words) != 2 or not re.fullmatch(r"\d{1,20}(-\d{1,9})?", words[1]):
            raise UsageError(
                "Use `/obd status #12` for one of the bot's broadcasts, `/obd status 217691534`"
                " for a Kaleyra group or `/obd status 217691534-1` for one call."
            )
        return ObdStatus(words[1])
    if head == "dialer":
        if len(words) < 3:
            raise UsageError("Use `/obd dialer <campaign> <numbers>`.")
        if not _NAME.fullmatch(words[1]):
            raise UsageError(
                f'The campaign name "{words[1][:64]}" may use letters, digits, _ . and - only.'
            )
        return DialerUpload(words[1], stripped.split(maxsplit=2)[2])
    match = _PLAY_OR_SAY.search(stripped)
    if not match and head.isalpha():
        raise unknown_verb("/obd", head, ("list", "status", "dialer", "group", "help"))
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
            if not _NAME.fullmatch(words[i + 1]):
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
