"""Warehouse work and reports: the work queue (parcels to pick, returns to receive), pick
confirmations, stock receipts (which wake backorders) and counts (docs/api.md "Warehouse and carriers")."""

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.auth import Principal, require
from api.deps import ClientDep, SessionsDep, SettingsDep
from api.problems import ProblemError, invalid_request
from api.temporal_calls import WorkflowGone, confirm_pick, parcel_back, stock_arrived
from domain.enums import OrderStatus, Priority, Role, ShippingSpeed
from domain.facts import pick_refusal
from domain.models import (
    ParcelBack,
    ParcelLine,
    PickConfirmation,
    Problem,
    ReceivedLine,
    Sku,
    StockArrival,
    Strict,
)
from domain.picking import pick_problems
from store import catalog, projection, warehouse_tasks

router = APIRouter(tags=["warehouse"])
WarehouseRole = Annotated[Principal, Depends(require(Role.WAREHOUSE))]


class PickTask(BaseModel):
    shipment_id: str
    order_id: str
    lines: list[ParcelLine]
    priority: Priority = Field(
        description="expedited when the order is expedited or ships express or overnight, else normal"
    )
    shipping_speed: ShippingSpeed
    since: datetime = Field(description="when the parcel started waiting for its pick")


class ReturnTask(BaseModel):
    rma_id: str
    order_id: str
    lines: list[ParcelLine]
    since: datetime = Field(description="when the return label was recorded")


class WorkQueue(BaseModel):
    items: list[PickTask] = Field(description="parcels to pick: expedited first, then oldest")
    next_cursor: str | None = Field(default=None, description="the next page of items, if any")
    returns: list[ReturnTask] = Field(
        default=[],
        description="returns whose label is issued, on their way to this warehouse's dock, oldest "
        "first; on the first page only (a request without `cursor`)",
    )


def _work_queue(
    sessions: projection.SessionFactory, warehouse: str, limit: int, cursor: str | None
) -> WorkQueue:
    if not catalog.warehouse_exists(sessions, warehouse):
        raise ProblemError(404, f"no warehouse {warehouse}")
    try:
        tasks, next_cursor = warehouse_tasks.pick_tasks(sessions, warehouse, limit=limit, cursor=cursor)
    except warehouse_tasks.InvalidCursor:
        raise invalid_request([Problem(field="cursor", message="is not a cursor of this list")]) from None
    returns = [] if cursor else warehouse_tasks.returns_to_receive(sessions, warehouse)
    return WorkQueue(
        items=[
            PickTask(
                shipment_id=t.shipment_id,
                order_id=t.order_id,
                lines=[ParcelLine.model_validate(line) for line in t.lines],
                priority=t.priority,
                shipping_speed=t.shipping_speed,
                since=t.since,
            )
            for t in tasks
        ],
        next_cursor=next_cursor,
        returns=[
            ReturnTask(
                rma_id=r.rma_id,
                order_id=r.order_id,
                lines=[ParcelLine.model_validate(line) for line in r.lines],
                since=r.since,
            )
            for r in returns
        ],
    )


