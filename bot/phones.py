"""Phone numbers: parse with phonenumbers, render for each Kaleyra API, mask for logs."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

_PHONE_RUN = re.compile(r"\+?\(?\d[\d\s()\-]{6,}\d")  # no dots: 127.0.0.1 is not a phone


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


def parse_phone(text: str, region: str = "IN") -> Phone:
    raw = text.strip()
    if not raw:
        raise InvalidNumber("empty number")
    if re.search(r"[A-Za-z]", raw):
        raise InvalidNumber(f'"{raw}" contains letters')
    try:
        parsed = phonenumbers.parse(raw, region)
    except NumberParseException:
        raise InvalidNumber(f'"{raw}" is not a phone number') from None
    # number_type is UNKNOWN exactly when is_valid_number is False; asking once saves a pass.
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.UNKNOWN:
        reason = phonenumbers.is_possible_number_with_reason(parsed)
        why = {
            phonenumbers.ValidationResult.TOO_SHORT: "is too short",
            phonenumbers.ValidationResult.TOO_LONG: "is too long",
            phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
        }.get(reason, f"is not a valid number for {region}")
        raise InvalidNumber(f'"{raw}" {why}')
    if kind in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST):
        raise InvalidNumber(f'"{raw}" is a premium-rate number')
    return Phone(
        e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(parsed) or region,
        parsed=parsed,
    )


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
    a complete number; otherwise the pieces are joined.
    """
    entries: list[str] = []
    for chunk in (c.strip() for c in re.split(r"[,;\n\r\t]+", text)):
        if not chunk:
            continue
        entries.extend(_split_on_spaces(chunk))
    return entries


def _split_on_spaces(chunk: str) -> list[str]:
    words = chunk.split()
    out: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if re.search(r"[^\d+()\-.]", word) or re.search(r"[^\d+()\-. ]", current):
            # A word that cannot be part of a number stands alone, and so does what came before.
            if current:
                out.append(current)
            current = word
        elif current and (
            (_digits(current) >= 10 and not word.startswith(("-", ")"))) or _digits(candidate) > 15
        ):
            out.append(current)
            current = word
        else:
            current = candidate
    if current:
        out.append(current)
    return out


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def parse_number_list(text: str, region: str = "IN") -> NumberList:
    """Every entry lands in exactly one of valid, invalid or duplicates: nothing is dropped."""
    valid: list[Phone] = []
    invalid: list[BadEntry] = []
    duplicates: list[BadEntry] = []
    seen: set[str] = set()
    for position, entry in enumerate(split_entries(text), start=1):
        try:
            phone = parse_phone(entry, region)
        except InvalidNumber as exc:
            invalid.append(BadEntry(position, entry, str(exc)))
            continue
        if phone.e164 in seen:
            duplicates.append(BadEntry(position, entry, f'"{entry}" is a repeat'))
            continue
        seen.add(phone.e164)
        valid.append(phone)
    return NumberList(valid=valid, invalid=invalid, duplicates=duplicates)


def find_numbers(text: str, region: str = "IN") -> list[Phone]:
    """Numbers mentioned anywhere in free text (message shortcut)."""
    found: list[Phone] = []
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        phone = Phone(
            phonenumbers.format_number(match.number, PhoneNumberFormat.E164),
            phonenumbers.region_code_for_number(match.number) or region,
        )
        if phone not in found:
            found.append(phone)
    return found
