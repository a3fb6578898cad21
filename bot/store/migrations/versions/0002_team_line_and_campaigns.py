"""The second audit (issue 18): callers that cannot be dialled, open claims by caller, Slack
deliveries taken once, and the lease of a campaign's sender.

Files that came from the sqlite-utils history got these (and AUTOINCREMENT ids) from its steps
12 and 13 and are stamped here; the baseline already counts ids with AUTOINCREMENT.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN_CLAIMS = "callback_state IN ('dialling', 'unknown')"


def upgrade() -> None:
    with op.batch_alter_table("feed_calls") as batch:
        batch.add_column(sa.Column("caller_problem", sa.Text))
    op.create_index(
        "idx_feed_claims_open",
        "feed_calls",
        ["caller"],
        sqlite_where=sa.text(OPEN_CLAIMS),
        postgresql_where=sa.text(OPEN_CLAIMS),
    )
    op.create_table(
        "slack_deliveries",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("at", sa.Text, nullable=False),
    )
    op.create_index("idx_slack_deliveries_at", "slack_deliveries", ["at"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("sender_until", sa.Text))
