"""Replicas cache who is who (agents, their proofs, admin roles) and forget it the moment any of
those tables changes (issue 19): a trigger per table sends NOTIFY voicebot_people at commit, from
whatever wrote it (a replica, `voicebot db copy`, an operator in psql). PostgreSQL only: one
process owns an SQLite file and changes these tables only through the store."""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("agents", "verifications", "roles")


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION voicebot_people_changed() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN"
        " PERFORM pg_notify('voicebot_people', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_people AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION voicebot_people_changed()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_people ON {table}")
    op.execute("DROP FUNCTION IF EXISTS voicebot_people_changed()")
