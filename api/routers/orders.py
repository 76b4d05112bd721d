"""Orders: submit, read, list, timeline, cancel, address change (API.md "Orders")."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, forbid_other_customers, require
from api.deps import ClientDep, SessionsDep, SettingsDep
from api.limits import UtcDatetime
from api.metrics import ORDERS_SUBMITTED
from api.problems import ProblemError, invalid_request, refusal_problem
from api.temporal_calls import (
    WorkflowGone,
    cancel_order,
    change_address,
    request_hash,
    submit_order,
)
from domain import ids
from domain.enums import Channel, OrderStatus, Role
from domain.errors import AddressLocked
from domain.lifecycle import ADDRESS_LOCKED, address_locked
from domain.models import (
    Address,
    AddressChange,
    CancelRequest,
    OrderInput,
    OrderRequest,
    OrderView,
    Problem,
    Strict,
    TimelineEntry,
)
from domain.verification import address_problems, verify_order
from store import catalog, projection

router = APIRouter(tags=["orders"])
ClientRole = Annotated[Principal, Depends(require(Role.CLIENT))]


class OrderPage(BaseModel):
    items: list[OrderView]
    next_cursor: str | None = None


class CancelBody(Strict):
    reason: Annotated[str, Field(max_length=500)] = "customer request"


def _claim_order_id(
    sessions: SessionsDep, request: OrderRequest, body_hash: str, principal: Principal, idempotency_key: str | None
) -> str:
    """The order id of this submission, recording the idempotency key that names it.
    A key seen before with a different body is a conflict (409)."""
    if request.order_id is not None:
        key, order_id = ids.api_order_key(request.order_id), request.order_id
    elif idempotency_key is not None:
        key = ids.api_idempotency_key(principal.name, idempotency_key)
        order_id = ids.new_order_id(datetime.now(UTC))
    else:
        return ids.new_order_id(datetime.now(UTC))
    _, stored_hash, stored_order_id = projection.claim_idempotency_key(sessions, key, body_hash, order_id)
    if stored_hash != body_hash:
        raise ProblemError(
            409,
            "this idempotency key was used before with a different request body",
            type_="/problems/idempotency-conflict",
        )
    return stored_order_id


def _claim_channel_order(sessions: SessionsDep, request: OrderRequest, body_hash: str, order_id: str) -> None:
    """(channel, channel_order_id) identifies one order: a second order under it is a duplicate (R1)."""
    if request.channel_order_id is None:
        return
    key = ids.api_channel_key(request.channel.value, request.channel_order_id)
    _, _, owner = projection.claim_idempotency_key(sessions, key, body_hash, order_id)
    if owner != order_id:
        raise ProblemError(
            409,
            f"{request.channel.value} order {request.channel_order_id} is already order {owner}",
            type_="/problems/duplicate-channel-order",
            extra={"order_id": owner},
        )


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderView,
    responses={200: {"model": OrderView, "description": "an idempotent repeat"}},
)
async def submit(
    request: OrderRequest,
    response: Response,
    principal: ClientRole,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> OrderView:
    """Verify and start an order in one round trip; the answer is the verified outcome.
    A client key bound to customers may submit only for them (403 otherwise)."""
    if not principal.may_access(request.customer.id):
        raise ProblemError(403, f"API key {principal.name} may not order for customer {request.customer.id}")
    known = await run_in_threadpool(catalog.catalog_items, sessions, [line.sku for line in request.lines])
    problems = verify_order(request, known)
    if problems:
        ORDERS_SUBMITTED.labels("invalid").inc()
        raise invalid_request(problems)
    body_hash = request_hash(request)
    order_id = await run_in_threadpool(_claim_order_id, sessions, request, body_hash, principal, idempotency_key)
    await run_in_threadpool(_claim_channel_order, sessions, request, body_hash, order_id)
    inp = OrderInput(
        order_id=order_id,
        request=request.model_copy(update={"order_id": order_id}),
        request_hash=body_hash,
        received_at=datetime.now(UTC),
        actor=principal.name,
        policy=settings.order_policy(),
    )
    try:
        result = await submit_order(client, settings.task_queue, inp)
    except WorkflowGone:
        # The order ran to its end already; this is a repeat of it.
        existing = await run_in_threadpool(projection.get_order, sessions, order_id)
        if existing is None:
            raise ProblemError(409, f"order {order_id} cannot be resubmitted") from None
        response.status_code = 200
        ORDERS_SUBMITTED.labels("repeat").inc()
        return existing
    response.status_code = 201 if result.created else 200
    ORDERS_SUBMITTED.labels("created" if result.created else "repeat").inc()
    return result.order


@router.get("/orders", response_model=OrderPage)
def list_orders(
    principal: ClientRole,
    sessions: SessionsDep,
    status: OrderStatus | None = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    channel: Channel | None = None,
    needs_attention: bool | None = None,
    created_from: UtcDatetime | None = None,
    created_to: UtcDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> OrderPage:
    try:
        items, next_cursor = projection.list_orders(
            sessions,
            status=status.value if status else None,
            customer_id=customer_id,
            customer_ids=sorted(principal.customers) if principal.customers is not None else None,
            channel=channel.value if channel else None,
            needs_attention=needs_attention,
            created_from=created_from,
            created_to=created_to,
            limit=limit,
            cursor=cursor,
        )
    except projection.InvalidCursor:
        raise invalid_request([Problem(field="cursor", message="is not a cursor of this list")]) from None
    return OrderPage(items=items, next_cursor=next_cursor)


def _order_or_404(sessions: SessionsDep, order_id: str, principal: Principal) -> OrderView:
    """The order, or 404 when there is none or it belongs to a customer the key is not bound to."""
    order = projection.get_order(sessions, order_id)
    if order is None:
        raise ProblemError(404, f"no order {order_id}")
    forbid_other_customers(principal, order.customer.id, order_id)
    return order


@router.get("/orders/{order_id}", response_model=OrderView)
def get_order(order_id: str, principal: ClientRole, sessions: SessionsDep) -> OrderView:
    return _order_or_404(sessions, order_id, principal)


@router.get("/orders/{order_id}/timeline", response_model=list[TimelineEntry])
def get_timeline(order_id: str, principal: ClientRole, sessions: SessionsDep) -> list[TimelineEntry]:
    _order_or_404(sessions, order_id, principal)
    return projection.timeline(sessions, order_id)


@router.post("/orders/{order_id}/cancel", response_model=OrderView)
async def cancel(
    order_id: str, body: CancelBody, principal: ClientRole, client: ClientDep, sessions: SessionsDep
) -> OrderView:
    """Cancel with compensations (void or refund, release stock, void labels); 409 after hand-over."""
    order = await run_in_threadpool(_order_or_404, sessions, order_id, principal)
    try:
        return await cancel_order(client, order_id, CancelRequest(reason=body.reason, actor=principal.name))
    except WorkflowGone:
        if order.status is OrderStatus.CANCELLED:
            return order
        raise ProblemError(409, f"order {order_id} is {order.status.value}", type_="/problems/too-late-to-cancel") from None


@router.patch(
    "/orders/{order_id}/shipping-address",
    response_model=OrderView,
    responses={404: {"description": "unknown order"}, 409: {"description": "a label exists, or the order is over"}},
)
async def patch_shipping_address(
    order_id: str, address: Address, principal: ClientRole, client: ClientDep, sessions: SessionsDep
) -> OrderView:
    """Ship to another address; possible until a parcel's label is bought (then 409)."""
    problems = address_problems(address, path="")
    if problems:
        errors = [p.model_copy(update={"field": p.field.lstrip(".")}) for p in problems]
        raise invalid_request(errors)
    order = await run_in_threadpool(_order_or_404, sessions, order_id, principal)
    if address_locked(order):
        # The parcel records its label before its order hears of it (a signal, moments later):
        # refuse from the parcel's own record rather than let the order accept an address
        # the label no longer goes to.
        raise refusal_problem("AddressLocked", ADDRESS_LOCKED, AddressLocked.http_status)
    try:
        return await change_address(client, order_id, AddressChange(address=address, actor=principal.name))
    except WorkflowGone:
        raise ProblemError(
            409,
            f"order {order_id} is {order.status.value}: its address can no longer change",
            type_="/problems/action-not-applicable",
        ) from None
