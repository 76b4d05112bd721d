"""Returns (R10): customers open them; the warehouse reports what came back."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field, field_validator
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, forbid_other_customers, require
from api.client_views import return_for
from api.deps import ClientDep, SessionsDep
from api.problems import ProblemError
from api.routers.warehouse import Accepted
from api.temporal_calls import WorkflowGone, report_return_receipt, request_return
from domain import ids
from domain.enums import ReturnReason, ReturnResolution, ReturnStatus, Role
from domain.models import (
    OrderView,
    ParcelLine,
    ReceivedLine,
    ReturnReceipt,
    ReturnRequest,
    ReturnView,
    Sku,
    Strict,
)
from store import projection

router = APIRouter(tags=["returns"])
ClientRole = Annotated[Principal, Depends(require(Role.CLIENT))]
WarehouseRole = Annotated[Principal, Depends(require(Role.WAREHOUSE))]


class ReturnLineBody(Strict):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=999)]


class ReturnBody(Strict):
    lines: Annotated[list[ReturnLineBody], Field(min_length=1, max_length=100)]
    reason: ReturnReason
    resolution: ReturnResolution = ReturnResolution.REFUND

    @field_validator("resolution")
    @classmethod
    def _asked_for(cls, value: ReturnResolution) -> ReturnResolution:
        # `claim` is the order's own (the return of a wrong item a claim made good).
        if value is ReturnResolution.CLAIM:
            raise ValueError("resolution must be refund or exchange")
        return value


class ReceivedBody(Strict):
    lines: Annotated[list[ReceivedLine], Field(min_length=1, max_length=100)]


@router.post("/orders/{order_id}/returns", status_code=201, response_model=ReturnView)
async def open_return(
    order_id: str, body: ReturnBody, principal: ClientRole, client: ClientDep, sessions: SessionsDep
) -> ReturnView:
    """201 with the RMA (`rma_id`); 409 outside the return window or for undelivered lines."""
    order = await run_in_threadpool(projection.get_order, sessions, order_id)
    if order is None:
        raise ProblemError(404, f"no order {order_id}")
    forbid_other_customers(principal, order.customer.id, order_id)
    request = ReturnRequest(
        lines=[ParcelLine(sku=line.sku, quantity=line.quantity) for line in body.lines],
        reason=body.reason,
        resolution=body.resolution,
        actor=principal.name,
    )
    try:
        return return_for(principal, await request_return(client, order_id, request))
    except WorkflowGone:
        raise ProblemError(
            409, f"order {order_id} is {order.status.value}: the return window is over",
            type_="/problems/return-not-allowed",
        ) from None


@router.post("/returns/{rma_id}/received", status_code=202, response_model=Accepted)
async def return_received(
    rma_id: str, body: ReceivedBody, principal: WarehouseRole, client: ClientDep, sessions: SessionsDep
) -> Accepted:
    """The warehouse received a return, with the condition of each line. 409 when the return can
    no longer take a receipt (rejected or expired, already received, its order over)."""
    refusal = await run_in_threadpool(_receipt_refusal, sessions, rma_id)
    delivered = refusal is None and await report_return_receipt(
        client, rma_id, ReturnReceipt(lines=body.lines, actor=principal.name)
    )
    if refusal is None and not delivered:
        refusal = f"return {rma_id} is no longer open"
        if await run_in_threadpool(_known_return, sessions, rma_id) is None:
            raise ProblemError(404, f"no open return {rma_id}")
    if refusal is not None:
        raise ProblemError(409, refusal, type_="/problems/receipt-not-applicable")
    return Accepted()


# A return in these has had its receipt, or can take none.
_NO_RECEIPT = (ReturnStatus.REJECTED, ReturnStatus.RECEIVED, ReturnStatus.INSPECTED, ReturnStatus.REFUNDED)


def _known_return(sessions: SessionsDep, rma_id: str) -> tuple[OrderView, ReturnView] | None:
    order_id = ids.order_of_rma(rma_id)
    order = None if order_id is None else projection.get_order(sessions, order_id)
    view = None if order is None else next((r for r in order.returns if r.rma_id == rma_id), None)
    return None if order is None or view is None else (order, view)


def _receipt_refusal(sessions: SessionsDep, rma_id: str) -> str | None:
    """Why the return cannot take the warehouse's receipt, as the projection knows it, or None
    (an unknown RMA is the workflow's to answer: 404 when no such return runs)."""
    known = _known_return(sessions, rma_id)
    if known is None:
        return None
    order, view = known
    if view.status in _NO_RECEIPT:
        return f"return {rma_id} is {view.status.value}" + (
            f" ({view.closed_reason})" if view.closed_reason else ""
        )
    if view.receipt_kept or view.received:
        return f"return {rma_id} already has a receipt"
    if order.status.terminal:
        return f"order {order.order_id} is {order.status.value}"
    return None
