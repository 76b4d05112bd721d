"""The order projection: what activities write on every transition and the API reads.

The workflow stays the source of truth; writes here are idempotent and safe out of order
(an older `OrderView.version` never overwrites a newer one).
"""

import base64
import json
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.orm import Session, sessionmaker

from domain import events
from domain.enums import OrderStatus
from domain.models import STORED_DATA, OrderView, ShipmentView, TimelineEntry, forbidden_character
from store.catalog import (  # re-exported: admin functions live beside the projection's readers
    catalog_items,
    get_catalog_item,
    list_warehouses,
    receive_stock,
    record_count,
    set_stock_level,
    stock_alerts,
    stock_levels,
    upsert_catalog_item,
    upsert_warehouse,
)
from store.models import ApiIdempotencyRow, OrderEventRow, OrderRow, ShipmentEventRow, ShipmentRow

__all__ = [
    "InvalidCursor",
    "backordered_orders",
    "catalog_items",
    "claim_idempotency_key",
    "get_catalog_item",
    "get_order",
    "list_orders",
    "list_warehouses",
    "ops_queue",
    "order_status",
    "receive_stock",
    "recent_order_count",
    "record_count",
    "record_shipment",
    "record_transition",
    "record_transitions",
    "set_stock_level",
    "shipment_by_id",
    "shipment_by_tracking",
    "shipments_of_order",
    "stock_alerts",
    "stock_levels",
    "timeline",
    "upsert_catalog_item",
    "upsert_warehouse",
]

SessionFactory = sessionmaker[Session]
MAX_PAGE = 500


# The projection's write statements, built once. Built per call, each upsert assembled its
# `excluded` column collection again, a measurable part of the worker's CPU (docs/performance.md);
# built once, they also compile once (SQLAlchemy's statement cache). Core tables, not the ORM
# entities: rows go in as parameters, without the ORM's bulk-insert bookkeeping.
def _upsert_if_newer(table: Table, key: str, columns: tuple[str, ...], newer: str, strictly: bool) -> Insert:
    """INSERT ... ON CONFLICT (key) DO UPDATE `columns`, only where the incoming row's `newer`
    column is later (or, not strictly, not earlier) than the stored one."""
    stmt = insert(table)
    stored, incoming = table.c[newer], stmt.excluded[newer]
    return stmt.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={name: stmt.excluded[name] for name in columns},
        where=stored < incoming if strictly else stored <= incoming,
    )


def _insert_once(table: Table, *key: str) -> Insert:
    return insert(table).on_conflict_do_nothing(index_elements=[table.c[k] for k in key])


_ORDER_UPSERT = _upsert_if_newer(
    cast(Table, OrderRow.__table__),
    "order_id",
    (
        "status", "customer_id", "channel", "channel_order_id", "needs_attention", "total",
        "created_at", "updated_at", "version", "document",
    ),
    newer="version",
    strictly=True,
)
_ORDER_EVENT_INSERT = _insert_once(cast(Table, OrderEventRow.__table__), "order_id", "seq")
_SHIPMENT_UPSERT = _upsert_if_newer(
    cast(Table, ShipmentRow.__table__),
    "shipment_id",
    ("order_id", "warehouse", "status", "carrier", "tracking_number", "document", "updated_at"),
    newer="updated_at",
    strictly=False,
)
_SHIPMENT_EVENT_INSERT = _insert_once(cast(Table, ShipmentEventRow.__table__), "shipment_id", "version")


class InvalidCursor(ValueError):
    """A pagination cursor that this module did not issue."""


def _order_document(order: OrderView) -> dict[str, Any]:
    # The timeline lives in order_events; the document would only grow with it.
    doc: dict[str, Any] = order.model_dump(mode="json", exclude={"timeline"})
    return doc


def record_transition(
    sf: SessionFactory, order: OrderView, entry: TimelineEntry, seq: int
) -> None:
    record_transitions(sf, order, [(seq, entry)])


def record_transitions(
    sf: SessionFactory, order: OrderView, entries: list[tuple[int, TimelineEntry]]
) -> None:
    """The order as it is after `entries` (seq, entry), and the entries, in one transaction: a
    burst of transitions costs one commit. Safe to repeat and out of order: an older
    `order.version` never overwrites a newer row, an entry already written is kept."""
    row = {
        "order_id": order.order_id,
        "status": order.status.value,
        "customer_id": order.customer.id,
        "channel": order.channel.value,
        "channel_order_id": order.channel_order_id,
        "needs_attention": order.needs_attention,
        "total": order.totals.grand_total,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "version": order.version,
        "document": _order_document(order),
    }
    with sf.begin() as s:
        s.execute(_ORDER_UPSERT, row)
        if entries:
            s.execute(
                _ORDER_EVENT_INSERT,
                [
                    {
                        "order_id": order.order_id,
                        "seq": seq,
                        "at": entry.at,
                        "status": entry.status.value,
                        "event": entry.event,
                        "actor": entry.actor,
                        "detail": json.loads(json.dumps(entry.detail, default=str)),
                    }
                    for seq, entry in entries
                ],
            )


