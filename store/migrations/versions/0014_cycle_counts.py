"""Cycle counts (issue 19): every physical count is a row of `stock_counts`; one over the
threshold waits there (`pending`) for ops approval before the stock changes. The counts made
before this migration (stock_adjustments rows of reason `count`) are copied in as `applied`, so
the count plan knows when each item was last counted.

Revision ID: 0014_cycle_counts
Revises: 0013_reorder_rules
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_cycle_counts"
down_revision: str | None = "0013_reorder_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_counts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("warehouse", sa.String(32), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("book", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("discrepancy", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counted_by", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("on_hand_at_decision", sa.Integer(), nullable=True),
        sa.Column("applied_delta", sa.Integer(), nullable=True),
        sa.Column("on_hand_after", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_counts")),
        sa.ForeignKeyConstraint(["sku"], ["catalog_items.sku"], name=op.f("fk_stock_counts_sku_catalog_items")),
        sa.ForeignKeyConstraint(["warehouse"], ["warehouses.code"], name=op.f("fk_stock_counts_warehouse_warehouses")),
        sa.CheckConstraint(
            "status IN ('applied', 'pending', 'approved', 'rejected', 'superseded')",
            name=op.f("ck_stock_counts_status_known"),
        ),
        sa.CheckConstraint("counted >= 0", name=op.f("ck_stock_counts_counted_nonnegative")),
    )
    op.create_index(
        "ix_stock_counts_sku_warehouse_counted_at", "stock_counts", ["sku", "warehouse", "counted_at"]
    )
    op.create_index(
        "uq_stock_counts_one_pending",
        "stock_counts",
        ["sku", "warehouse"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    # The counts made so far: each applied at once, its audit row says what was counted.
    op.execute(
        """
        INSERT INTO stock_counts (sku, warehouse, counted, book, reserved, discrepancy, status,
                                  counted_by, counted_at, on_hand_after, applied_delta)
        SELECT a.sku, a.warehouse, (a.detail ->> 'counted')::int, (a.detail ->> 'counted')::int - a.delta_on_hand,
               0, a.delta_on_hand, 'applied', a.actor, a.at, (a.detail ->> 'counted')::int, a.delta_on_hand
          FROM stock_adjustments a
          JOIN catalog_items c ON c.sku = a.sku
          JOIN warehouses w ON w.code = a.warehouse
         WHERE a.reason = 'count' AND a.detail ? 'counted'
         ORDER BY a.id
        """
    )


def downgrade() -> None:
    op.drop_index("uq_stock_counts_one_pending", table_name="stock_counts")
    op.drop_index("ix_stock_counts_sku_warehouse_counted_at", table_name="stock_counts")
    op.drop_table("stock_counts")
