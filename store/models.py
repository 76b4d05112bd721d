"""Tables of the order store. The migrations in `store/migrations/versions/` mirror these by hand."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain.events import SLA_BREACHED

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(12, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _now() -> Any:
    return mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class CatalogItemRow(Base):
    __tablename__ = "catalog_items"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(
        String(3), nullable=False, server_default="CNY"
    )
    weight_grams: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="500"
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    # SKUs a customer may take instead when this one is backordered (migration 0010).
    substitutes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default="[]")
    updated_at: Mapped[datetime] = _now()


class WarehouseRow(Base):
    __tablename__ = "warehouses"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    region: Mapped[str] = mapped_column(String(32), nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    daily_capacity: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="500"
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")


class StockLevelRow(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_nonnegative"),
        CheckConstraint("reserved >= 0", name="reserved_nonnegative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint("safety_stock >= 0", name="safety_stock_nonnegative"),
    )

    sku: Mapped[str] = mapped_column(
        String(64), ForeignKey("catalog_items.sku"), primary_key=True
    )
    warehouse: Mapped[str] = mapped_column(
        String(32), ForeignKey("warehouses.code"), primary_key=True
    )
    on_hand: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    reserved: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    safety_stock: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="0"
    )
    reorder_point: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="0"
    )
    # R6: set when available (on_hand - reserved - safety_stock) drops to the reorder point or
    # under and the ops alert went out; cleared when it rises above, so the next drop alerts again.
    low_stock_alerted: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default="false"
    )
    low_stock_crossings: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="0"
    )
    updated_at: Mapped[datetime] = _now()


class ReservationRow(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("order_id", "sku", "warehouse"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "status IN ('reserved', 'released', 'shipped')", name="status_known"
        ),
        Index("ix_reservations_warehouse_status", "warehouse", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # The reservation key: an order id, or `<order_id>#reship<n>` for a replacement parcel.
    order_id: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    warehouse: Mapped[str] = mapped_column(String(32), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default="reserved"
    )
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class StockAdjustmentRow(Base):
    __tablename__ = "stock_adjustments"
    __table_args__ = (
        Index("ix_stock_adjustments_sku_warehouse", "sku", "warehouse"),
        # The replenishment demand (migration 0013): shipments of the last 30 days, by time.
        Index(
            "ix_stock_adjustments_demand_at",
            "at",
            postgresql_where="reason IN ('shipment', 'restock_cancelled_label')",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    warehouse: Mapped[str] = mapped_column(String(32), nullable=False)
    delta_on_hand: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default="{}"
    )
    at: Mapped[datetime] = _now()


class PaymentRow(Base):
    """The ledger: one row per payment operation, keyed by its idempotency key."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(
            "operation IN ('authorize', 'capture', 'void', 'refund')",
            name="operation_known",
        ),
        Index("ix_payments_payment_id", "payment_id"),
        Index("ix_payments_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(
        String(200), nullable=False, unique=True
    )
    order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    operation: Mapped[str] = mapped_column(String(16), nullable=False)
    payment_id: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = _now()


class PaymentAttemptRow(Base):
    """Attempts per idempotency key, so `tok_flaky` fails its first two tries across processes."""

    __tablename__ = "payment_attempts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class CarrierLabelRow(Base):
    __tablename__ = "carrier_labels"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'cancelled')", name="status_known"),
        Index("ix_carrier_labels_shipment_id", "shipment_id"),
    )

    label_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(
        String(200), nullable=False, unique=True
    )
    shipment_id: Mapped[str] = mapped_column(String(100), nullable=False)
    carrier: Mapped[str] = mapped_column(String(32), nullable=False)
    service: Mapped[str] = mapped_column(String(16), nullable=False)
    tracking_number: Mapped[str] = mapped_column(
        String(32), nullable=False, unique=True
    )
    price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    promised_by: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default="active"
    )
    created_at: Mapped[datetime] = _now()


