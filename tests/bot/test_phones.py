import pytest

from bot.phones import InvalidNumber, find_numbers, mask, mask_text, parse_number_list, parse_phone


@pytest.mark.parametrize(
    "typed", ["9876543210", "09876543210", "+91 98765 43210", "+91-98765-43210", "919876543210"]
)
def test_common_forms_normalise_to_one_number(typed: str) -> None:
    phone = parse_phone(typed, "IN")
    assert phone.e164 == "+919876543210"
    assert phone.national == "9876543210"  # legacy API form
    assert phone.international == "+919876543210"  # kaleyra.io form


def test_other_region_keeps_its_country_code() -> None:
    phone = parse_phone("+1 415 555 2671", "IN", allow_foreign=True)
    assert phone.international == "+14155552671"
    assert phone.national == "4155552671"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("12345", "too short"),
        ("abc", "contains letters"),
        ("", "empty"),
        ("98765432109876", "too long"),
    ],
)
def test_invalid_numbers_say_why(typed: str, reason: str) -> None:
    with pytest.raises(InvalidNumber, match=reason):
        parse_phone(typed, "IN")


def test_mask() -> None:
    assert mask("9876543210") == "98******10"
    assert mask("+91 98765 43210") == "98******10"
    assert mask("123") == "***"
    assert mask_text("call 9876543210 now") == "call 98******10 now"


def test_list_accounts_for_every_entry() -> None:
    result = parse_number_list("9876543210, +91 98765 43210\n9123456789 12345;abc 9123456780", "IN")
    assert [p.national for p in result.valid] == ["9876543210", "9123456789", "9123456780"]
    assert [(b.position, b.text) for b in result.invalid] == [(4, "12345"), (5, "abc")]
    assert [(b.position, b.text) for b in result.duplicates] == [(2, "+91 98765 43210")]
    assert result.total_entries == 6
    assert "#4" in str(result.invalid[0])


def test_find_numbers_in_text() -> None:
    found = find_numbers("Customer asked for a call back on 98765 43210 or +91 91234 56789", "IN")
    assert [p.national for p in found] == ["9876543210", "9123456789"]


@pytest.mark.parametrize(
    ("typed", "country"),
    [
        ("+44 20 7946 0958", "a United Kingdom number"),
        ("0044 20 7946 0958", "a United Kingdom number"),
        ("+1 201-555-0123", "a United States number"),
        ("+971 50 123 4567", "a United Arab Emirates number"),
        ("+800 1234 5678", "an international (+800) number"),
    ],
)
def test_numbers_of_another_country_are_refused_by_name(typed: str, country: str) -> None:
    with pytest.raises(InvalidNumber, match=r"calls only India numbers \(\+91\)") as refused:
        parse_phone(typed, "IN")
    assert country in str(refused.value)


def test_foreign_numbers_may_be_allowed_for_kaleyra_io() -> None:
    phone = parse_phone("+44 20 7946 0958", "IN", allow_foreign=True)
    assert phone.international == "+442079460958" and phone.region == "GB"
    result = parse_number_list("9876543210, +44 20 7946 0958", "IN", allow_foreign=True)
    assert [p.e164 for p in result.valid] == ["+919876543210", "+442079460958"]


def test_lists_name_the_foreign_entry_by_position() -> None:
    result = parse_number_list("9876543210, +44 20 7946 0958", "IN")
    [bad] = result.invalid
    assert str(bad).startswith("#2 +44 20 7946 0958 is a United Kingdom number")


def test_home_region_other_than_india() -> None:
    assert parse_phone("020 7946 0958", "GB").e164 == "+442079460958"
    with pytest.raises(InvalidNumber, match=r"only United Kingdom numbers \(\+44\)"):
        parse_phone("+91 98765 43210", "GB")


def test_found_numbers_follow_the_typed_rules() -> None:
    from bot.phones import scan_numbers

    text = "Call 98765 43210, or London on +44 20 7946 0958, or 1900 123 456"
    assert [p.national for p in find_numbers(text, "IN")] == ["9876543210"]
    scanned = scan_numbers(text, "IN")
    assert any("United Kingdom" in b.reason for b in scanned.invalid)


def test_international_numbers_with_spaces_stay_together() -> None:
    from bot.phones import split_entries

    assert split_entries("0044 20 7946 0958 9876543210") == ["0044 20 7946 0958", "9876543210"]
    assert split_entries("+65 6123 4567 98765 43210") == ["+65 6123 4567", "98765 43210"]
    assert split_entries("+1 201-555-0123 +1 201-555-0124") == [
        "+1 201-555-0123",
        "+1 201-555-0124",
    ]


def test_long_input_is_not_echoed_in_full() -> None:
    with pytest.raises(InvalidNumber) as refused:
        parse_phone("- " * 5000, "IN")
    assert len(str(refused.value)) < 100


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("1800 123 4567", '"1800 123 4567" is a toll-free number, which Kaleyra cannot call'),
        ("1860 123 4567", '"1860 123 4567" is a shared-cost number, which Kaleyra cannot call'),
        ("112", '"112" is a short code (a service or emergency number), which Kaleyra cannot call'),
        ("139", '"139" is a short code (a service or emergency number), which Kaleyra cannot call'),
    ],
)
def test_numbers_kaleyra_cannot_call_are_refused_with_the_reason(typed: str, why: str) -> None:
    with pytest.raises(InvalidNumber) as refused:
        parse_phone(typed, "IN")
    assert str(refused.value) == why
