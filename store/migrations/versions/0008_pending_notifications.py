"""The worker's sweep delivers resolved-complaint notifications besides low-stock alerts: outbox
rows remember their language, and a partial index finds the undelivered rows by kind (the sweep
runs every few seconds; a complaint's notification has a real order id, so the order_id index no
longer singles the swept rows out).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notification_outbox", sa.Column("language", sa.String(8), nullable=True))
    op.create_index(
        "ix_notification_outbox_undelivered",
        "notification_outbox",
        ["kind", "id"],
        postgresql_where=sa.text("status IN ('pending', 'mailed')"),
    )


def downgrade() -> None:
    op.drop_index("ix_notification_outbox_undelivered", table_name="notification_outbox")
    op.drop_column("notification_outbox", "language")
