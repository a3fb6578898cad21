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
    phone = parse_phone("+1 415 555 2671", "IN")
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
