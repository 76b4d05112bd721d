"""Warehouse work and reports: the work queue (parcels to pick, returns to receive), pick
confirmations, stock receipts (which wake backorders) and counts (docs/api.md "Warehouse and carriers")."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.auth import Principal, require
from api.deps import ClientDep, SessionsDep, SettingsDep
from api.problems import ProblemError, invalid_request
from api.temporal_calls import WorkflowGone, confirm_pick, parcel_back, stock_arrived
from domain.counts import CountClass, CountPolicy, CountStatus, StockCount
from domain.counts import due as due_counts
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
from store import catalog, cycle_counts, projection, warehouse_tasks

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
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None


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
    if not catalog.warehouse_exists(sessions, warehouse):
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
    woken = await wake_backorders(client, sessions, body.sku, body.warehouse, principal.name)
    return ReceiptResult(
        warehouse=level.warehouse, sku=level.sku, on_hand=level.on_hand, reserved=level.reserved,
        available=level.available, woken=woken,
    )


async def wake_backorders(
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


class CountResult(StockChange):
    count_id: int | None = Field(default=None, description="the count's record (GET /warehouse/counts/{count_id})")
    status: CountStatus = CountStatus.APPLIED


@router.post(
    "/warehouse/counts",
    status_code=201,
    response_model=CountResult,
    responses={
        202: {"model": StockCount, "description": "the discrepancy is over the threshold: the count waits for ops"},
        404: {"description": "unknown SKU or warehouse"},
    },
)
async def count(
    body: CountBody, principal: WarehouseRole, sessions: SessionsDep, settings: SettingsDep
) -> CountResult | JSONResponse:
    """A physical count replaces book stock; the answer carries the discrepancy (counted - book).
    A discrepancy over the threshold (OMS_COUNT_HOLD_UNITS and OMS_COUNT_HOLD_PERCENT) changes
    nothing yet: 202 with the pending count, which ops approve or reject."""
    await run_in_threadpool(_check_known, sessions, body.sku, body.warehouse)
    recorded, level = await run_in_threadpool(
        partial(catalog.count_stock, policy=settings.count_policy(), ops_email=settings.ops_email, note=body.note),
        sessions, body.sku, body.warehouse, body.counted, principal.name,
    )
    if recorded.status == CountStatus.PENDING:
        return JSONResponse(status_code=202, content=jsonable_encoder(recorded))
    return CountResult(
        warehouse=level.warehouse, sku=level.sku, on_hand=level.on_hand, reserved=level.reserved,
        available=level.available, discrepancy=recorded.discrepancy, count_id=recorded.count_id,
    )


# Cycle counts (issue 19, domain/counts.py): the plan's due list and the counts waiting for ops.
OpsRole = Annotated[Principal, Depends(require(Role.OPS))]


class DueCount(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sku: str
    warehouse: str
    cls: CountClass = Field(serialization_alias="class", description="ABC class of the item at its warehouse")
    last_counted_at: datetime | None = Field(description="the last count applied (at once or approved); null: never")
    due_since: datetime | None = Field(description="last_counted_at plus the class's interval; null: never counted")
    shipped_value: Decimal = Field(description="units shipped in the value window times the catalog price")
    picks: int = Field(description="parcel lines shipped in the value window")
    pending_count_id: int | None = Field(default=None, description="a count of the item waiting for ops")


class CountsDue(BaseModel):
    as_of: datetime
    window: timedelta = Field(description="the value window (OMS_COUNT_VALUE_WINDOW)")
    every: dict[CountClass, timedelta] = Field(description="how often each class is counted")
    items: list[DueCount] = Field(description="oldest due first; never counted first of all")


def _due(
    sessions: projection.SessionFactory,
    policy: CountPolicy,
    warehouse: str | None,
    cls: CountClass | None,
    limit: int,
) -> CountsDue:
    if warehouse is not None and not catalog.warehouse_exists(sessions, warehouse):
        raise ProblemError(404, f"no warehouse {warehouse}")
    now = datetime.now(UTC)
    items = cycle_counts.count_items(sessions, now - policy.window, warehouse)
    listed = [p for p in due_counts(items, policy, now) if cls is None or p.cls == cls][:limit]
    return CountsDue(
        as_of=now,
        window=policy.window,
        every={c: policy.every(c) for c in CountClass},
        items=[
            DueCount(
                sku=p.sku, warehouse=p.warehouse, cls=p.cls, last_counted_at=p.last_counted_at,
                due_since=p.due_since, shipped_value=p.value, picks=p.picks, pending_count_id=p.pending_count_id,
            )
            for p in listed
        ],
    )


@router.get(
    "/warehouse/counts/due",
    response_model=CountsDue,
    responses={404: {"description": "unknown warehouse"}},
)
async def counts_due(
    _: WarehouseRole,
    sessions: SessionsDep,
    settings: SettingsDep,
    warehouse: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    cls: Annotated[CountClass | None, Query(alias="class")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> CountsDue:
    """The items the count plan says are due now, oldest first (never counted first): per
    warehouse ABC classes by shipped value and velocity, each class counted at its interval."""
    return await run_in_threadpool(_due, sessions, settings.count_policy(), warehouse, cls, limit)


class PendingCounts(BaseModel):
    items: list[StockCount] = Field(description="the counts waiting for ops, oldest first")


@router.get("/warehouse/counts/pending", response_model=PendingCounts)
async def counts_pending(
    _: WarehouseRole,
    sessions: SessionsDep,
    warehouse: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> PendingCounts:
    """The counts whose discrepancy was over the threshold and that wait for ops."""
    return PendingCounts(items=await run_in_threadpool(cycle_counts.pending_counts, sessions, warehouse, limit))


CountId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/warehouse/counts/{count_id}", response_model=StockCount, responses={404: {"description": "unknown count"}})
async def count_record(count_id: CountId, _: WarehouseRole, sessions: SessionsDep) -> StockCount:
    """One count as recorded: applied, pending, approved, rejected or superseded."""
    return await run_in_threadpool(cycle_counts.get_count, sessions, count_id)


class CountDecision(Strict):
    note: Annotated[str, Field(min_length=1, max_length=500, description="why: kept with the count and its audit row")]


class ApprovedCount(BaseModel):
    count: StockCount
    level: StockChange


@router.post(
    "/warehouse/counts/{count_id}/approve",
    response_model=ApprovedCount,
    responses={404: {"description": "unknown count"}, 409: {"description": "not pending, or below what is reserved now"}},
)
async def approve_count(
    count_id: CountId, body: CountDecision, principal: OpsRole, sessions: SessionsDep, settings: SettingsDep
) -> ApprovedCount:
    """Ops apply a waiting count: its discrepancy is added to on_hand as it is now (movements
    since the count stay booked), with a `count_approved` audit row (who, why, the counter)."""
    recorded, level = await run_in_threadpool(
        partial(cycle_counts.approve_count, ops_email=settings.ops_email),
        sessions, count_id, principal.name, body.note,
    )
    return ApprovedCount(
        count=recorded,
        level=StockChange(
            warehouse=level.warehouse, sku=level.sku, on_hand=level.on_hand, reserved=level.reserved,
            available=level.available, discrepancy=recorded.discrepancy,
        ),
    )


@router.post(
    "/warehouse/counts/{count_id}/reject",
    response_model=StockCount,
    responses={404: {"description": "unknown count"}, 409: {"description": "not pending"}},
)
async def reject_count(count_id: CountId, body: CountDecision, principal: OpsRole, sessions: SessionsDep) -> StockCount:
    """Ops refuse a waiting count: the stock does not change; the item stays due."""
    return await run_in_threadpool(cycle_counts.reject_count, sessions, count_id, principal.name, body.note)