def entry_of(row: OrderEventRow) -> TimelineEntry:
    return TimelineEntry(
        at=row.at,
        status=OrderStatus(row.status),
        event=row.event,
        actor=row.actor,
        detail=row.detail,
    )


def _timeline(s: Session, order_id: str) -> list[TimelineEntry]:
    """The order's own entries, with its parcels' steps that the order was not told about
    (a parcel signals only what the order acts on: domain.lifecycle.order_news) merged in by
    time. Such a step shows the status the order had then."""
    rows = s.scalars(
        select(OrderEventRow)
        .where(OrderEventRow.order_id == order_id)
        .order_by(OrderEventRow.seq)
    ).all()
    entries = [entry_of(row) for row in rows]
    told = {
        (entry.detail.get("shipment_id"), entry.detail.get("version"))
        for entry in entries
        if entry.event.startswith(events.SHIPMENT_PREFIX)
    }
    parcel_steps = [
        step
        for step in s.scalars(
            select(ShipmentEventRow)
            .where(ShipmentEventRow.order_id == order_id)
            .order_by(ShipmentEventRow.at, ShipmentEventRow.shipment_id, ShipmentEventRow.version)
        ).all()
        if (step.shipment_id, step.version) not in told
    ]
    if not parcel_steps:
        return entries
    # Where each parcel's news the order was told of stands among the order's entries, by
    # version: a parcel's own later step must not come before it. The order hears of a step
    # moments after the parcel made it, so on a busy worker the parcel's next step can be older
    # than the order's entry about the one before (in transit heard after out for delivery).
    told_at: dict[tuple[object, object], int] = {}
    for index, entry in enumerate(entries):
        if entry.event.startswith(events.SHIPMENT_PREFIX):
            told_at[(entry.detail.get("shipment_id"), entry.detail.get("version"))] = index
    merged: list[TimelineEntry] = []
    position = 0
    for step in parcel_steps:
        # The order's entries up to this step's time come first (a parcel's step comes before
        # the order's entry made at the same instant: the order hears of it later), and so does
        # every entry about an earlier version of the same parcel.
        earlier = [
            index
            for (shipment_id, version), index in told_at.items()
            if shipment_id == step.shipment_id and isinstance(version, int) and version < step.version
        ]
        must_follow = max(earlier, default=-1)
        while position < len(entries) and (entries[position].at < step.at or position <= must_follow):
            merged.append(entries[position])
            position += 1
        status = merged[-1].status if merged else (entries[0].status if entries else OrderStatus.FULFILLING)
        merged.append(
            TimelineEntry(
                at=step.at,
                status=status,
                event=events.shipment_event(step.status),
                actor="system",
                detail={"shipment_id": step.shipment_id, "event": step.event, "version": step.version},
            )
        )
    merged.extend(entries[position:])
    return _in_time_order(merged)


def _in_time_order(timeline: list[TimelineEntry]) -> list[TimelineEntry]:
    """The timeline's times never go backwards: an entry that must follow a later one (a parcel's
    step after the order's entry about its previous step, which the order made a moment after the
    parcel moved on) is shown at that one's time. The parcel's log keeps its own times."""
    shown: list[TimelineEntry] = []
    for entry in timeline:
        if shown and entry.at < shown[-1].at:
            entry = entry.model_copy(update={"at": shown[-1].at})
        shown.append(entry)
    return shown


def _with_current_parcels(s: Session, orders: list[OrderView]) -> list[OrderView]:
    """Each order's parcels as the parcels last recorded them. The order's own document holds a
    parcel as the order last heard of it, which is only when something the order acts on changed
    (domain.lifecycle.order_news): a newer version from the shipments projection wins."""
    if not orders:
        return orders
    documents = s.scalars(
        select(ShipmentRow.document)
        .where(ShipmentRow.order_id.in_([o.order_id for o in orders]))
        .order_by(ShipmentRow.shipment_id)
    ).all()
    recorded: dict[str, list[ShipmentView]] = {}
    for doc in documents:
        parcel = ShipmentView.model_validate(doc, context=STORED_DATA)
        recorded.setdefault(parcel.order_id, []).append(parcel)
    for order in orders:
        latest = {known.shipment_id: known for known in order.shipments}
        for parcel in recorded.get(order.order_id, []):
            known = latest.get(parcel.shipment_id)
            if known is None:
                latest[parcel.shipment_id] = parcel
            elif parcel.version > known.version:
                # The outcome (reshipped, refunded) is the order's to write, never the parcel's.
                latest[parcel.shipment_id] = parcel.model_copy(update={"outcome": known.outcome})
        order.shipments = list(latest.values())  # the order's own order first, then newer parcels
    return orders


