"""Carrier tracking events as received, so tracking can be polled when a webhook's signal is lost.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carrier_tracking_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("carrier", sa.String(32), nullable=False),
        sa.Column("tracking_number", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(200), server_default="", nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promised_by", sa.Date(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_tracking_events")),
        sa.UniqueConstraint(
            "carrier",
            "tracking_number",
            "status",
            "detail",
            "at",
            name="uq_carrier_tracking_events_event",
        ),
    )
    op.create_index(
        "ix_carrier_tracking_events_tracking_number", "carrier_tracking_events", ["tracking_number"]
    )


def downgrade() -> None:
    op.drop_index("ix_carrier_tracking_events_tracking_number", table_name="carrier_tracking_events")
    op.drop_table("carrier_tracking_events")
