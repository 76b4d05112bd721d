"""Warehouse reports: pick confirmations, stock receipts (which wake backorders) and counts
(docs/api.md "Warehouse and carriers")."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.auth import Principal, require
from api.deps import ClientDep, SessionsDep, SettingsDep
from api.problems import ProblemError
from api.temporal_calls import WorkflowGone, confirm_pick, parcel_back, stock_arrived
from domain.enums import OrderStatus, Role
from domain.facts import pick_refusal
from domain.models import (
    ParcelBack,
    ParcelLine,
    PickConfirmation,
    ReceivedLine,
    Sku,
    StockArrival,
    Strict,
)
from domain.picking import pick_problems
from store import catalog, projection

router = APIRouter(tags=["warehouse"])
WarehouseRole = Annotated[Principal, Depends(require(Role.WAREHOUSE))]


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
    order = projection.get_order(sessions, shipment.order_id)
    return pick_refusal(shipment, order.status if order is not None else None), shipment.lines


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
