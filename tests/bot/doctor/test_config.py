"""Configuration: every variable named when invalid, the window, the zone, the database."""

from __future__ import annotations

import sqlite3

import pytest

from bot.doctor import Status, load
from bot.doctor.config import check_database, check_settings, open_store
from bot.settings import Settings
from tests.support.sandbox import default_clock


def _by_name(checks):
    return {check.name: check for check in checks}


def test_each_invalid_variable_is_its_own_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH_DIGEST_TIME", "9am")
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("PORT", "3001")
    settings, checks = load(_env_file=None)
    failed = _by_name(checks)
    assert failed["HEALTH_DIGEST_TIME"].detail == 'HEALTH_DIGEST_TIME must be HH:MM, got "9am"'
    assert "TIMEZONE must be an IANA time zone" in failed["TIMEZONE"].detail
    assert all(c.status is Status.FAIL and c.fix for c in checks)
    # The other checks run on: the invalid ones replaced by their defaults, the rest as set.
    assert (settings.timezone, settings.health_digest_time, settings.port) == (
        "Asia/Kolkata",
        "09:00",
        3001,
    )


def test_window_zone_and_a_fresh_database(tmp_path) -> None:
    settings = Settings(_env_file=None, database_path=str(tmp_path / "data" / "v.db"))
    checks = _by_name(check_settings(settings, default_clock().now))
    assert checks["calling window"].detail == (
        "broadcasts ring 09:00-21:00 Asia/Kolkata; now 11:00 there (inside)"
    )
    assert checks["time zone"].detail.startswith("Asia/Kolkata: now 2026-11-23 11:00 IST")
    assert checks["database"].detail.endswith("created at the first start")
    assert not (tmp_path / "data").exists()  # the doctor made nothing


def test_no_calling_window_is_a_warning(tmp_path) -> None:
    settings = Settings(_env_file=None, obd_calling_hours="")
    window = _by_name(check_settings(settings, default_clock().now))["calling window"]
    assert window.status is Status.WARN and "any hour" in window.detail


def test_a_locked_database_is_a_failure(tmp_path) -> None:
    path = tmp_path / "v.db"
    open_store(Settings(_env_file=None, database_path=str(path)), create=True).close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        check = check_database(Settings(_env_file=None, database_path=str(path)))
    finally:
        holder.rollback()
        holder.close()
    assert check.status is Status.FAIL and "locked" in check.detail
    assert check.fix is not None and "another program holds a lock" in check.fix


def test_a_working_database_says_its_schema(tmp_path) -> None:
    settings = Settings(_env_file=None, database_path=str(tmp_path / "v.db"))
    open_store(settings, create=True).close()
    check = check_database(settings)
    assert check.status is Status.OK and "writable; schema up to date" in check.detail


async def test_postgresql_is_reachable_migrated_and_says_who_leads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg

    from bot.runtime.leader import LEADER_LOCK_KEY
    from tests.support.databases import fresh_postgres

    urls, elsewhere = fresh_postgres(), fresh_postgres()
    url = next(urls)
    try:
        # Another deployment's leader on the same server (another database) is not ours.
        other = psycopg.connect(next(elsewhere), autocommit=True)
        other.execute("SELECT pg_advisory_lock(%s)", [LEADER_LOCK_KEY])
        monkeypatch.setenv("DATABASE_URL", url)
        settings = Settings(_env_file=None)
        check = check_database(settings)
        other.close()
        assert check.status is Status.OK
        assert "reachable; schema up to date; no replica leads the scheduler yet" in check.detail
        assert "postgresql://postgres@" in check.detail
        store = open_store(settings, create=True)
        assert store is not None and store.dialect == "postgresql"
        await store.aclose()
        monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
        down = check_database(Settings(_env_file=None))
        assert down.status is Status.FAIL and down.fix and "DATABASE_URL" in down.fix
    finally:
        urls.close()
        elsewhere.close()
