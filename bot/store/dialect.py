"""One set of queries for both databases: SQLite's spelling turned into PostgreSQL's, once.

Queries are written with `?` parameters and the SQL both engines share (ON CONFLICT, RETURNING,
partial indexes). The few SQLite functions with another name in PostgreSQL are rewritten here,
in one place, and the result is cached per query text.
"""

from __future__ import annotations

import functools
import re

_JSON_TEXT = re.compile(r"json_extract\(([\w.]+), '\$\.(\w+)'\)")
_JSON_LENGTH = re.compile(r"json_array_length\(([\w.]+), '\$\.(\w+)'\)")
# Whole fragments whose PostgreSQL spelling differs by more than a function's name.
_FRAGMENTS = (
    # a JSON flag, absent or false (SQLite's json_extract gives 0 for false, PostgreSQL 'false')
    (
        "COALESCE(json_extract(j.payload, '$.via_io'), 0) = 0",
        "COALESCE(j.payload::json->>'via_io', 'false') IN ('false', '0')",
    ),
    # the elements of a JSON array of text, as rows
    (", json_each(c.numbers) n", ", json_array_elements_text(c.numbers::json) AS n(value)"),
    ("(SELECT value FROM json_each(?))", "(SELECT json_array_elements_text(?::json))"),
)


@functools.lru_cache(maxsize=2048)
def postgres(sql: str) -> str:
    """`sql` as psycopg takes it: `%s` parameters, JSON reads on the text columns."""
    for sqlite, pg in _FRAGMENTS:
        sql = sql.replace(sqlite, pg)
    sql = _JSON_TEXT.sub(r"(\1::json->>'\2')", sql)
    sql = _JSON_LENGTH.sub(r"json_array_length(\1::json->'\2')", sql)
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)
