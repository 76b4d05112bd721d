"""Replenishment (issue 19): reorder rules per SKU and warehouse, and stock transfers between
warehouses (their two legs are stock_adjustments audit rows).

Revision ID: 0013_reorder_rules
Revises: 0012_short_waits_wake
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_reorder_rules"
down_revision: str | None = "0012_short_waits_wake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reorder_rules",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("warehouse", sa.String(32), nullable=False),
        sa.Column("minimum", sa.Integer(), nullable=False),
        sa.Column("maximum", sa.Integer(), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("sku", "warehouse", name=op.f("pk_reorder_rules")),
        sa.ForeignKeyConstraint(["sku"], ["catalog_items.sku"], name=op.f("fk_reorder_rules_sku_catalog_items")),
        sa.ForeignKeyConstraint(
            ["warehouse"], ["warehouses.code"], name=op.f("fk_reorder_rules_warehouse_warehouses")
        ),
        sa.CheckConstraint("minimum >= 0", name=op.f("ck_reorder_rules_minimum_nonnegative")),
        sa.CheckConstraint("maximum >= minimum", name=op.f("ck_reorder_rules_maximum_at_least_minimum")),
        sa.CheckConstraint("lead_time_days >= 0", name=op.f("ck_reorder_rules_lead_time_nonnegative")),
    )
    op.create_table(
        "stock_transfers",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("from_warehouse", sa.String(32), nullable=False),
        sa.Column("to_warehouse", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=True),
        sa.Column("request_hash", sa.String(128), nullable=True),
        sa.Column("result", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_transfers")),
        sa.ForeignKeyConstraint(["sku"], ["catalog_items.sku"], name=op.f("fk_stock_transfers_sku_catalog_items")),
        sa.ForeignKeyConstraint(
            ["from_warehouse"], ["warehouses.code"], name=op.f("fk_stock_transfers_from_warehouse_warehouses")
        ),
        sa.ForeignKeyConstraint(
            ["to_warehouse"], ["warehouses.code"], name=op.f("fk_stock_transfers_to_warehouse_warehouses")
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_stock_transfers_idempotency_key")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_transfers_quantity_positive")),
        sa.CheckConstraint("from_warehouse <> to_warehouse", name=op.f("ck_stock_transfers_distinct_warehouses")),
    )
    op.create_index("ix_stock_transfers_sku_at", "stock_transfers", ["sku", "at"])
    op.create_index(
        "ix_stock_adjustments_demand_at",
        "stock_adjustments",
        ["at"],
        postgresql_where=sa.text("reason IN ('shipment', 'restock_cancelled_label')"),
    )


def downgrade() -> None:
    op.drop_index("ix_stock_adjustments_demand_at", table_name="stock_adjustments")
    op.drop_index("ix_stock_transfers_sku_at", table_name="stock_transfers")
    op.drop_table("stock_transfers")
    op.drop_table("reorder_rules")
