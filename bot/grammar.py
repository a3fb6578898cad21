"""Slash-command text grammar (DESIGN.md): text in, a typed command or a UsageError out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from bot.phones import InvalidNumber, Phone, parse_phone


class UsageError(ValueError):
    """The text does not fit the grammar; the message says what is wrong and what to type."""


_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")


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


def _phone(text: str, region: str, what: str) -> Phone:
    try:
        return parse_phone(text, region)
    except InvalidNumber as exc:
        raise UsageError(f"The {what} number {exc}.") from None


# --------------------------------------------------------------------------- /c2c


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
class Unregister:
    user_id: str | None = None


@dataclass(frozen=True)
class WhoAmI:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class OpenModal:
    pass


@dataclass(frozen=True)
class AdminChange:
    action: str  # grant | revoke | list
    user_id: str | None = None


C2CCommand = (
    Dial | CallStatus | CallLog | Register | Unregister | WhoAmI | Help | OpenModal | AdminChange
)

_CALL_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def parse_c2c(text: str, region: str) -> C2CCommand:
    words = text.split()
    if not words:
        return OpenModal()
    head, rest = words[0].lower(), words[1:]
    if head == "help":
        return Help()
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
            return Register(_phone(" ".join(rest[1:]), region, "agent"), user_id)
        return Register(_phone(" ".join(rest), region, "agent"))
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
    if head == "unregister":
        if not rest:
            return Unregister()
        user_id = parse_user(rest[0])
        if not user_id or len(rest) > 1:
            raise UsageError("Use `/c2c unregister` for yourself or `/c2c unregister @someone`.")
        return Unregister(user_id)
    return _parse_dial(text, region)


def _parse_dial(text: str, region: str) -> Dial:
    from bot.phones import split_entries

    entries = split_entries(text)
    if len(entries) == 1:
        return Dial(_phone(entries[0], region, "customer"))
    if len(entries) == 2:
        return Dial(
            customer=_phone(entries[1], region, "customer"),
            agent=_phone(entries[0], region, "agent"),
        )
    raise UsageError(
        f"I could not read `{text.strip()[:80]}`: use `/c2c <customer>` or, as an admin, "
        "`/c2c <agent> <customer>`. Type `/c2c help` for everything else."
    )


# --------------------------------------------------------------------------- /voicehealth


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
    words = text.split()
    if not words:
        return HealthNow()
    head, rest = words[0].lower(), words[1:]
    if head == "help":
        return Help()
    if head != "digest":
        raise UsageError("Use `/voicehealth`, or `/voicehealth digest #channel [HH:MM]` or `off`.")
    if len(rest) == 1 and rest[0].lower() == "off":
        return DigestOff()
    if not rest or len(rest) > 2:
        raise UsageError("Use `/voicehealth digest #channel [HH:MM]` or `/voicehealth digest off`.")
    match = _CHANNEL.match(rest[0])
    if not match:
        raise UsageError(f"`{rest[0]}` is not a channel: pick one with # so Slack links it.")
    return DigestSet(match.group(1), parse_time(rest[1]) if len(rest) == 2 else None)


# --------------------------------------------------------------------------- number lists


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


# --------------------------------------------------------------------------- /blacklist


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
    raise UsageError(
        "Use `/blacklist add <numbers>`, `/blacklist remove <numbers>` or `/blacklist list`."
    )


# --------------------------------------------------------------------------- /obd

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


# --------------------------------------------------------------------------- /followup


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


def parse_followup(text: str, region: str) -> FollowupCommand:
    words = text.split()
    if not words:
        return OpenModal()
    head, rest = words[0].lower(), words[1:]
    if head == "help":
        return Help()
    if head == "list":
        if len(rest) > 1 or (rest and rest[0].lower() not in {"mine", "all"}):
            raise UsageError("Use `/followup list`, `/followup list mine` or `/followup list all`.")
        return FollowupList(rest[0].lower() if rest else "mine")
    if head == "edit":
        return FollowupEdit(_followup_id(rest, "edit"))
    if head == "delete":
        return FollowupDelete(_followup_id(rest, "delete"))
    if head != "add":
        raise UsageError(
            "Use `/followup add <phone> <YYYY-MM-DD> <HH:MM> <name>`, `list`, `edit <id>` or `delete <id>`."
        )
    date_at = next(
        (
            i
            for i, w in enumerate(rest)
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}", w)
        ),
        None,
    )
    if date_at is None or date_at == 0 or len(rest) < date_at + 3:
        raise UsageError("Use `/followup add 9876543210 2026-11-24 16:30 Asha Rao`.")
    phone = _phone(" ".join(rest[:date_at]), region, "customer")
    when = datetime.combine(parse_date(rest[date_at]), parse_time(rest[date_at + 1]))
    name = " ".join(rest[date_at + 2 :]).strip()
    if len(name) > 100:
        raise UsageError("Keep the name under 100 characters.")
    return FollowupAdd(phone, when, name)
