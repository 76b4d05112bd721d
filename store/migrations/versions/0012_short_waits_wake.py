"""Orders whose short-picked lines wait for stock: a partial index for the receipts' look-up
(store.projection.backordered_orders; short-pick-wakes-on-receipt-20261202).

Revision ID: 0012_short_waits_wake
Revises: 0011_catalog_substitutes
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_short_waits_wake"
down_revision: str | None = "0011_catalog_substitutes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_orders_short_waiting ON orders (created_at, order_id)"
        " WHERE jsonb_array_length(document -> 'short_waits') > 0"
    )


def downgrade() -> None:
    op.drop_index("ix_orders_short_waiting", table_name="orders")