def timeline(sf: SessionFactory, order_id: str) -> list[TimelineEntry]:
    with sf() as s:
        return _timeline(s, order_id)


def get_order(sf: SessionFactory, order_id: str) -> OrderView | None:
    with sf() as s:
        document = s.scalar(
            select(OrderRow.document).where(OrderRow.order_id == order_id)
        )
        if document is None:
            return None
        order = OrderView.model_validate(document, context=STORED_DATA)
        order.timeline = _timeline(s, order_id)
        return _with_current_parcels(s, [order])[0]


def order_status(sf: SessionFactory, order_id: str) -> OrderStatus | None:
    """The order's status as projected (None: not projected): one column, where `get_order`
    reads and validates the whole order, its timeline and its parcels."""
    with sf() as s:
        status = s.scalar(select(OrderRow.status).where(OrderRow.order_id == order_id))
    return None if status is None else OrderStatus(status)


def _encode_cursor(created_at: datetime, order_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), order_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, order_id) a cursor of _encode_cursor holds. A client can send anything,
    so everything PostgreSQL would refuse is refused here first (each was a 500): a time whose
    offset is beyond +-15:59 (compared in UTC instead), one that leaves years 1-9999 in UTC, and
    an order id that is not text or holds a NUL (or any control character: no id does)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    if not (isinstance(document, list) and len(document) == 2 and all(isinstance(p, str) for p in document)):
        raise InvalidCursor("invalid cursor")
    created_text, order_id = document
    if forbidden_character(order_id) is not None:
        raise InvalidCursor("invalid cursor")
    try:
        created_at = datetime.fromisoformat(created_text)
        created_at = created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    return created_at, order_id


def list_orders(
    sf: SessionFactory,
    *,
    status: str | None = None,
    customer_id: str | None = None,
    customer_ids: list[str] | None = None,
    channel: str | None = None,
    needs_attention: bool | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[OrderView], str | None]:
    """Newest first, keyset-paginated by (created_at, order_id). `created_from` is inclusive,
    `created_to` exclusive. `customer_ids` restricts to those customers (an empty list matches
    nothing). Items carry no timeline. Raises InvalidCursor for a cursor not issued here."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(OrderRow.document, OrderRow.created_at, OrderRow.order_id)
    if status is not None:
        query = query.where(OrderRow.status == str(status))
    if customer_id is not None:
        query = query.where(OrderRow.customer_id == customer_id)
    if customer_ids is not None:
        query = query.where(OrderRow.customer_id.in_(customer_ids))
    if channel is not None:
        query = query.where(OrderRow.channel == str(channel))
    if needs_attention is not None:
        query = query.where(OrderRow.needs_attention.is_(needs_attention))
    if created_from is not None:
        query = query.where(OrderRow.created_at >= created_from)
    if created_to is not None:
        query = query.where(OrderRow.created_at < created_to)
    if cursor:
        after_created, after_id = _decode_cursor(cursor)
        query = query.where(
            tuple_(OrderRow.created_at, OrderRow.order_id)
            < tuple_(after_created, after_id)
        )
    query = query.order_by(OrderRow.created_at.desc(), OrderRow.order_id.desc()).limit(
        limit + 1
    )
    with sf() as s:
        rows = s.execute(query).all()
        page = rows[:limit]
        items = _with_current_parcels(s, [OrderView.model_validate(row.document, context=STORED_DATA) for row in page])
    next_cursor = (
        _encode_cursor(page[-1].created_at, page[-1].order_id)
        if len(rows) > limit
        else None
    )
    return items, next_cursor


def ops_queue(
    sf: SessionFactory,
    *,
    needs_attention: bool | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[OrderView]:
    """Orders waiting on ops, oldest first (created_at, order_id). Without filters: held orders
    (status on_hold) and orders that need attention; with filters, exactly those (all of them).
    Items carry no timeline."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(OrderRow.document)
    if needs_attention is None and status is None:
        query = query.where(
            or_(OrderRow.status == OrderStatus.ON_HOLD.value, OrderRow.needs_attention.is_(True))
        )
    if needs_attention is not None:
        query = query.where(OrderRow.needs_attention.is_(needs_attention))
    if status is not None:
        query = query.where(OrderRow.status == str(status))
    query = query.order_by(OrderRow.created_at.asc(), OrderRow.order_id.asc()).limit(limit)
    with sf() as s:
        documents = s.scalars(query).all()
        return _with_current_parcels(s, [OrderView.model_validate(doc, context=STORED_DATA) for doc in documents])


# The predicate of the partial index ix_orders_short_waiting (migration 0012), written as in it.
SHORT_WAITING = text("jsonb_array_length(orders.document -> 'short_waits') > 0")


