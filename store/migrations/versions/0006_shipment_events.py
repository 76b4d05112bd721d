"""Every change of a parcel, version by version: a parcel now signals its order only with what the
order acts on, so the order's timeline takes the parcel's other steps (picking, packed, label,
out for delivery, delays) from here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipment_events",
        sa.Column("shipment_id", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("shipment_id", "version", name=op.f("pk_shipment_events")),
    )
    op.create_index("ix_shipment_events_order_id_at", "shipment_events", ["order_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_shipment_events_order_id_at", table_name="shipment_events")
    op.drop_table("shipment_events")
