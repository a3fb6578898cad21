from __future__ import annotations

import pytest

from bot.grammar.csvnumbers import MAX_ROWS, CsvError, decode, neutralise, parse_csv


def test_header_blank_lines_formulas_and_bad_rows_are_reported_by_row() -> None:
    data = b"Name,Phone,Amount\n\nAsha,98765 43210,=HYPERLINK(\"http://x\")\nBob,=cmd|' /C calc'!A0,10\n,,\nCara,+91 91234 56789,-5\nDan,12345,3\nEve,09876543210,4\n"
    result = parse_csv(data, "IN")
    assert result.header == ["Name", "Phone", "Amount"]
    assert [(r.line, r.phone.national) for r in result.rows] == [
        (3, "9876543210"),
        (6, "9123456789"),
    ]
    assert result.rows[0].fields == {"Name": "Asha", "Amount": '\'=HYPERLINK("http://x")'}
    assert result.errors == [
        "row 4: \"=cmd|' /C calc'!A0\" looks like a spreadsheet formula, not a number",
        'row 7: "12345" is too short',
    ]
    assert result.duplicates == ['row 8: "09876543210" is a repeat']


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ("9876543210;Ravi\n9123456789;Ölaf\n".encode("utf-16"), "Ölaf"),
        ("9876543210;Ravi\n9123456789;Ölaf\n".encode("cp1252"), "Ölaf"),
        ("\ufeff9876543210\tRavi\n9123456789\tÖlaf\n".encode(), "Ölaf"),
    ],
)
def test_odd_encodings_and_delimiters(data: bytes, name: str) -> None:
    result = parse_csv(data, "IN")
    assert [r.phone.national for r in result.rows] == ["9876543210", "9123456789"]
    assert result.rows[1].fields == {"column2": name} and result.errors == []


def test_headerless_single_column_and_unicode_digits() -> None:
    result = parse_csv("९८७६५४३२१०\n9123456789\n".encode(), "IN")  # Devanagari digits
    assert [r.phone.national for r in result.rows] == ["9876543210", "9123456789"]


def test_100k_rows_parse_and_more_are_refused() -> None:
    data = "\n".join(str(9100000000 + i) for i in range(MAX_ROWS)).encode()
    assert len(parse_csv(b"phone\n" + data, "IN").rows) == MAX_ROWS  # a header is not a row
    # One too many is refused before any number is parsed (so at once, even with a header).
    with pytest.raises(CsvError, match="more than 100,000 rows"):
        parse_csv(data + b"\n9999999999", "IN")
    with pytest.raises(CsvError, match="more than 100,000 rows"):
        parse_csv(b"phone\n" + data + b"\n9999999999", "IN")


def test_size_limit_and_nul_bytes() -> None:
    with pytest.raises(CsvError, match="the limit is 10 MB"):
        parse_csv(b"1" * (11 * 1024 * 1024), "IN")
    assert [r.phone.national for r in parse_csv(b"98765\x0043210\n", "IN").rows] == ["9876543210"]


def test_neutralise_and_decode() -> None:
    assert neutralise("=1+1") == "'=1+1" and neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("+91 98765 43210") == "+91 98765 43210" and neutralise("plain") == "plain"
    assert decode(b"\xff\xfeh\x00i\x00") == "hi"
