"""Customer claims about a parcel (API.md "Customer claims"): not received, damaged, items
missing, the wrong item. Filed by the customer's client (or ops); answered by ops through the
actions reship, refund (params.claim_id) and reject_claim."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, forbid_other_customers, require
from api.deps import ClientDep, SessionsDep
from api.problems import ProblemError
from api.temporal_calls import WorkflowGone, file_claim
from domain.enums import ClaimKind, Role
from domain.models import ClaimRequest, ClaimView, ParcelLine, Sku, Strict
from store import projection

router = APIRouter(tags=["claims"])
ClientRole = Annotated[Principal, Depends(require(Role.CLIENT))]


class ClaimLineBody(Strict):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=999)]


class ClaimBody(Strict):
    kind: ClaimKind
    shipment_id: Annotated[str, Field(min_length=1, max_length=100)]
    lines: Annotated[list[ClaimLineBody], Field(default_factory=list, max_length=100)]
    comment: Annotated[str, Field(max_length=2000)] | None = None


@router.post(
    "/orders/{order_id}/claims",
    status_code=201,
    response_model=ClaimView,
    responses={
        404: {"description": "unknown order"},
        409: {"description": "the parcel is not in the carrier's hands, or a claim is already open for it"},
    },
)
async def open_claim(
    order_id: str, body: ClaimBody, principal: ClientRole, client: ClientDep, sessions: SessionsDep
) -> ClaimView:
    """201 with the claim (`claim_id`, `status: open`); the order needs attention until ops answer it."""
    order = await run_in_threadpool(projection.get_order, sessions, order_id)
    if order is None:
        raise ProblemError(404, f"no order {order_id}")
    forbid_other_customers(principal, order.customer.id, order_id)
    request = ClaimRequest(
        kind=body.kind,
        shipment_id=body.shipment_id,
        lines=[ParcelLine(sku=line.sku, quantity=line.quantity) for line in body.lines],
        comment=body.comment,
        actor=principal.name,
    )
    try:
        return await file_claim(client, order_id, request)
    except WorkflowGone:
        raise ProblemError(
            409,
            f"order {order_id} is {order.status.value}: it takes no more claims",
            type_="/problems/action-not-applicable",
        ) from None
