"""Phone numbers: parse with phonenumbers, render for each Kaleyra API, mask for logs."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

_PHONE_RUN = re.compile(r"\+?\(?\d[\d\s()\-]{6,}\d")  # no dots: 127.0.0.1 is not a phone
_LETTER = re.compile(r"[A-Za-z]")
_NOT_NUMBER = re.compile(r"[^\d+()\-.]")  # a character no way of writing a number uses
UNKNOWN_REGION = "ZZ"
MAX_WRITTEN_NUMBER = 40  # characters: "+91 (98765) 43210" and friends are far shorter


class InvalidNumber(ValueError):
    """A number that cannot be dialled; the message says why and echoes the input."""


@dataclass(frozen=True, order=True)
class Phone:
    """A validated number: E.164 is the identity, so 09876543210 and +91 98765 43210 are equal."""

    e164: str
    region: str = field(compare=False)
    # The parsed form when this Phone came from parse_phone, so rendering need not parse again.
    parsed: phonenumbers.PhoneNumber | None = field(default=None, compare=False, repr=False)

    @classmethod
    def known(cls, e164: str) -> Phone:
        """A number validated before it was stored (agents, calls, follow-ups, blacklist)."""
        return cls(e164, "")

    def _number(self) -> phonenumbers.PhoneNumber:
        return self.parsed or _parse_e164(self.e164)

    @cached_property
    def national(self) -> str:
        """The legacy Voice API form: the national significant number (10 digits in India)."""
        return str(self._number().national_number)

    @property
    def international(self) -> str:
        """The kaleyra.io form: + and country code."""
        return self.e164

    @property
    def masked(self) -> str:
        return mask(self.national)

    @cached_property
    def pretty(self) -> str:
        if self.parsed is None:
            return _pretty_e164(self.e164)
        return phonenumbers.format_number(self.parsed, PhoneNumberFormat.INTERNATIONAL)

    def __str__(self) -> str:
        return self.e164


@lru_cache(maxsize=4096)
def _parse_e164(e164: str) -> phonenumbers.PhoneNumber:
    return phonenumbers.parse(e164)


@lru_cache(maxsize=4096)  # agents' numbers are rendered on every call they make
def _pretty_e164(e164: str) -> str:
    return phonenumbers.format_number(_parse_e164(e164), PhoneNumberFormat.INTERNATIONAL)


def mask(number: str) -> str:
    """98******10: first two and last two digits, the rest starred; short input fully starred."""
    if number.strip().startswith("+"):
        # Mask the national number, as people know it: +919876543210 -> 98******10.
        with contextlib.suppress(NumberParseException):
            number = str(phonenumbers.parse(number.strip()).national_number)
    digits = re.sub(r"\D", "", number)
    if len(digits) < 6:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]


def mask_text(text: str) -> str:
    """Mask every phone-number-looking run inside free text (log lines)."""
    return _PHONE_RUN.sub(lambda m: mask(m.group(0)), text)


def parse_phone(text: str, region: str = "IN", *, allow_foreign: bool = False) -> Phone:
    """A number a person typed, checked as Kaleyra needs it; InvalidNumber says what is wrong.

    The legacy Voice API takes national numbers of the account's country, so a number of
    another country is refused by name (cutting its country code would ring someone else)
    unless `allow_foreign` (kaleyra.io, which takes the country code).
    """
    raw = text.strip()
    if not raw:
        raise InvalidNumber("empty number")
    if _LETTER.search(raw):
        raise InvalidNumber(f'"{_shown(raw)}" contains letters')
    try:
        parsed = phonenumbers.parse(raw, region)
    except NumberParseException:
        raise InvalidNumber(f'"{_shown(raw)}" is not a phone number') from None
    return _checked(parsed, raw, region, allow_foreign)


def _checked(parsed: phonenumbers.PhoneNumber, raw: str, region: str, allow_foreign: bool) -> Phone:
    """The rules every number meets, typed or found in a message."""
    if not allow_foreign:
        _refuse_foreign(parsed, region)
    # number_type is UNKNOWN exactly when is_valid_number is False; asking once saves a pass.
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.UNKNOWN:
        if _is_short_code(parsed, raw, region):
            raise InvalidNumber(
                f'"{_shown(raw)}" is a short code (a service or emergency number),'
                " which Kaleyra cannot call"
            )
        reason = phonenumbers.is_possible_number_with_reason(parsed)
        why = {
            phonenumbers.ValidationResult.TOO_SHORT: "is too short",
            phonenumbers.ValidationResult.TOO_LONG: "is too long",
            phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
        }.get(reason, f"is not a valid number for {region}")
        raise InvalidNumber(f'"{_shown(raw)}" {why}')
    if kind == PhoneNumberType.TOLL_FREE:
        # Kaleyra answers a toll-free leg with E104 after the agent's phone has rung.
        raise InvalidNumber(f'"{_shown(raw)}" is a toll-free number, which Kaleyra cannot call')
    if kind == PhoneNumberType.PREMIUM_RATE:
        raise InvalidNumber(f'"{_shown(raw)}" is a premium-rate number')
    if kind == PhoneNumberType.SHARED_COST:
        raise InvalidNumber(f'"{_shown(raw)}" is a shared-cost number, which Kaleyra cannot call')
    return Phone(
        e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(parsed) or region,
        parsed=parsed,
    )


def _is_short_code(parsed: phonenumbers.PhoneNumber, raw: str, region: str) -> bool:
    """100, 112, 139, 56161: numbers of a few digits that only the phone network understands."""
    if raw.lstrip().startswith("+") or len(re.sub(r"\D", "", raw)) > 6:
        return False
    return phonenumbers.is_valid_short_number_for_region(parsed, region)


def _refuse_foreign(parsed: phonenumbers.PhoneNumber, region: str) -> None:
    home = phonenumbers.country_code_for_region(region)
    if not home or parsed.country_code == home:
        return
    if phonenumbers.region_code_for_country_code(parsed.country_code) == UNKNOWN_REGION:
        return  # not a country at all: the validity check below names that
    shown = phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)
    raise InvalidNumber(
        f"{shown} is {_country_of(parsed)} number; the Voice API calls only "
        f"{_region_name(region)} numbers (+{home})"
    )


# The names most refusals need, so the common case does not load phonenumbers' geocoder: its
# data for every locale costs about 100 MB of memory and a second of start-up.
COUNTRY_NAMES = {
    "IN": "India", "GB": "United Kingdom", "US": "United States", "CA": "Canada",
    "AE": "United Arab Emirates", "SA": "Saudi Arabia", "SG": "Singapore", "AU": "Australia",
    "DE": "Germany", "FR": "France", "IT": "Italy", "ES": "Spain", "NL": "Netherlands",
    "IE": "Ireland", "CH": "Switzerland", "SE": "Sweden", "BD": "Bangladesh", "PK": "Pakistan",
    "LK": "Sri Lanka", "NP": "Nepal", "MY": "Malaysia", "ID": "Indonesia", "PH": "Philippines",
    "TH": "Thailand", "CN": "China", "JP": "Japan", "KR": "South Korea", "HK": "Hong Kong",
    "ZA": "South Africa", "NG": "Nigeria", "KE": "Kenya", "EG": "Egypt", "BR": "Brazil",
    "MX": "Mexico", "QA": "Qatar", "KW": "Kuwait", "OM": "Oman", "BH": "Bahrain", "NZ": "New Zealand",
}  # fmt: skip


@lru_cache(maxsize=256)
def _region_name(region: str) -> str:
    if region in COUNTRY_NAMES:
        return COUNTRY_NAMES[region]
    from phonenumbers import geocoder  # rare: loaded only for a country not listed above

    example = phonenumbers.example_number(region)
    return (geocoder.country_name_for_number(example, "en") if example else "") or region


def _country_of(parsed: phonenumbers.PhoneNumber) -> str:
    """ "a United Kingdom", "an Italy" or "an international (+800)": what comes before "number"."""
    region = phonenumbers.region_code_for_number(parsed)
    name = _region_name(region) if region and region != "001" else ""
    if not name:
        return f"an international (+{parsed.country_code})"
    return f"{'an' if name[0] in 'AEIO' else 'a'} {name}"  # United, Uganda: "a"


def _shown(raw: str, limit: int = 40) -> str:
    """Input echoed in an error, cut short: a 12 KB paste is not worth repeating."""
    return raw if len(raw) <= limit else raw[: limit - 1] + "…"


@dataclass(frozen=True)
class BadEntry:
    position: int  # 1-based position in the list as typed
    text: str
    reason: str

    def __str__(self) -> str:
        return f"#{self.position} {self.reason}"


@dataclass
class NumberList:
    valid: list[Phone]
    invalid: list[BadEntry]
    duplicates: list[BadEntry]

    @property
    def total_entries(self) -> int:
        return len(self.valid) + len(self.invalid) + len(self.duplicates)


def split_entries(text: str) -> list[str]:
    """Split on commas, semicolons, new lines and spaces, keeping `+91 98765 43210` together.

    A space inside one number is common, so a space only separates when both sides already form
    a complete number; otherwise the pieces are joined. Linear in the text: each word is looked
    at once, and what is known about the words so far is kept as counts, never re-scanned.
    """
    entries: list[str] = []
    for chunk in _SEPARATORS.split(text):
        entries.extend(_split_on_spaces(chunk))
    return entries


_SEPARATORS = re.compile(r"[,;\n\r\t]")


def _split_on_spaces(chunk: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []  # the words of the entry being built
    digits = 0  # digits in `current`
    chars = 0  # characters in `current`, spaces included
    standalone = False  # `current` is one word that cannot be part of a number
    for word in chunk.split():
        word_digits = _digits(word)
        number_like = _NOT_NUMBER.search(word) is None
        if not current:
            breaks = False
        elif not number_like or standalone or word.startswith("+"):
            # A word that cannot be part of a number stands alone, and so does what came
            # before; a plus sign only ever begins a number.
            breaks = True
        else:
            limit = 17 if current[0].startswith("00") else 15  # E.164's 15, after any "00"
            breaks = (
                not word.startswith(("-", ")")) and _complete(current, digits, chars)
            ) or digits + word_digits > limit
        if breaks:
            out.append(" ".join(current))
            current, digits, chars = [], 0, 0
        current.append(word)
        digits += word_digits
        chars += len(word) + 1
        standalone = not number_like
    if current:
        out.append(" ".join(current))
    return out


def _complete(words: list[str], digits: int, chars: int) -> bool:
    """Whether the words so far already make a whole number, so the next word starts another.

    Ten digits make a national number. With a country code (`+44 20 7946 0958`, or `0044 …` as
    dialled from India) the length varies by country, so phonenumbers decides. Only short
    entries are asked about (no written number is 40 characters long), so splitting stays linear.
    """
    if digits < 10:
        return False
    if chars > MAX_WRITTEN_NUMBER:
        return True
    first = words[0]
    if not first.startswith(("+", "00")):
        return True
    text = " ".join(words)
    return _valid_international("+" + text[2:] if first.startswith("00") else text)


@lru_cache(maxsize=1024)
def _valid_international(text: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text))
    except NumberParseException:
        return True  # not a number at all: nothing to keep joining for


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def parse_number_list(text: str, region: str = "IN", *, allow_foreign: bool = False) -> NumberList:
    """Every entry lands in exactly one of valid, invalid or duplicates: nothing is dropped."""
    valid: list[Phone] = []
    invalid: list[BadEntry] = []
    duplicates: list[BadEntry] = []
    seen: set[str] = set()
    for position, entry in enumerate(split_entries(text), start=1):
        try:
            phone = parse_phone(entry, region, allow_foreign=allow_foreign)
        except InvalidNumber as exc:
            invalid.append(BadEntry(position, entry, str(exc)))
            continue
        if phone.e164 in seen:
            duplicates.append(BadEntry(position, entry, f'"{_shown(entry)}" is a repeat'))
            continue
        seen.add(phone.e164)
        valid.append(phone)
    return NumberList(valid=valid, invalid=invalid, duplicates=duplicates)


def scan_numbers(text: str, region: str = "IN", *, allow_foreign: bool = False) -> NumberList:
    """Numbers written anywhere in free text, each checked like a typed one.

    `valid` are the callable ones in order of appearance, `invalid` the ones found but refused
    (another country, premium-rate, shared-cost) with the reason, `duplicates` the repeats.
    """
    valid: list[Phone] = []
    invalid: list[BadEntry] = []
    duplicates: list[BadEntry] = []
    seen: set[str] = set()
    for position, match in enumerate(phonenumbers.PhoneNumberMatcher(text, region), start=1):
        try:
            phone = _checked(match.number, match.raw_string, region, allow_foreign)
        except InvalidNumber as exc:
            invalid.append(BadEntry(position, match.raw_string, str(exc)))
            continue
        if phone.e164 in seen:
            duplicates.append(BadEntry(position, match.raw_string, "is a repeat"))
            continue
        seen.add(phone.e164)
        valid.append(phone)
    return NumberList(valid=valid, invalid=invalid, duplicates=duplicates)


def find_numbers(text: str, region: str = "IN", *, allow_foreign: bool = False) -> list[Phone]:
    """The callable numbers mentioned anywhere in free text (message shortcut).

    The same rules as typed numbers: another country's numbers (unless `allow_foreign`),
    premium-rate and shared-cost numbers are left out; `scan_numbers` says why.
    """
    return scan_numbers(text, region, allow_foreign=allow_foreign).valid