@router.get(
    "/warehouse/tasks",
    response_model=WorkQueue,
    responses={404: {"description": "unknown warehouse"}},
)
async def tasks(
    _: WarehouseRole,
    sessions: SessionsDep,
    warehouse: Annotated[str, Query(min_length=1, max_length=32)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> WorkQueue:
    """The warehouse's work queue: the parcels waiting to be picked there, expedited first, then
    oldest; none on an ops hold or waiting for ops, none cancelled or picked. And the returns
    expected at its dock."""
    return await run_in_threadpool(_work_queue, sessions, warehouse, limit, cursor)


class PickedLine(Strict):
    sku: Sku
    quantity: Annotated[int, Field(ge=0, le=1_000_000)]


class PickedBody(Strict):
    """`lines` absent: everything was picked. Present: exactly what was picked; a parcel line left
    out was not picked (0). Fewer than asked is a short pick (domain/picking.py)."""

    lines: Annotated[list[PickedLine], Field(max_length=100)] | None = None
    picker: Annotated[str, Field(min_length=1, max_length=100)] = "warehouse"


class Accepted(Strict):
    accepted: bool = True


@router.post("/warehouse/shipments/{shipment_id}/picked", status_code=202, response_model=Accepted)
async def picked(
    shipment_id: str, body: PickedBody, _: WarehouseRole, client: ClientDep, sessions: SessionsDep
) -> Accepted:
    """A pick for a parcel that cannot take it (cancelled, already picked, its order ended) is a
    409 (domain/facts.py); a parcel not yet projected keeps an early pick. A picked line of a SKU
    not in the parcel, or of more units than it asked for, is a 422 naming `lines[i].sku` or
    `lines[i].quantity`, and changes nothing."""
    refusal, parcel_lines = await run_in_threadpool(_pick_refusal, sessions, shipment_id)
    if refusal is not None:
        raise ProblemError(409, f"pick does not apply: {refusal}")
    lines = None if body.lines is None else [ParcelLine(sku=line.sku, quantity=line.quantity) for line in body.lines]
    problems = pick_problems(parcel_lines, lines) if parcel_lines is not None else []
    if problems:
        raise ProblemError(
            422,
            "the picked lines do not match the parcel: " + ", ".join(p.field for p in problems),
            type_="/problems/invalid-request",
            errors=problems,
        )
    delivered = await confirm_pick(client, shipment_id, PickConfirmation(lines=lines, picker=body.picker))
    if not delivered:
        raise ProblemError(404, f"no open shipment {shipment_id}")
    return Accepted()


def _pick_refusal(
    sessions: projection.SessionFactory, shipment_id: str
) -> tuple[str | None, list[ParcelLine] | None]:
    """Why the pick cannot apply (or None), and the parcel's lines (None: not projected yet)."""
    shipment = projection.shipment_by_id(sessions, shipment_id)
    if shipment is None:
        return None, None
    status = projection.order_status(sessions, shipment.order_id)
    return pick_refusal(shipment, status), shipment.lines


class ReturnedBody(Strict):
    lines: Annotated[list[ReceivedLine], Field(min_length=1, max_length=100)]


@router.post("/warehouse/shipments/{shipment_id}/returned", status_code=202, response_model=Accepted)
async def returned(
    shipment_id: str, body: ReturnedBody, principal: WarehouseRole, client: ClientDep, sessions: SessionsDep
) -> Accepted:
    """A parcel the carrier returned to the sender is back: resellable units go on hand, damaged
    ones are written off (audit rows), through the order (workflows/order/parcels_back.py). 409
    unless the parcel is returned_to_sender; the same receipt again is idempotent, another is 409."""
    shipment = await run_in_threadpool(projection.shipment_by_id, sessions, shipment_id)
    if shipment is None:
        raise ProblemError(404, f"no shipment {shipment_id}")
    back = ParcelBack(shipment_id=shipment_id, lines=body.lines, actor=principal.name)
    try:
        await parcel_back(client, shipment.order_id, back)
    except WorkflowGone:
        raise ProblemError(409, f"the order of shipment {shipment_id} has ended") from None
    return Accepted()


class ReceiptBody(Strict):
    warehouse: Annotated[str, Field(min_length=1, max_length=32)]
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]


class CountBody(Strict):
    warehouse: Annotated[str, Field(min_length=1, max_length=32)]
    sku: Sku
    counted: Annotated[int, Field(ge=0, le=10_000_000)]


class StockChange(BaseModel):
    warehouse: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    discrepancy: int = 0


class WokenOrder(BaseModel):
    order_id: str
    reserved: bool
    status: OrderStatus


class ReceiptResult(StockChange):
    woken: list[WokenOrder] = Field(
        default=[], description="backordered orders of the SKU that tried again, oldest first"
    )


def _check_known(sessions: SessionsDep, sku: str, warehouse: str) -> None:
    if catalog.get_catalog_item(sessions, sku) is None:
        raise ProblemError(404, f"no sku {sku}")
    if warehouse not in {w.code for w in catalog.list_warehouses(sessions)}:
        raise ProblemError(404, f"no warehouse {warehouse}")


@router.post("/warehouse/receipts", status_code=201, response_model=ReceiptResult)
async def receipt(
    body: ReceiptBody,
    principal: WarehouseRole,
    sessions: SessionsDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ReceiptResult:
    """Goods received: on_hand goes up, with an audit row. Then backordered orders of the SKU
    try again one after another, oldest first, until one cannot reserve (the stock is gone)."""
    await run_in_threadpool(_check_known, sessions, body.sku, body.warehouse)
    level = await run_in_threadpool(
        partial(catalog.receive_stock, ops_email=settings.ops_email),
        sessions, body.sku, body.warehouse, body.quantity, principal.name,
    )
    woken = await _wake_backorders(client, sessions, body.sku, body.warehouse, principal.name)
    return ReceiptResult(
        warehouse=level.warehouse, sku=level.sku, on_hand=level.on_hand, reserved=level.reserved,
        available=level.available, woken=woken,
    )


async def _wake_backorders(
    client: Client, sessions: projection.SessionFactory, sku: str, warehouse: str, actor: str
) -> list[WokenOrder]:
    """First come first served: each order reserves before the next one is asked."""
    woken: list[WokenOrder] = []
    arrival = StockArrival(sku=sku, warehouse=warehouse, actor=actor)
    for order_id in await run_in_threadpool(projection.backordered_orders, sessions, sku):
        try:
            attempt = await stock_arrived(client, order_id, arrival)
        except WorkflowGone:
            continue  # finished meanwhile
        except ProblemError as refusal:
            if refusal.status == 409:
                continue  # no longer backordered (filled, cancelled) since the projection was read
            raise
        woken.append(WokenOrder(order_id=attempt.order_id, reserved=attempt.reserved, status=attempt.status))
        if not attempt.reserved:
            break  # not enough left for this one: later orders wait for the next receipt
    return woken


@router.post("/warehouse/counts", status_code=201, response_model=StockChange)
async def count(
    body: CountBody, principal: WarehouseRole, sessions: SessionsDep, settings: SettingsDep
) -> StockChange:
    """A physical count replaces book stock; the answer carries the discrepancy (counted - book)."""
    await run_in_threadpool(_check_known, sessions, body.sku, body.warehouse)
    level, discrepancy = await run_in_threadpool(
        partial(catalog.record_count, ops_email=settings.ops_email),
        sessions, body.sku, body.warehouse, body.counted, principal.name,
    )
    return StockChange(
        warehouse=level.warehouse, sku=level.sku, on_hand=level.on_hand, reserved=level.reserved,
        available=level.available, discrepancy=discrepancy,
    )
