"""Property-based: the number list parser and the command grammar never raise anything but a
clear UsageError, and what they accept round-trips."""

from __future__ import annotations

import re

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from bot.grammar import UsageError
from bot.grammar.blacklist import parse_blacklist
from bot.grammar.c2c import Dial, parse_c2c
from bot.grammar.followup import parse_followup
from bot.grammar.obd import parse_obd
from bot.grammar.voicehealth import parse_voicehealth
from bot.phones import InvalidNumber, parse_number_list, parse_phone, split_entries

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
noise = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200)
digits_and_separators = st.text(alphabet="0123456789 +-,;()\n\t.", max_size=120)
mobile = st.integers(min_value=6_000_000_000, max_value=9_999_999_999).map(str)
styles = st.sampled_from(["{n}", "0{n}", "+91{n}", "+91 {a} {b}", "91{n}", "+91-{a}-{b}"])


# Text shaped like a command: a verb or keyword of some grammar, then keywords, numbers, dates,
# ids, mentions and noise. Random text alone almost never spells `status` or `dialer`, so the
# branches behind each verb would go untried.
KEYWORDS = [
    *("add", "remove", "delete", "edit", "list", "status", "help", "dialer", "register"),
    *("unregister", "verify", "whoami", "admin", "grant", "revoke", "log", "calls", "feed"),
    *("history", "digest", "off", "mine", "all", "play", "say", "group", "at", "campaign"),
    "retries",
]
word = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(KEYWORDS).map(str.upper),
    mobile,
    st.sampled_from(["#", "#12", "#-1", "#abc", "217691534-1", "123.sound", "ivr:1", '"hi"']),
    st.sampled_from(["2026-11-24", "10:00", "25:99", "<@U0AGENT>", "<#C0OPS|ops>", "0", "3"]),
    st.text(alphabet="0123456789#-:.@<>|", max_size=12),
    st.text(max_size=8),
)
commandlike = st.builds(
    lambda head, rest: " ".join([head, *rest]),
    st.sampled_from(KEYWORDS),
    st.lists(word, max_size=6),
)


def styled(number: str, style: str) -> str:
    return style.format(n=number, a=number[:5], b=number[5:])


@FAST
@given(st.one_of(noise, digits_and_separators))
def test_number_list_never_raises_and_loses_nothing(text: str) -> None:
    result = parse_number_list(text, "IN")
    assert result.total_entries == len(split_entries(text))
    for phone in result.valid:
        assert parse_phone(phone.e164, "IN").e164 == phone.e164  # E.164 round-trips
    assert len({p.e164 for p in result.valid}) == len(result.valid)  # de-duplicated


@FAST
@given(
    st.lists(st.tuples(mobile, styles), min_size=1, max_size=30),
    st.sampled_from([", ", "\n", " ", ";"]),
)
def test_valid_numbers_in_any_common_form_round_trip(
    entries: list[tuple[str, str]], separator: str
) -> None:
    text = separator.join(styled(n, s) for n, s in entries)
    result = parse_number_list(text, "IN")
    expected = list(dict.fromkeys(n for n, _ in entries if parse_phone(n, "IN")))
    assert [p.national for p in result.valid] == expected
    assert result.invalid == []


@FAST
@given(st.one_of(noise, digits_and_separators, commandlike, commandlike))
def test_grammar_never_raises_anything_but_usage_error(text: str) -> None:
    for parse in (
        lambda t: parse_c2c(t, "IN"),
        parse_obd,
        lambda t: parse_blacklist(t, "IN"),
        lambda t: parse_followup(t, "IN"),
        parse_voicehealth,
    ):
        try:
            parse(text)
        except UsageError as exc:
            assert str(exc)  # says what is wrong


@FAST
@given(mobile, styles)
def test_a_typed_customer_dials_that_number(number: str, style: str) -> None:
    command = parse_c2c(styled(number, style), "IN")
    assert (
        isinstance(command, Dial) and command.customer.national == number and command.agent is None
    )


@FAST
@given(
    st.lists(mobile, min_size=1, max_size=20, unique=True),
    st.sampled_from(["123.sound", "ivr:1234", "77.ivr"]),
)
def test_obd_numbers_and_sound_round_trip(numbers: list[str], sound: str) -> None:
    command = parse_obd(", ".join(numbers) + f" play {sound} retries 2")
    assert command.play == sound and command.retries == 2
    assert [p.national for p in parse_number_list(command.numbers_text, "IN").valid] == numbers


foreign_regions = st.sampled_from(
    sorted(
        r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.country_code_for_region(r) != 91
    )
)


@FAST
@given(foreign_regions)
def test_another_countrys_number_is_refused_by_name_unless_allowed(region: str) -> None:
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    example = example or phonenumbers.example_number(region)
    if example is None:
        return
    typed = phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL)
    try:
        parse_phone(typed, "IN")
    except InvalidNumber as exc:
        assert "the Voice API calls only India numbers (+91)" in str(exc)
    else:
        raise AssertionError(f"{typed} ({region}) was accepted for the legacy API")
    try:
        phone = parse_phone(typed, "IN", allow_foreign=True)
    except InvalidNumber:
        return  # premium-rate and the like stay refused
    assert phone.e164 == phonenumbers.format_number(example, PhoneNumberFormat.E164)


@FAST
@given(st.one_of(noise, digits_and_separators))
def test_splitting_keeps_every_word_in_order(text: str) -> None:
    words = [w for chunk in re.split(r"[,;\n\r\t]", text) for w in chunk.split()]
    assert " ".join(split_entries(text)).split() == words
