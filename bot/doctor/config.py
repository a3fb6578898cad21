"""Configuration: every variable, the start-up rule, the calling window, the time zone, the database."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.doctor.checks import Check
from bot.settings import Settings, describe_errors, serve_problem
from bot.store import SCHEMA_REVISION, Store

AREA = "configuration"


def load(**overrides: Any) -> tuple[Settings, list[Check]]:
    """Settings from the environment (and .env), and one failing check per invalid variable.

    The other checks still run: an invalid variable is replaced by its default for them.
    """
    try:
        return Settings(**overrides), []
    except ValidationError as exc:
        errors = describe_errors(exc)
    checks = [
        Check.fail(
            AREA,
            variable,
            message,
            f"set {variable} in the environment or .env (README: Configuration)",
        )
        for variable, message in errors
    ]
    defaults = {
        name.lower(): Settings.model_fields[name.lower()].default
        for name, _ in errors
        if name.lower() in Settings.model_fields
    }
    return Settings(**{**overrides, **defaults}), checks


def check_settings(settings: Settings, now: datetime) -> list[Check]:
    return [
        _variables(settings),
        _start(settings),
        _calling_window(settings, now),
        _time_zone(settings, now),
        check_database(settings),
    ]


def _variables(settings: Settings) -> Check:
    given = sorted(name.upper() for name in settings.model_fields_set)
    shown = f"set: {', '.join(given)}" if given else "none set, every default used"
    return Check.ok(AREA, "variables", f"every variable parsed; {shown}")


def _start(settings: Settings) -> Check:
    problem = serve_problem(settings)
    if settings.slack_bot_token is None:  # the Slack checks say so, with the fix
        return Check.skip(AREA, "start", "`voicebot serve` needs SLACK_BOT_TOKEN")
    if problem:
        return Check.fail(
            AREA, "start", problem, "README: Creating the Slack app says where each value is"
        )
    mode = "Socket Mode" if settings.socket_mode else f"HTTP mode on PORT {settings.port}"
    return Check.ok(AREA, "start", f"`voicebot serve` can start: {mode}")


def _calling_window(settings: Settings, now: datetime) -> Check:
    window = settings.calling_hours
    if window is None:
        return Check.warn(
            AREA,
            "calling window",
            "OBD_CALLING_HOURS is empty: broadcasts may ring at any hour",
            "set OBD_CALLING_HOURS to the hours customers may be called, e.g. 09:00-21:00",
        )
    local = now.astimezone(settings.tz)
    inside = window[0] <= local.time().replace(tzinfo=None) < window[1]
    return Check.ok(
        AREA,
        "calling window",
        f"broadcasts ring {settings.obd_calling_hours} {settings.timezone};"
        f" now {local:%H:%M} there ({'inside' if inside else 'outside'})",
    )


def _time_zone(settings: Settings, now: datetime) -> Check:
    local = now.astimezone(settings.tz)
    return Check.ok(
        AREA,
        "time zone",
        f"{settings.timezone}: now {local:%Y-%m-%d %H:%M %Z} ({now.astimezone(UTC):%H:%M} UTC)",
    )


# ---------------------------------------------------------------------- the database


def database_url(settings: Settings) -> str:
    """DATABASE_URL, else the SQLite file at DATABASE_PATH."""
    return settings.database


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://", "postgresql+"))


def check_database(settings: Settings) -> Check:
    url = database_url(settings)
    if is_postgresql(url):
        return check_postgresql(url)
    return check_sqlite(url.removeprefix("sqlite:///"))


def check_postgresql(url: str) -> Check:
    """The one place PostgreSQL is checked: reachable, migrated, which replica leads."""
    import psycopg

    from bot.runtime.leader import LEADER_LOCK_KEY
    from bot.store.migrations import current_revision
    from bot.store.urls import conninfo, redacted

    shown = redacted(url)
    try:
        revision = current_revision(url)
        with psycopg.connect(conninfo(url), connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT a.client_addr, a.pid FROM pg_locks l JOIN pg_stat_activity a"
                " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                # advisory locks are per database: another database's voicebot is not ours
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
                [LEADER_LOCK_KEY],
            ).fetchone()
    except psycopg.Error as exc:
        return Check.fail(
            AREA,
            "database",
            f"PostgreSQL {shown}: {type(exc).__name__}",
            "check DATABASE_URL (host, port, user, password, database) and that this host may"
            " connect to it",
        )
    state = (
        "up to date" if revision == SCHEMA_REVISION else f"revision {revision}, migrated at start"
    )
    leader = (
        f"the scheduler's leader is the replica on {row[0] or 'this host'} (backend {row[1]})"
        if row
        else "no replica leads the scheduler yet"
    )
    return Check.ok(AREA, "database", f"PostgreSQL {shown}: reachable; schema {state}; {leader}")


def open_store(settings: Settings, *, create: bool) -> Store | None:
    """The store the doctor reads channels from and keeps its findings in.

    None: not one it can open yet, or (without `create`) none made so far.
    """
    if is_postgresql(database_url(settings)):
        return Store(database_url(settings))  # connects (and migrates) on first use
    if not create and not Path(settings.database_path).exists():
        return None
    return Store(settings.database_path)


def check_sqlite(path: str) -> Check:
    file = Path(path)
    folder = file.parent
    if not file.exists():
        existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
        if not os.access(existing, os.W_OK):
            return Check.fail(
                AREA,
                "database",
                f"SQLite {path} does not exist and {existing} is not writable by this user",
                f"make {folder} writable by the user voicebot runs as, or set DATABASE_PATH",
            )
        return Check.ok(AREA, "database", f"SQLite {path}: created at the first start")
    if not os.access(file, os.W_OK) or not os.access(folder, os.W_OK):
        return Check.fail(
            AREA,
            "database",
            f"SQLite {path}: not writable by this user (WAL needs the folder writable too)",
            f"give the user voicebot runs as write access to {file} and {folder}",
        )
    try:
        connection = sqlite3.connect(path, timeout=2)
        try:
            try:
                row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.OperationalError:  # before its first start, or older than Alembic
                row = None
            version = row[0] if row else "none"
            connection.execute("BEGIN IMMEDIATE")  # the write lock, taken and given back
            connection.rollback()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return Check.fail(
            AREA,
            "database",
            f"SQLite {path}: {exc}",
            "another program holds a lock on it (a backup, a second copy of the bot) or the"
            " disk is full; free it and run the doctor again",
        )
    state = "up to date" if version == SCHEMA_REVISION else f"revision {version}, migrated at start"
    return Check.ok(AREA, "database", f"SQLite {path}: writable; schema {state}")