class ShipmentRow(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        # The warehouse work queue (migration 0010): the parcels waiting to be picked, per warehouse.
        Index("ix_shipments_warehouse_picking", "warehouse", postgresql_where="status = 'picking'"),
    )

    shipment_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    warehouse: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    carrier: Mapped[str | None] = mapped_column(String(32))
    tracking_number: Mapped[str | None] = mapped_column(String(32), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    updated_at: Mapped[datetime] = _now()


class ShipmentEventRow(Base):
    """Every change of a parcel, as the parcel recorded it (version by version). The order's
    timeline shows the ones the parcel did not signal to the order (domain.lifecycle.order_news)."""

    __tablename__ = "shipment_events"
    __table_args__ = (Index("ix_shipment_events_order_id_at", "order_id", "at"),)

    shipment_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    event: Mapped[str] = mapped_column(Text, nullable=False)


class OrderRow(Base):
    """Projection of the order workflow's state; the workflow stays the source of truth."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_created_at_order_id", "created_at", "order_id"),
        Index("ix_orders_status_created_at", "status", "created_at"),
        Index("ix_orders_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_orders_channel_created_at", "channel", "created_at"),
        Index(
            "ix_orders_needs_attention",
            "needs_attention",
            postgresql_where="needs_attention",
        ),
        # The management report (migration 0005): counts by status/channel/day, index only.
        Index("ix_orders_created_at_covering", "created_at", postgresql_include=["status", "channel"]),
        # Orders whose short-picked lines wait for stock (migration 0012): receipts wake them.
        Index(
            "ix_orders_short_waiting",
            "created_at",
            "order_id",
            postgresql_where=text("jsonb_array_length(document -> 'short_waits') > 0"),
        ),
    )

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    customer_id: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    channel_order_id: Mapped[str | None] = mapped_column(String(128))
    needs_attention: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default="false"
    )
    total: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    document: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


class OrderEventRow(Base):
    __tablename__ = "order_events"
    __table_args__ = (
        UniqueConstraint("order_id", "seq"),
        Index("ix_order_events_at", "at"),
        # The management report (migration 0005): step durations and SLA breaches.
        Index("ix_order_events_order_id_seq_covering", "order_id", "seq", postgresql_include=["status", "at"]),
        Index("ix_order_events_sla_breached", "order_id", "at", postgresql_where=f"event = '{SLA_BREACHED}'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    event: Mapped[str] = mapped_column(String(100), nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default="{}"
    )


class ApiIdempotencyRow(Base):
    __tablename__ = "api_idempotency"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = _now()


class NotificationOutboxRow(Base):
    __tablename__ = "notification_outbox"
    __table_args__ = (
        # The worker's sweep of recorded notifications (migration 0008): undelivered rows only,
        # a handful among every message ever sent, found by kind, oldest first.
        Index("ix_notification_outbox_undelivered", "kind", "id", postgresql_where="status IN ('pending', 'mailed')"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), nullable=False, unique=True)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    recipient: Mapped[str] = mapped_column(String(300), nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default="sent"
    )
    created_at: Mapped[datetime] = _now()
    # The message's language (zh/en) for rows the sweep delivers (store.pending_notifications);
    # NULL on rows the send_notification activity claims, which carry their language themselves.
    language: Mapped[str | None] = mapped_column(String(8))


class CarrierTrackingEventRow(Base):
    """What a carrier reported about a parcel, as received by the webhook. The built-in carriers
    answer tracking polls from here, so a report whose signal was lost is still found."""

    __tablename__ = "carrier_tracking_events"
    __table_args__ = (
        UniqueConstraint("carrier", "tracking_number", "status", "detail", "at", name="uq_carrier_tracking_events_event"),
        Index("ix_carrier_tracking_events_tracking_number", "tracking_number"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    carrier: Mapped[str] = mapped_column(String(32), nullable=False)
    tracking_number: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    detail: Mapped[str] = mapped_column(String(200), nullable=False, server_default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    promised_by: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class ComplaintRow(Base):
    """R11: an after-sales complaint in the ops queue. What the customer said is the `complaint`
    feedback row that opened it (feedback.complaint_id = complaint_id, kind = 'complaint')."""

    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved')", name="status_known"),
        Index("ix_complaints_status_opened_at", "status", "opened_at"),
    )

    complaint_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="open")
    opened_at: Mapped[datetime] = _now()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class FeedbackRow(Base):
    """R11: a customer's rating of an order (`review`) or an after-sales `complaint`.

    `complaint_id` is the complaint a `complaint` opened, or, on a `review`, the resolved complaint
    whose after-sales handling it rates. One plain review per order; one of each kind per complaint.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("kind IN ('review', 'complaint')", name="kind_known"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        UniqueConstraint("complaint_id", "kind"),
        Index("ix_feedback_created_at", "created_at"),
        Index(
            "uq_feedback_order_review",
            "order_id",
            unique=True,
            postgresql_where="kind = 'review' AND complaint_id IS NULL",
        ),
    )

    feedback_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    customer_id: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    rating: Mapped[int] = mapped_column(Integer, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    complaint_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("complaints.complaint_id"))
    # `<principal>:<Idempotency-Key>` when the client sent one; a repeat returns this row.
    idempotency_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = _now()


class ConsoleSessionRow(Base):
    """One sign-in to the ops console (store.console_sessions): the cookie names it by
    `session_id`, and it is good while not revoked, not past `expires_at` (the absolute lifetime)
    and while the key it was signed in with (`key_digest`, hex SHA-256) is still configured as ops."""

    __tablename__ = "console_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(String(200), nullable=False)
    key_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TrackingNumberRow(Base):
    """A tracking number and its parcel, written by the label purchase itself: the webhook knows
    the number before the parcel's projection row exists (issue 16)."""

    __tablename__ = "tracking_numbers"

    tracking_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), nullable=False)
    shipment_id: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = _now()