def backordered_orders(sf: SessionFactory, sku: str) -> list[str]:
    """Ids of orders waiting for `sku`, first come first served (created_at asc): backordered
    with a line of it, or with a short pick's missing lines of it waiting (`short_waits`)."""
    query = (
        select(OrderRow.order_id)
        .where(
            or_(
                and_(
                    OrderRow.status == OrderStatus.BACKORDERED.value,
                    OrderRow.document.contains({"lines": [{"sku": sku}]}),
                ),
                and_(SHORT_WAITING, OrderRow.document.contains({"short_waits": [{"missing": [{"sku": sku}]}]})),
            )
        )
        .order_by(OrderRow.created_at.asc(), OrderRow.order_id.asc())
    )
    with sf() as s:
        return list(s.scalars(query).all())


def recent_order_count(
    sf: SessionFactory, customer_id: str, since: datetime, exclude_order_id: str
) -> int:
    """Orders of `customer_id` created at or after `since`, other than `exclude_order_id`."""
    query = (
        select(func.count())
        .select_from(OrderRow)
        .where(OrderRow.customer_id == customer_id)
        .where(OrderRow.created_at >= since)
        .where(OrderRow.order_id != exclude_order_id)
    )
    with sf() as s:
        return int(s.scalar(query) or 0)


def record_shipment(sf: SessionFactory, shipment: ShipmentView) -> None:
    """Upsert; an older snapshot (earlier `updated_at`) does not overwrite a newer one. The
    change itself goes to the parcel's event log once (by version)."""
    at = shipment.updated_at if shipment.updated_at is not None else datetime.now(UTC)
    with sf.begin() as s:
        s.execute(
            _SHIPMENT_UPSERT,
            {
                "shipment_id": shipment.shipment_id,
                "order_id": shipment.order_id,
                "warehouse": shipment.warehouse,
                "status": shipment.status.value,
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "document": shipment.model_dump(mode="json"),
                "updated_at": at,
            },
        )
        s.execute(
            _SHIPMENT_EVENT_INSERT,
            {
                "shipment_id": shipment.shipment_id,
                "version": shipment.version,
                "order_id": shipment.order_id,
                "at": at,
                "status": shipment.status.value,
                "event": shipment.last_event or shipment.status.value,
            },
        )


def shipment_by_id(sf: SessionFactory, shipment_id: str) -> ShipmentView | None:
    with sf() as s:
        document = s.scalar(
            select(ShipmentRow.document).where(ShipmentRow.shipment_id == shipment_id)
        )
        return ShipmentView.model_validate(document, context=STORED_DATA) if document is not None else None


def shipment_by_tracking(
    sf: SessionFactory, tracking_number: str
) -> ShipmentView | None:
    with sf() as s:
        document = s.scalar(
            select(ShipmentRow.document)
            .where(ShipmentRow.tracking_number == tracking_number)
            .order_by(ShipmentRow.updated_at.desc())
            .limit(1)
        )
        return ShipmentView.model_validate(document, context=STORED_DATA) if document is not None else None


def shipments_of_order(sf: SessionFactory, order_id: str) -> list[ShipmentView]:
    with sf() as s:
        documents = s.scalars(
            select(ShipmentRow.document)
            .where(ShipmentRow.order_id == order_id)
            .order_by(ShipmentRow.shipment_id)
        ).all()
        return [ShipmentView.model_validate(doc, context=STORED_DATA) for doc in documents]


def claim_idempotency_key(
    sf: SessionFactory, key: str, request_hash: str, order_id: str
) -> tuple[bool, str, str]:
    """(inserted_now, stored_hash, stored_order_id): the first claim of a key wins."""
    with sf.begin() as s:
        inserted = s.scalar(
            insert(ApiIdempotencyRow)
            .values(key=key, request_hash=request_hash, order_id=order_id)
            .on_conflict_do_nothing(index_elements=[ApiIdempotencyRow.key])
            .returning(ApiIdempotencyRow.key)
        )
        if inserted is not None:
            return True, request_hash, order_id
        row = s.execute(
            select(ApiIdempotencyRow.request_hash, ApiIdempotencyRow.order_id).where(
                ApiIdempotencyRow.key == key
            )
        ).one()
        return False, row.request_hash, row.order_id


def release_idempotency_key(sf: SessionFactory, key: str, request_hash: str, order_id: str) -> None:
    """Drop a claim made by a submission that turned out not to own the order (the order existed
    before any claim of its id): only that exact claim, so that it blocks no one's later repeat."""
    with sf.begin() as s:
        s.execute(
            delete(ApiIdempotencyRow).where(
                ApiIdempotencyRow.key == key,
                ApiIdempotencyRow.request_hash == request_hash,
                ApiIdempotencyRow.order_id == order_id,
            )
        )
