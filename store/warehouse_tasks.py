"""The warehouse work queue (`GET /warehouse/tasks`, docs/api.md "Warehouse and carriers"): what one
warehouse has to do next, read from the projection. Parcels to pick, expedited first, then oldest,
in one query on the index of migration 0010; and the returns on their way to its dock.

A parcel is offered for picking while it waits for its pick (`picking`) and a pick would take:
- not while its order is on a hold (`hold` set): the parcel would keep the pick until release;
- not while the parcel needs a person for anything but its own lateness: its attention reason is
  only ever "picking over its SLA of ..." (workflows/supervision.py) when the warehouse is simply
  late, and the pick is what ends that; any other reason (a refused projection row) waits for ops;
- never when it is cancelled or already picked, nor when its order has ended.
"""

import base64
import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, and_, bindparam, case, func, or_, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from domain import events
from domain.enums import OrderStatus, Priority, ReturnStatus, ShipmentStatus, ShippingSpeed
from domain.models import STORED_DATA, OrderView, forbidden_character
from domain.returns import dock_warehouse
from store.models import OrderEventRow, OrderRow, ShipmentEventRow, ShipmentRow

SessionFactory = sessionmaker[Session]
MAX_PAGE = 500

# What makes a parcel urgent: its order is expedited (every step's SLA halves), or the customer
# paid for a fast shipping speed.
FAST_SPEEDS = (ShippingSpeed.EXPRESS.value, ShippingSpeed.OVERNIGHT.value)
# The one attention reason that leaves a parcel on the queue: its pick is late (supervision's
# `f"{step} over its SLA of {sla}"`, and nothing else joined to it with "; ").
LATE_PICK_ONLY = r"^picking over its SLA of [^;]*$"


class InvalidCursor(ValueError):
    """A pagination cursor that this module did not issue."""


@dataclass(frozen=True)
class PickTask:
    shipment_id: str
    order_id: str
    lines: list[dict[str, Any]]
    priority: Priority
    shipping_speed: ShippingSpeed
    since: datetime  # when the parcel started waiting for its pick


@dataclass(frozen=True)
class ReturnToReceive:
    rma_id: str
    order_id: str
    lines: list[dict[str, Any]]
    since: datetime  # when its return label was recorded


