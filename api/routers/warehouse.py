"""Warehouse reports: pick confirmations (API.md "Warehouse and carriers")."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, require
from api.deps import ClientDep, SessionsDep
from api.problems import ProblemError
from api.temporal_calls import signal_workflow
from domain import ids
from domain.enums import Role
from domain.models import ParcelLine, PickConfirmation, Sku, Strict
from store import catalog

router = APIRouter(tags=["warehouse"])
WarehouseRole = Annotated[Principal, Depends(require(Role.WAREHOUSE))]


class PickedBody(Strict):
    lines: list[ParcelLine] | None = None
    picker: Annotated[str, Field(min_length=1, max_length=100)] = "warehouse"


class Accepted(Strict):
    accepted: bool = True


@router.post("/warehouse/shipments/{shipment_id}/picked", status_code=202, response_model=Accepted)
async def picked(shipment_id: str, body: PickedBody, _: WarehouseRole, client: ClientDep) -> Accepted:
    delivered = await signal_workflow(
        client,
        ids.shipment_workflow_id(shipment_id),
        "pick_confirmed",
        PickConfirmation(lines=body.lines, picker=body.picker),
    )
    if not delivered:
        raise ProblemError(404, f"no open shipment {shipment_id}")
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


def _check_known(sessions: SessionsDep, sku: str, warehouse: str) -> None:
    if catalog.get_catalog_item(sessions, sku) is None:
        raise ProblemError(404, f"no sku {sku}")
    if warehouse not in {w.code for w in catalog.list_warehouses(sessions)}:
        raise ProblemError(404, f"no warehouse {warehouse}")


@router.post("/warehouse/receipts", status_code=201, response_model=StockChange)
async def receipt(body: ReceiptBody, principal: WarehouseRole, sessions: SessionsDep) -> StockChange:
    """Goods received: on_hand goes up, with an audit row."""
    await run_in_threadpool(_check_known, sessions, body.sku, body.warehouse)
    level = await run_in_threadpool(
        catalog.receive_stock, sessions, body.sku, body.warehouse, body.quantity, principal.name
    )
    return StockChange(
        warehouse=level.warehouse, sku=level.sku, on_hand=level.on_hand, reserved=level.reserved,
        available=level.available,
    )


@router.post("/warehouse/counts", status_code=201, response_model=StockChange)
async def count(body: CountBody, principal: WarehouseRole, sessions: SessionsDep) -> StockChange:
    """A physical count replaces book stock; the answer carries the discrepancy (counted - book)."""
    await run_in_threadpool(_check_known, sessions, body.sku, body.warehouse)
    level, discrepancy = await run_in_threadpool(
        catalog.record_count, sessions, body.sku, body.warehouse, body.counted, principal.name
    )
    return StockChange(
        warehouse=level.warehouse, sku=level.sku, on_hand=level.on_hand, reserved=level.reserved,
        available=level.available, discrepancy=discrepancy,
    )
