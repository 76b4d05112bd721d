"""Initial schema: catalog, warehouses, stock, reservations, payments ledger, carrier labels,
order and shipment projections, order events, API idempotency keys, notification outbox.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(12, 2)


def _ts(name: str, *, default: bool = True) -> sa.Column:  # type: ignore[type-arg]
    if default:
        return sa.Column(
            name,
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        )
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "catalog_items",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), server_default="CNY", nullable=False),
        sa.Column("weight_grams", sa.Integer(), server_default="500", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("sku", name="pk_catalog_items"),
    )
    op.create_table(
        "warehouses",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="1", nullable=False),
        sa.Column("daily_capacity", sa.Integer(), server_default="500", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_warehouses"),
    )
    op.create_table(
        "stock_levels",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("warehouse", sa.String(32), nullable=False),
        sa.Column("on_hand", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reserved", sa.Integer(), server_default="0", nullable=False),
        sa.Column("safety_stock", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reorder_point", sa.Integer(), server_default="0", nullable=False),
        _ts("updated_at"),
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_levels_on_hand_nonnegative"),
        sa.CheckConstraint(
            "reserved >= 0", name="ck_stock_levels_reserved_nonnegative"
        ),
        sa.CheckConstraint(
            "reserved <= on_hand", name="ck_stock_levels_reserved_within_on_hand"
        ),
        sa.CheckConstraint(
            "safety_stock >= 0", name="ck_stock_levels_safety_stock_nonnegative"
        ),
        sa.ForeignKeyConstraint(
            ["sku"], ["catalog_items.sku"], name="fk_stock_levels_sku_catalog_items"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse"],
            ["warehouses.code"],
            name="fk_stock_levels_warehouse_warehouses",
        ),
        sa.PrimaryKeyConstraint("sku", "warehouse", name="pk_stock_levels"),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("warehouse", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), server_default="reserved", nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("quantity > 0", name="ck_reservations_quantity_positive"),
        sa.CheckConstraint(
            "status IN ('reserved', 'released', 'shipped')",
            name="ck_reservations_status_known",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reservations"),
        sa.UniqueConstraint(
            "order_id",
            "sku",
            "warehouse",
            name="uq_reservations_order_id_sku_warehouse",
        ),
    )
    op.create_index("ix_reservations_order_id", "reservations", ["order_id"])
    op.create_index(
        "ix_reservations_warehouse_status", "reservations", ["warehouse", "status"]
    )
    op.create_table(
        "stock_adjustments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("warehouse", sa.String(32), nullable=False),
        sa.Column("delta_on_hand", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("detail", postgresql.JSONB(), server_default="{}", nullable=False),
        _ts("at"),
        sa.PrimaryKeyConstraint("id", name="pk_stock_adjustments"),
    )
    op.create_index(
        "ix_stock_adjustments_sku_warehouse", "stock_adjustments", ["sku", "warehouse"]
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("payment_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint(
            "operation IN ('authorize', 'capture', 'void', 'refund')",
            name="ck_payments_operation_known",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("idempotency_key", name="uq_payments_idempotency_key"),
    )
    op.create_index("ix_payments_payment_id", "payments", ["payment_id"])
    op.create_index("ix_payments_order_id", "payments", ["order_id"])
    op.create_table(
        "payment_attempts",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_payment_attempts"),
    )
    op.create_table(
        "carrier_labels",
        sa.Column("label_id", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("shipment_id", sa.String(100), nullable=False),
        sa.Column("carrier", sa.String(32), nullable=False),
        sa.Column("service", sa.String(16), nullable=False),
        sa.Column("tracking_number", sa.String(32), nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("promised_by", sa.Date(), nullable=True),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        _ts("created_at"),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled')", name="ck_carrier_labels_status_known"
        ),
        sa.PrimaryKeyConstraint("label_id", name="pk_carrier_labels"),
        sa.UniqueConstraint(
            "idempotency_key", name="uq_carrier_labels_idempotency_key"
        ),
        sa.UniqueConstraint(
            "tracking_number", name="uq_carrier_labels_tracking_number"
        ),
    )
    op.create_index("ix_carrier_labels_shipment_id", "carrier_labels", ["shipment_id"])
    op.create_table(
        "shipments",
        sa.Column("shipment_id", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("warehouse", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("carrier", sa.String(32), nullable=True),
        sa.Column("tracking_number", sa.String(32), nullable=True),
        sa.Column("document", postgresql.JSONB(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("shipment_id", name="pk_shipments"),
    )
    op.create_index("ix_shipments_order_id", "shipments", ["order_id"])
    op.create_index("ix_shipments_tracking_number", "shipments", ["tracking_number"])
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_order_id", sa.String(128), nullable=True),
        sa.Column(
            "needs_attention", sa.Boolean(), server_default="false", nullable=False
        ),
        sa.Column("total", MONEY, nullable=False),
        _ts("created_at", default=False),
        _ts("updated_at", default=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("document", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_orders"),
    )
    op.create_index(
        "ix_orders_created_at_order_id", "orders", ["created_at", "order_id"]
    )
    op.create_index("ix_orders_status_created_at", "orders", ["status", "created_at"])
    op.create_index(
        "ix_orders_customer_id_created_at", "orders", ["customer_id", "created_at"]
    )
    op.create_index("ix_orders_channel_created_at", "orders", ["channel", "created_at"])
    op.create_index(
        "ix_orders_needs_attention",
        "orders",
        ["needs_attention"],
        postgresql_where=sa.text("needs_attention"),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _ts("at", default=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("detail", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_events"),
        sa.UniqueConstraint("order_id", "seq", name="uq_order_events_order_id_seq"),
    )
    op.create_index("ix_order_events_at", "order_events", ["at"])
    op.create_table(
        "api_idempotency",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.String(128), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("key", name="pk_api_idempotency"),
    )
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(300), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="sent", nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_notification_outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_notification_outbox_dedupe_key"),
    )
    op.create_index(
        "ix_notification_outbox_order_id", "notification_outbox", ["order_id"]
    )


def downgrade() -> None:
    for table in (
        "notification_outbox",
        "api_idempotency",
        "order_events",
        "orders",
        "shipments",
        "carrier_labels",
        "payment_attempts",
        "payments",
        "stock_adjustments",
        "reservations",
        "stock_levels",
        "warehouses",
        "catalog_items",
    ):
        op.drop_table(table)