def _encode_cursor(task: PickTask) -> str:
    urgent = 1 if task.priority is Priority.EXPEDITED else 0
    raw = json.dumps([urgent, task.since.isoformat(), task.shipment_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, datetime, str]:
    """(urgent, since, shipment_id) of a cursor of _encode_cursor; anything PostgreSQL would
    refuse is refused here first (as store.projection's cursors)."""
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    if not (isinstance(document, list) and len(document) == 3):
        raise InvalidCursor("invalid cursor")
    urgent, since_text, shipment_id = document
    if urgent not in (0, 1) or isinstance(urgent, bool) or not isinstance(since_text, str):
        raise InvalidCursor("invalid cursor")
    if not isinstance(shipment_id, str) or forbidden_character(shipment_id) is not None:
        raise InvalidCursor("invalid cursor")
    try:
        since = datetime.fromisoformat(since_text)
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    return int(urgent), since, shipment_id


def _waiting_for_pick() -> Any:
    """The parcels waiting to be picked at the bound `warehouse`, as a subquery (see pick_tasks).

    Built once (see `_pick_statement`): the warehouse's pick list is polled (the simulator asks
    every 50 ms), and building this statement and expanding an `IN (...)` list at every call was
    most of the request's CPU (docs/performance.md, 2026-12-02). The IN lists are written as
    `=`/`<>` terms, which need no expansion at execution and mean the same (three-valued logic
    included)."""
    order_doc = OrderRow.document
    shipment_doc = ShipmentRow.document
    entered_picking = (
        select(func.min(ShipmentEventRow.at))
        .where(
            ShipmentEventRow.shipment_id == ShipmentRow.shipment_id,
            ShipmentEventRow.status == ShipmentStatus.PICKING.value,
        )
        .correlate(ShipmentRow)
        .scalar_subquery()
    )
    speed = order_doc["shipping_speed"].astext
    urgent = case(
        (
            or_(
                order_doc["priority"].astext == Priority.EXPEDITED.value,
                *(speed == fast for fast in FAST_SPEEDS),
            ),
            1,
        ),
        else_=0,
    )
    return (
        select(
            ShipmentRow.shipment_id,
            ShipmentRow.order_id,
            shipment_doc["lines"].label("lines"),
            speed.label("shipping_speed"),
            urgent.label("urgent"),
            func.coalesce(entered_picking, ShipmentRow.updated_at).label("since"),
        )
        .join(OrderRow, OrderRow.order_id == ShipmentRow.order_id)
        .where(ShipmentRow.warehouse == bindparam("warehouse", type_=String))
        .where(ShipmentRow.status == ShipmentStatus.PICKING.value)  # the partial index of 0010
        .where(OrderRow.status != OrderStatus.CLOSED.value, OrderRow.status != OrderStatus.CANCELLED.value)
        .where(order_doc["hold"].astext.is_(None))
        .where(
            or_(
                shipment_doc["attention_reason"].astext.is_(None),
                shipment_doc["attention_reason"].astext.regexp_match(LATE_PICK_ONLY),
            )
        )
        .subquery()
    )


@functools.cache
def _pick_statement(after_cursor: bool) -> Any:
    """The pick list's page query, with or without a cursor to start after; bound parameters
    `warehouse`, `limit` and (after a cursor) `after_urgent`, `after_since`, `after_id`."""
    waiting = _waiting_for_pick()
    query = select(waiting)
    if after_cursor:
        query = query.where(
            or_(
                waiting.c.urgent < bindparam("after_urgent", type_=Integer),
                and_(
                    waiting.c.urgent == bindparam("after_urgent", type_=Integer),
                    tuple_(waiting.c.since, waiting.c.shipment_id)
                    > tuple_(
                        bindparam("after_since", type_=DateTime(timezone=True)),
                        bindparam("after_id", type_=String),
                    ),
                ),
            )
        )
    return query.order_by(waiting.c.urgent.desc(), waiting.c.since.asc(), waiting.c.shipment_id.asc()).limit(
        bindparam("limit", type_=Integer)
    )


def pick_tasks(
    sf: SessionFactory, warehouse: str, *, limit: int = 100, cursor: str | None = None
) -> tuple[list[PickTask], str | None]:
    """The parcels waiting to be picked at `warehouse`, expedited first, then oldest (the time the
    parcel entered `picking`), then by shipment id; keyset-paginated on that order. Raises
    InvalidCursor for a cursor not issued here."""
    limit = max(1, min(limit, MAX_PAGE))
    params: dict[str, Any] = {"warehouse": warehouse, "limit": limit + 1}
    if cursor:
        params["after_urgent"], params["after_since"], params["after_id"] = _decode_cursor(cursor)
    query = _pick_statement(bool(cursor))
    with sf() as s:
        rows = s.execute(query, params).all()
    tasks = [
        PickTask(
            shipment_id=row.shipment_id,
            order_id=row.order_id,
            lines=list(row.lines or []),
            priority=Priority.EXPEDITED if row.urgent else Priority.NORMAL,
            shipping_speed=ShippingSpeed(row.shipping_speed or ShippingSpeed.STANDARD.value),
            since=row.since,
        )
        for row in rows[:limit]
    ]
    next_cursor = _encode_cursor(tasks[-1]) if len(rows) > limit else None
    return tasks, next_cursor


def returns_to_receive(sf: SessionFactory, warehouse: str) -> list[ReturnToReceive]:
    """The returns whose label is bought (`in_transit`) and addressed to `warehouse`'s returns
    dock (domain.returns.dock_warehouse), oldest label first. Only orders in `returning` have a
    return under way (the order moves there when a return starts and leaves when none is open)."""
    with sf() as s:
        documents = s.scalars(
            select(OrderRow.document)
            .where(OrderRow.status == OrderStatus.RETURNING.value)
            .where(OrderRow.document.contains({"returns": [{"status": ReturnStatus.IN_TRANSIT.value}]}))
            .order_by(OrderRow.created_at, OrderRow.order_id)
        ).all()
        orders = [OrderView.model_validate(doc, context=STORED_DATA) for doc in documents]
        expected = [
            (order, view)
            for order in orders
            for view in order.returns
            if view.status is ReturnStatus.IN_TRANSIT and dock_warehouse(order, view) == warehouse
        ]
        if not expected:
            return []
        rma_id = OrderEventRow.detail["rma_id"].astext
        labelled: dict[tuple[str, str], datetime] = {
            (row.order_id, row.rma_id): row.at
            for row in s.execute(
                select(OrderEventRow.order_id, rma_id.label("rma_id"), func.min(OrderEventRow.at).label("at"))
                .where(OrderEventRow.order_id.in_({order.order_id for order, _ in expected}))
                .where(OrderEventRow.event == events.return_event(ReturnStatus.IN_TRANSIT.value))
                .group_by(OrderEventRow.order_id, rma_id)
            ).all()
        }
    receivable = [
        ReturnToReceive(
            rma_id=view.rma_id,
            order_id=order.order_id,
            lines=[line.model_dump(mode="json") for line in view.lines],
            since=labelled.get((order.order_id, view.rma_id), order.updated_at),
        )
        for order, view in expected
    ]
    return sorted(receivable, key=lambda r: (r.since, r.rma_id))
