"""The schema's one history, for SQLite and PostgreSQL alike, kept by Alembic.

Alembic is the migration tool of the SQLAlchemy world: its revisions are Python with
dialect-neutral operations (`op.create_table`, partial indexes for both engines), it records how
far a database has come in `alembic_version`, and `voicebot db upgrade` is `alembic upgrade head`.
Files made before Alembic (PRAGMA user_version 1-13) are brought to the baseline by their old
steps (`legacy.py`, sqlite-utils), then stamped, so no deployment starts over.

Starting a process checks the recorded revision first and imports Alembic only when behind:
most starts cost one SELECT.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

# The newest revision in versions/: a database at HEAD needs nothing.
HEAD = "0004"
BASELINE = "0001"
# Where a file of the sqlite-utils history (PRAGMA user_version 1-13) stands once its steps ran.
LEGACY_HEAD = "0002"
LEGACY_VERSION = 13
# pg_advisory_lock key under which replicas migrate one at a time ("vbmigr" in ASCII).
MIGRATION_LOCK = 0x7662_6D69_6772


def _config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["connection"] = connection
    return config


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def upgrade_sqlite(connection: sqlite3.Connection) -> None:
    """Bring an SQLite file (or `:memory:`) to HEAD on the store's own connection."""
    revision = _sqlite_revision(connection)
    if revision == HEAD:
        return
    if revision is None:
        legacy = connection.execute("PRAGMA user_version").fetchone()[0]
        if legacy:
            import sqlite_utils

            from bot.store.migrations.legacy import migrate

            migrate(sqlite_utils.Database(connection))
            connection.execute(
                "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL"
                " CONSTRAINT alembic_version_pkc PRIMARY KEY)"
            )
            connection.execute("INSERT INTO alembic_version VALUES (?)", [LEGACY_HEAD])
            connection.commit()
            if HEAD == LEGACY_HEAD:
                return
    _alembic_upgrade_sqlite(connection)


def _alembic_upgrade_sqlite(connection: sqlite3.Connection) -> None:
    from alembic import command
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    engine = create_engine("sqlite://", creator=lambda: connection, poolclass=StaticPool)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "head")
    connection.commit()


def upgrade_postgres(url: str) -> None:
    """Bring a PostgreSQL database to HEAD; replicas starting together take turns."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as probe:
        probe.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
        try:
            row = None
            exists = probe.execute("SELECT to_regclass('alembic_version') AS t").fetchone()
            if exists and exists[0]:
                row = probe.execute("SELECT version_num FROM alembic_version").fetchone()
            if row is not None and row[0] == HEAD:
                return
            from alembic import command
            from sqlalchemy import create_engine

            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            try:
                with engine.begin() as conn:
                    command.upgrade(_config(conn), "head")
            finally:
                engine.dispose()
        finally:
            probe.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])


def current_revision(url_or_path: str) -> str | None:
    """The revision a database is at (the doctor and `voicebot db upgrade` print it)."""
    from bot.store.urls import conninfo, sqlite_path

    path = sqlite_path(url_or_path)
    if path is not None:
        connection = sqlite3.connect(path)
        try:
            return _sqlite_revision(connection)
        finally:
            connection.close()
    import psycopg

    with psycopg.connect(conninfo(url_or_path), autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
        if not exists or not exists[0]:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
