"""Which replica holds a campaign's sender lease (issue 19): another replica that finds the lease
run out reports the campaign to its owner instead of sending it blind."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("sender_by", sa.Text))
