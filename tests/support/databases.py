"""The databases tests run against: an SQLite file always; PostgreSQL when TEST_DATABASE_URL
names one (CI sets it). Each PostgreSQL test gets a database of its own, copied from a template
migrated once per session, so tests never see each other's rows and no test pays a migration."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

HOW_TO_RUN = (
    "PostgreSQL tests skipped: set TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test"
)
_template: dict[str, str] = {}


def server_url() -> str:
    """TEST_DATABASE_URL; a skip with how to run it, or a failure under CI=true."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true needs PostgreSQL: TEST_DATABASE_URL is not set", pytrace=False)
        pytest.skip(HOW_TO_RUN)
    return url


def _admin(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _with_database(url: str, name: str) -> str:
    base, _, _query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name


def _migrated_template(url: str) -> str:
    from bot.store.migrations import HEAD, upgrade_postgres

    # One template per pytest-xdist worker: workers starting together never drop each other's.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"voicebot_template_{HEAD}_{worker}"
    if name not in _template:
        with _admin(url) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        upgrade_postgres(_with_database(url, name))
        _template[name] = name
    return name


def fresh_postgres() -> Iterator[str]:
    """A new, migrated PostgreSQL database for one test; dropped after it."""
    url = server_url()
    template = _migrated_template(url)
    name = f"voicebot_{secrets.token_hex(6)}"
    with _admin(url) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield _with_database(url, name)
    finally:
        with _admin(url) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def database_for(kind: str, tmp_path: Path) -> Iterator[str]:
    """The DATABASE_URL of a fresh database of `kind` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield "sqlite:///" + str(tmp_path / "voicebot.db")
    else:
        yield from fresh_postgres()