class StockCountRow(Base):
    """A physical count of one SKU at one warehouse (issue 19, cycle counts; domain/counts.py).
    `book` is on_hand when counted; `discrepancy` = counted - book. A small discrepancy is
    `applied` at once; a large one is `pending` until ops approve (the discrepancy applies to
    the stock as it is then: `applied_delta`, `on_hand_after`) or reject it; a later count of
    the same item supersedes a pending one. The stock changes leave stock_adjustments rows."""

    __tablename__ = "stock_counts"
    __table_args__ = (
        CheckConstraint(
            "status IN ('applied', 'pending', 'approved', 'rejected', 'superseded')", name="status_known"
        ),
        CheckConstraint("counted >= 0", name="counted_nonnegative"),
        Index("ix_stock_counts_sku_warehouse_counted_at", "sku", "warehouse", "counted_at"),
        # At most one count of an item waits for ops (a later count supersedes it).
        Index("uq_stock_counts_one_pending", "sku", "warehouse", unique=True, postgresql_where="status = 'pending'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(64), ForeignKey("catalog_items.sku"), nullable=False)
    warehouse: Mapped[str] = mapped_column(String(32), ForeignKey("warehouses.code"), nullable=False)
    counted: Mapped[int] = mapped_column(Integer, nullable=False)
    book: Mapped[int] = mapped_column(Integer, nullable=False)
    reserved: Mapped[int] = mapped_column(Integer, nullable=False)
    discrepancy: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    counted_by: Mapped[str] = mapped_column(String(128), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    counted_at: Mapped[datetime] = _now()
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    on_hand_at_decision: Mapped[int | None] = mapped_column(Integer)
    applied_delta: Mapped[int | None] = mapped_column(Integer)
    on_hand_after: Mapped[int | None] = mapped_column(Integer)


class ReorderRuleRow(Base):
    """R6 replenishment (migration 0013): when a SKU at a warehouse is to be reordered and up to
    how much (domain/replenishment.py). Every change also writes an audit row (stock_adjustments,
    reason `reorder_rule_set` or `reorder_rule_deleted`, no stock moved)."""

    __tablename__ = "reorder_rules"
    __table_args__ = (
        CheckConstraint("minimum >= 0", name="minimum_nonnegative"),
        CheckConstraint("maximum >= minimum", name="maximum_at_least_minimum"),
        CheckConstraint("lead_time_days >= 0", name="lead_time_nonnegative"),
    )

    sku: Mapped[str] = mapped_column(String(64), ForeignKey("catalog_items.sku"), primary_key=True)
    warehouse: Mapped[str] = mapped_column(String(32), ForeignKey("warehouses.code"), primary_key=True)
    minimum: Mapped[int] = mapped_column(Integer, nullable=False)
    maximum: Mapped[int] = mapped_column(Integer, nullable=False)
    lead_time_days: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(128), nullable=False)
    updated_at: Mapped[datetime] = _now()


class StockTransferRow(Base):
    """A move of unreserved stock between two warehouses (migration 0013). Its two legs are the
    audit rows `transfer_out` and `transfer_in` (stock_adjustments, detail.transfer_id = id),
    written in the same transaction. `idempotency_key` is `<principal>:<Idempotency-Key>` when
    the client sent one; a repeat with the same body answers `result` again."""

    __tablename__ = "stock_transfers"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("from_warehouse <> to_warehouse", name="distinct_warehouses"),
        Index("ix_stock_transfers_sku_at", "sku", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(64), ForeignKey("catalog_items.sku"), nullable=False)
    from_warehouse: Mapped[str] = mapped_column(String(32), ForeignKey("warehouses.code"), nullable=False)
    to_warehouse: Mapped[str] = mapped_column(String(32), ForeignKey("warehouses.code"), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(128))
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    at: Mapped[datetime] = _now()
