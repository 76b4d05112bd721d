"""Tracking numbers known from the moment their label is bought, before the parcel's projection
row: a carrier webhook for a parcel labelled a moment ago is kept, not a 404 (issue 16).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracking_numbers",
        sa.Column("tracking_number", sa.String(64), nullable=False),
        sa.Column("carrier", sa.String(32), nullable=False),
        sa.Column("shipment_id", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("tracking_number", name=op.f("pk_tracking_numbers")),
    )


def downgrade() -> None:
    op.drop_table("tracking_numbers")
