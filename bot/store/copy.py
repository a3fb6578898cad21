"""`voicebot db copy`: a deployment's data from one database to another (SQLite to PostgreSQL
when a team moves to several replicas). Both are brought to the same schema first; the target
must be empty, so nothing is merged or overwritten by accident."""

from __future__ import annotations

from collections.abc import Callable

from bot.store import Store, StoreError

# Every table of the schema (alembic_version is the migration tool's own).
TABLES = (
    "agents",
    "roles",
    "verifications",
    "calls",
    "call_outcomes",
    "audit",
    "settings",
    "seen_requests",
    "slack_deliveries",
    "blacklist",
    "jobs",
    "campaign_chunks",
    "followups",
    "sent_log",
    "feed_calls",
)
# Tables whose ids are handed out by the database: the target's counter starts above the last.
COUNTED = ("calls", "jobs", "audit")
BATCH = 2000


async def copy_database(
    source_url: str, target_url: str, *, say: Callable[[str], None] = print
) -> dict[str, int]:
    """Copy every row; returns the count per table."""
    source, target = Store(source_url), Store(target_url)
    try:
        await source.open()
        await target.open()
        for table in TABLES:
            row = await target._one(f"SELECT COUNT(*) AS n FROM {table}")
            if row and int(row["n"]):
                raise StoreError(
                    f"The target already has {table} rows: copy into a new, empty database."
                )
        copied: dict[str, int] = {}
        for table in TABLES:
            copied[table] = await _copy_table(source, target, table)
            say(f"{table}: {copied[table]} rows")
        if target.dialect == "postgresql":
            for table in COUNTED:
                await target._one(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
                )
        return copied
    finally:
        await source.aclose()
        await target.aclose()


async def _copy_table(source: Store, target: Store, table: str) -> int:
    """In batches; from SQLite by rowid (each batch an index seek, so a million rows copy in
    linear time), from PostgreSQL by offset."""
    done, after = 0, 0
    while True:
        if source.dialect == "sqlite":
            rows = await source._all(
                f"SELECT rowid AS rowid_, * FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                [after, BATCH],
            )
            if rows:
                after = rows[-1].pop("rowid_")
                for row in rows[:-1]:
                    del row["rowid_"]
        else:
            rows = await source._all(
                f"SELECT * FROM {table} ORDER BY 1 LIMIT ? OFFSET ?", [BATCH, done]
            )
        if not rows:
            return done
        columns = list(rows[0])
        marks = ", ".join("?" for _ in columns)
        await target._many(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            [[r[c] for c in columns] for r in rows],
        )
        done += len(rows)
