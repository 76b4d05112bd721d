"""Low-stock alerts once per crossing (R6): stock_levels remember whether the current dip under
the reorder point was alerted and how many crossings there were (the outbox dedupe key counts them).
Reservations are keyed by longer ids (reship reservations use `<order_id>#reship<n>`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stock_levels",
        sa.Column(
            "low_stock_alerted", sa.Boolean(), server_default="false", nullable=False
        ),
    )
    op.add_column(
        "stock_levels",
        sa.Column(
            "low_stock_crossings", sa.Integer(), server_default="0", nullable=False
        ),
    )
    op.alter_column(
        "reservations",
        "order_id",
        existing_type=sa.String(64),
        type_=sa.String(100),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "reservations",
        "order_id",
        existing_type=sa.String(100),
        type_=sa.String(64),
        existing_nullable=False,
    )
    op.drop_column("stock_levels", "low_stock_crossings")
    op.drop_column("stock_levels", "low_stock_alerted")
