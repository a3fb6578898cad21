"""Baseline: the schema as it stood at the last sqlite-utils migration (user_version 11).

Ids that other rows refer to (calls, jobs, audit) are never reused: AUTOINCREMENT on SQLite, an
identity sequence on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = sa.Text
I = sa.Integer  # noqa: E741


def _id() -> sa.Column:
    return sa.Column("id", ID, primary_key=True, autoincrement=True)


def _partial(name: str, table: str, column: str, where: str) -> None:
    op.create_index(
        name, table, [column], sqlite_where=sa.text(where), postgresql_where=sa.text(where)
    )


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("user_id", T, primary_key=True),
        sa.Column("number", T),
        sa.Column("role", T),
        sa.Column("created_at", T),
        sa.Column("updated_at", T),
    )
    op.create_index("idx_agents_number", "agents", ["number"], unique=True)
    op.create_table(
        "calls",
        _id(),
        *(sa.Column(n, T) for n in ("kind", "user_id", "agent_number", "customer_number")),
        *(sa.Column(n, T) for n in ("kaleyra_id", "state", "status1", "status2")),
        sa.Column("duration", I),
        sa.Column("billsec", I),
        *(sa.Column(n, T) for n in ("recording", "channel", "message_ts", "callback_token")),
        *(sa.Column(n, T) for n in ("error", "created_at", "updated_at", "final_at")),
        sqlite_autoincrement=True,
    )
    op.create_index("idx_calls_kaleyra_id", "calls", ["kaleyra_id"])
    op.create_index("idx_calls_user_id_created_at", "calls", ["user_id", "created_at"])
    op.create_index("idx_calls_callback_token", "calls", ["callback_token"], unique=True)
    op.create_index("idx_calls_created_at", "calls", ["created_at"])
    op.create_index("idx_calls_user_id_id", "calls", ["user_id", "id"])
    _partial("idx_calls_open", "calls", "id", "state IN ('placed', 'unknown')")
    _partial("idx_calls_placing", "calls", "id", "state = 'placing'")
    _partial("idx_calls_placed", "calls", "id", "state = 'placed'")
    op.create_table(
        "audit",
        _id(),
        *(sa.Column(n, T) for n in ("at", "user_id", "action", "outcome", "numbers")),
        sa.Column("kaleyra_ids", T),
        sa.Column("detail", T),
        sqlite_autoincrement=True,
    )
    op.create_index("idx_audit_at", "audit", ["at"])
    op.create_index("idx_audit_action_id", "audit", ["action", "id"])
    op.create_table("settings", sa.Column("key", T, primary_key=True), sa.Column("value", T))
    op.create_table("seen_requests", sa.Column("key", T, primary_key=True), sa.Column("at", T))
    op.create_index("idx_seen_requests_at", "seen_requests", ["at"])
    op.create_table(
        "blacklist",
        sa.Column("number", T, primary_key=True),
        sa.Column("added_by", T),
        sa.Column("added_at", T),
        sa.Column("reason", T),
    )
    op.create_index("idx_blacklist_added_at", "blacklist", ["added_at"])
    op.create_index("idx_blacklist_added_at_number", "blacklist", ["added_at", "number"])
    op.create_table(
        "jobs",
        _id(),
        *(sa.Column(n, T) for n in ("kind", "user_id", "state", "payload", "result")),
        *(sa.Column(n, T) for n in ("channel", "message_ts", "created_at", "updated_at")),
        *(sa.Column(n, T) for n in ("pause_reason", "paused_by", "started_at", "results_at")),
        sqlite_autoincrement=True,
    )
    op.create_index("idx_jobs_state", "jobs", ["state"])
    op.create_table(
        "followups",
        sa.Column("id", T, primary_key=True),
        *(sa.Column(n, T) for n in ("user_id", "follower", "phone", "name", "ontime", "notes")),
        sa.Column("autocall", I),
        *(sa.Column(n, T) for n in ("state", "created_at", "updated_at", "remind_at")),
        sa.Column("source", T, nullable=False, server_default="slack"),
        sa.Column("reminder_state", T, nullable=False, server_default="pending"),
    )
    op.create_index("idx_followups_follower_ontime", "followups", ["follower", "ontime"])
    op.create_index(
        "idx_followups_reminder_state_ontime", "followups", ["reminder_state", "ontime"]
    )
    op.create_table(
        "sent_log",
        sa.Column("key", T, primary_key=True),
        *(sa.Column(n, T) for n in ("kind", "due_at", "state")),
        sa.Column("late", I),
        sa.Column("at", T),
        sa.Column("detail", T),
    )
    op.create_index("idx_sent_log_kind_state", "sent_log", ["kind", "state"])
    op.create_index("idx_sent_log_state_at", "sent_log", ["state", "at"])
    _partial("idx_sent_log_missed", "sent_log", "due_at", "state = 'missed'")
    _partial("idx_sent_log_claimed", "sent_log", "at", "state = 'claimed'")
    op.create_table(
        "roles",
        sa.Column("user_id", T, primary_key=True),
        sa.Column("role", T),
        sa.Column("granted_by", T),
        sa.Column("at", T),
    )
    op.create_table(
        "verifications",
        sa.Column("user_id", T, primary_key=True),
        sa.Column("number", T, nullable=False),
        sa.Column("state", T, nullable=False),
        sa.Column("code_hash", T),
        sa.Column("tries", I, nullable=False, server_default="0"),
        sa.Column("expires_at", T),
        sa.Column("verified_by", T),
        sa.Column("calls_sent", I, nullable=False, server_default="0"),
        sa.Column("first_call_at", T),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
    )
    op.create_table(
        "campaign_chunks",
        sa.Column("job_id", ID, primary_key=True, autoincrement=False),
        sa.Column("idx", I, primary_key=True, autoincrement=False),
        sa.Column("numbers", T),
        sa.Column("size", I, nullable=False),
        sa.Column("state", T, nullable=False),
        *(sa.Column(n, T) for n in ("group_ids", "code", "error", "sent_at", "done_at")),
    )
    op.create_index(
        "idx_campaign_chunks_job_id_state_idx", "campaign_chunks", ["job_id", "state", "idx"]
    )
    op.create_table(
        "feed_calls",
        sa.Column("key", T, primary_key=True),
        *(sa.Column(n, T) for n in ("caller", "agent_number", "agent_user", "started_at")),
        sa.Column("billsec", I),
        sa.Column("status", T),
        sa.Column("location", T),
        sa.Column("missed", I),
        *(sa.Column(n, T) for n in ("state", "channel", "message_ts", "claimed_by", "claimed_at")),
        sa.Column("callback_call_id", ID),
        sa.Column("callback_state", T),
        sa.Column("callback_billsec", I),
        sa.Column("created_at", T),
        sa.Column("updated_at", T),
    )
    op.create_index("idx_feed_calls_state_started_at", "feed_calls", ["state", "started_at"])
    op.create_index("idx_feed_calls_started_at", "feed_calls", ["started_at"])
    op.create_index("idx_feed_calls_callback_call_id", "feed_calls", ["callback_call_id"])
    op.create_table(
        "call_outcomes",
        sa.Column("call_id", ID, primary_key=True, autoincrement=False),
        *(sa.Column(n, T) for n in ("user_id", "outcome", "note", "followup_at", "followup_id")),
        sa.Column("created_at", T),
        sa.Column("updated_at", T),
    )
