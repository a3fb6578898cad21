"""CSV uploads: numbers (and extra columns) from a spreadsheet export, parsed defensively."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from bot.phones import InvalidNumber, Phone, parse_phone

MAX_ROWS = 100_000
MAX_BYTES = 10 * 1024 * 1024
NUMBER_HEADERS = {
    "number",
    "numbers",
    "phone",
    "phone number",
    "phone_number",
    "mobile",
    "mobile number",
    "mobile_number",
    "msisdn",
    "contact",
    "to",
}
FORMULA_START = ("=", "@", "\t", "\r")


class CsvError(ValueError):
    """The file as a whole cannot be used; the message says why."""


@dataclass
class CsvRow:
    line: int  # 1-based line in the file
    phone: Phone
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class CsvResult:
    rows: list[CsvRow]
    errors: list[str]  # "row 7: "12345" is too short"
    duplicates: list[str]
    header: list[str] | None

    def merged(self, typed: CsvResult) -> CsvResult:
        """The file's rows, then the typed numbers not already in it (reported as repeats).

        One set of the file's numbers, built once: linear, however long both lists are.
        """
        seen = {r.phone.e164 for r in self.rows}
        extra, repeats = [], []
        for row in typed.rows:
            if row.phone.e164 in seen:
                repeats.append(f'typed "{row.phone.pretty}" is also in the file')
            else:
                seen.add(row.phone.e164)
                extra.append(row)
        return CsvResult(
            self.rows + extra,
            self.errors + typed.errors,
            self.duplicates + typed.duplicates + repeats,
            self.header,
        )


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252: what spreadsheets write."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _looks_like_formula(value: str) -> bool:
    if value.startswith(FORMULA_START):
        return True
    # "+91 98765 43210" is a number; "+SUM(A1)" or "-2+3" is a formula.
    return value[:1] in "+-" and not value[1:].replace(" ", "").replace("-", "").isdigit()


def neutralise(value: str) -> str:
    """Custom columns travel on to Kaleyra and may come back in an export: defuse formulas."""
    return "'" + value if value and _looks_like_formula(value) else value


def parse_csv(data: bytes, region: str, *, allow_foreign: bool = False) -> CsvResult:
    """Every row called, skipped with its reason, or refused; `allow_foreign` for kaleyra.io."""
    if len(data) > MAX_BYTES:
        raise CsvError(
            f"The file is {len(data) // 1024 // 1024} MB; the limit is {MAX_BYTES // 1024 // 1024} MB."
        )
    text = decode(data).replace("\x00", "")
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    # Too many rows is said at once, before a single number is parsed (the parse is the cost).
    filled = [c for c in csv.reader(io.StringIO(text), dialect) if any(map(str.strip, c))]
    headed = bool(filled) and _is_header([c.strip() for c in filled[0]], region)
    if len(filled) - headed > MAX_ROWS:
        raise CsvError(f"The file has more than {MAX_ROWS:,} rows; split it into smaller files.")
    del filled
    reader = csv.reader(io.StringIO(text), dialect)
    rows, errors, duplicates, seen = [], [], [], set()
    header: list[str] | None = None
    number_col = 0
    for line, cells in enumerate(reader, start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue  # blank lines
        if header is None and not rows and not errors and _is_header(cells, region):
            header = cells
            names = [c.lower() for c in cells]
            number_col = next((i for i, n in enumerate(names) if n in NUMBER_HEADERS), 0)
            continue
        if len(rows) + len(errors) + len(duplicates) >= MAX_ROWS:
            raise CsvError(
                f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."
            )
        raw = cells[number_col] if number_col < len(cells) else ""
        if _looks_like_formula(raw):
            errors.append(
                f'row {line}: "{raw[:40]}" looks like a spreadsheet formula, not a number'
            )
            continue
        try:
            phone = parse_phone(raw, region, allow_foreign=allow_foreign)
        except InvalidNumber as exc:
            errors.append(f"row {line}: {exc}")
            continue
        if phone.e164 in seen:
            duplicates.append(f'row {line}: "{raw[:40]}" is a repeat')
            continue
        seen.add(phone.e164)
        names = header or [f"column{i + 1}" for i in range(len(cells))]
        extra = {
            (names[i] if i < len(names) else f"column{i + 1}").strip()[:64]
            or f"column{i + 1}": neutralise(v)[:500]
            for i, v in enumerate(cells)
            if i != number_col
        }
        rows.append(CsvRow(line, phone, extra))
    return CsvResult(rows, errors, duplicates, header)


def _is_header(cells: list[str], region: str) -> bool:
    for cell in cells:
        try:
            parse_phone(cell, region, allow_foreign=True)
            return False
        except InvalidNumber:
            continue
    return any(any(ch.isalpha() for ch in c) for c in cells)
