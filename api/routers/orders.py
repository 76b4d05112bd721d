"""Orders: submit, read, list, timeline, cancel, address change (docs/api.md "Orders").

Every answer that carries an order leaves through api.client_views (a client key reads it without
ops' notes, other keys' names, risk codes or internal reasons), and only after the customer check
of a bound key, repeats of a submission included."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.admission import SubmissionSlot
from api.auth import Principal, forbid_other_customers, require
from api.client_views import KeyRolesDep, order_for, orders_for, timeline_for
from api.deps import ClientDep, SessionsDep, SettingsDep
from api.limits import UtcDatetime
from api.metrics import ORDERS_SUBMITTED
from api.problems import ProblemError, invalid_request, refusal_problem
from api.temporal_calls import (
    WorkflowGone,
    backorder_choice,
    cancel_order,
    change_address,
    edit_contact,
    edit_lines,
    request_hash,
    submit_order,
)
from domain import ids
from domain.edits import edit_problems, lines_edit_refusal, new_skus, requested_quantities
from domain.enums import BackorderChoiceKind, Channel, OrderStatus, Role
from domain.errors import AddressLocked, TooLateToEdit
from domain.lifecycle import ADDRESS_LOCKED, address_locked
from domain.models import (
    Address,
    AddressChange,
    BackorderChoice,
    CancelRequest,
    ContactChange,
    EditLine,
    Email,
    LinesEdit,
    OrderInput,
    OrderRequest,
    OrderView,
    Phone,
    Problem,
    Sku,
    Strict,
    TimelineEntry,
)
from domain.pricing import adjustment_problems
from domain.verification import address_problems, verify_order
from store import catalog, projection

router = APIRouter(tags=["orders"])
ClientRole = Annotated[Principal, Depends(require(Role.CLIENT))]


class OrderPage(BaseModel):
    items: list[OrderView]
    next_cursor: str | None = None


class CancelBody(Strict):
    reason: Annotated[str, Field(max_length=500)] = "customer request"


class LinesBody(Strict):
    """The order's new set of lines: a line left out, or with quantity 0, is cancelled."""

    lines: Annotated[list[EditLine], Field(max_length=100)]


class ContactBody(Strict):
    email: Email | None = None
    phone: Phone | None = None


class BackorderChoiceBody(Strict):
    choice: BackorderChoiceKind
    substitutes: Annotated[
        dict[Sku, Sku],
        Field(
            default_factory=dict,
            max_length=100,
            description="missing SKU -> the listed substitute taking its missing units",
        ),
    ]


def _idempotency_conflict() -> ProblemError:
    # Names nothing but what the caller sent: the same answer whether the first body was the
    # caller's own or another caller's order under an id it named.
    return ProblemError(
        409,
        "this idempotency key was used before with a different request body",
        type_="/problems/idempotency-conflict",
    )


@dataclass(frozen=True)
class _OrderIdClaim:
    """The order id of a submission and its claim row (`first`: this submission made the row)."""

    order_id: str
    key: str
    first: bool


def _claim_order_id(
    sessions: SessionsDep,
    request: OrderRequest,
    body_hash: str,
    principal: Principal,
    idempotency_key: str | None,
) -> _OrderIdClaim:
    """The order id of this submission, recording the idempotency keys that name it: the
    `Idempotency-Key` header's (scoped to the calling key), then the order id's own. Every order
    the API starts holds its id's claim, generated ids too: an id is public once answered, and a
    later submission naming it (by anyone) must meet the first body here, not take the claim.
    A key seen before with a different body is a conflict (409)."""
    if request.order_id is not None:
        order_id = request.order_id
    else:
        order_id = ids.new_order_id(datetime.now(UTC))
        if idempotency_key is not None:
            key = ids.api_idempotency_key(principal.name, idempotency_key)
            _, stored_hash, order_id = projection.claim_idempotency_key(sessions, key, body_hash, order_id)
            if stored_hash != body_hash:
                raise _idempotency_conflict()
    key = ids.api_order_key(order_id)
    first, stored_hash, _ = projection.claim_idempotency_key(sessions, key, body_hash, order_id)
    if stored_hash != body_hash:
        raise _idempotency_conflict()
    return _OrderIdClaim(order_id=order_id, key=key, first=first)


def claim_scope(principal: Principal) -> str | None:
    """Where a caller's channel order ids are unique (ids.api_channel_key). Keys that see every
    order share the shop's scope: one channel order is one order, whichever of them sends it, and
    none learns anything it could not read. A key bound to customers claims in a scope of its
    own, so it can neither learn the shop's order ids by a 409 nor block a channel order id the
    shop's intake will send later."""
    return None if principal.customers is None else principal.name


def _claim_channel_order(
    sessions: SessionsDep, request: OrderRequest, body_hash: str, order_id: str, principal: Principal
) -> None:
    """(channel, channel_order_id) identifies one order within the caller's claim scope: a second
    order under it is a duplicate (R1), 409. The answer names the first order only when the
    caller may read it (within a scope it always may, unless its key's binding changed)."""
    if request.channel_order_id is None:
        return
    key = ids.api_channel_key(request.channel.value, request.channel_order_id, claim_scope(principal))
    _, _, owner = projection.claim_idempotency_key(sessions, key, body_hash, order_id)
    if owner == order_id:
        return
    owner_order = projection.get_order(sessions, owner)  # None while the first is still starting
    if owner_order is not None and not principal.may_access(owner_order.customer.id):
        raise ProblemError(
            409,
            f"{request.channel.value} order {request.channel_order_id} was submitted before",
            type_="/problems/duplicate-channel-order",
        )
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
    responses={
        200: {"model": OrderView, "description": "an idempotent repeat"},
        503: {"description": "overloaded (Retry-After) or an outage; nothing recorded, repeat the request"},
    },
)
async def submit(
    request: OrderRequest,
    response: Response,
    principal: ClientRole,
    _slot: SubmissionSlot,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    roles: KeyRolesDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> OrderView:
    """Verify and start an order in one round trip; the answer is the verified outcome.
    A client key bound to customers may submit only for them (403 otherwise)."""
    if not principal.may_access(request.customer.id):
        raise ProblemError(403, f"API key {principal.name} may not order for customer {request.customer.id}")
    known = await run_in_threadpool(catalog.catalog_items, sessions, [line.sku for line in request.lines])
    problems = verify_order(request, known) + adjustment_problems(request, settings.price_policy())
    if problems:
        ORDERS_SUBMITTED.labels("invalid").inc()
        raise invalid_request(problems)
    body_hash = request_hash(request)
    claim = await run_in_threadpool(_claim_order_id, sessions, request, body_hash, principal, idempotency_key)
    order_id = claim.order_id
    await run_in_threadpool(_claim_channel_order, sessions, request, body_hash, order_id, principal)
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
        # The order ran to its end already; this is a repeat of it, or a submission naming an id
        # it does not own. Either way the caller gets the order only if it may read it.
        if claim.first:
            await run_in_threadpool(_release_foreign_claim, sessions, claim, body_hash)
        existing = await run_in_threadpool(projection.get_order, sessions, order_id)
        if existing is None:
            raise ProblemError(409, f"order {order_id} cannot be resubmitted") from None
        if not principal.may_access(existing.customer.id):
            raise _idempotency_conflict() from None
        response.status_code = 200
        ORDERS_SUBMITTED.labels("repeat").inc()
        return order_for(principal, roles, existing)
    except ProblemError as problem:
        if claim.first and problem.type == "/problems/idempotency-conflict":
            await run_in_threadpool(_release_foreign_claim, sessions, claim, body_hash)
        raise
    if not principal.may_access(result.order.customer.id):
        # A repeat answers with the first submission's order: the same body, so the same customer,
        # unless the key's binding changed since. Checked all the same, like every read.
        raise _idempotency_conflict()
    response.status_code = 201 if result.created else 200
    ORDERS_SUBMITTED.labels("created" if result.created else "repeat").inc()
    return order_for(principal, roles, result.order)


def _release_foreign_claim(sessions: SessionsDep, claim: _OrderIdClaim, body_hash: str) -> None:
    """This submission claimed an order id first although its order was started without a claim
    (an order from before every order held one): its body was never the order's, so the claim
    goes, and blocks no one's later repeat."""
    projection.release_idempotency_key(sessions, claim.key, body_hash, claim.order_id)


@router.get("/orders", response_model=OrderPage)
def list_orders(
    principal: ClientRole,
    sessions: SessionsDep,
    roles: KeyRolesDep,
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
    return OrderPage(items=orders_for(principal, roles, items), next_cursor=next_cursor)


def _order_or_404(sessions: SessionsDep, order_id: str, principal: Principal) -> OrderView:
    """The order, or 404 when there is none or it belongs to a customer the key is not bound to."""
    order = projection.get_order(sessions, order_id)
    if order is None:
        raise ProblemError(404, f"no order {order_id}")
    forbid_other_customers(principal, order.customer.id, order_id)
    return order


@router.get("/orders/{order_id}", response_model=OrderView)
def get_order(order_id: str, principal: ClientRole, sessions: SessionsDep, roles: KeyRolesDep) -> OrderView:
    return order_for(principal, roles, _order_or_404(sessions, order_id, principal))


@router.get("/orders/{order_id}/timeline", response_model=list[TimelineEntry])
def get_timeline(
    order_id: str, principal: ClientRole, sessions: SessionsDep, roles: KeyRolesDep
) -> list[TimelineEntry]:
    _order_or_404(sessions, order_id, principal)
    return timeline_for(principal, roles, projection.timeline(sessions, order_id))


@router.post("/orders/{order_id}/cancel", response_model=OrderView)
async def cancel(
    order_id: str,
    body: CancelBody,
    principal: ClientRole,
    client: ClientDep,
    sessions: SessionsDep,
    roles: KeyRolesDep,
) -> OrderView:
    """Cancel with compensations (void or refund, release stock, void labels); 409 after hand-over."""
    order = await run_in_threadpool(_order_or_404, sessions, order_id, principal)
    try:
        cancelled = await cancel_order(
            client, order_id, CancelRequest(reason=body.reason, actor=principal.name)
        )
        return order_for(principal, roles, cancelled)
    except WorkflowGone:
        if order.status is OrderStatus.CANCELLED:
            return order_for(principal, roles, order)
        raise ProblemError(
            409, f"order {order_id} is {order.status.value}", type_="/problems/too-late-to-cancel"
        ) from None


@router.patch(
    "/orders/{order_id}/shipping-address",
    response_model=OrderView,
    responses={
        404: {"description": "unknown order"},
        409: {"description": "a label exists, or the order is over"},
    },
)
async def patch_shipping_address(
    order_id: str,
    address: Address,
    principal: ClientRole,
    client: ClientDep,
    sessions: SessionsDep,
    roles: KeyRolesDep,
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
        changed = await change_address(client, order_id, AddressChange(address=address, actor=principal.name))
        return order_for(principal, roles, changed)
    except WorkflowGone:
        raise ProblemError(
            409,
            f"order {order_id} is {order.status.value}: its address can no longer change",
            type_="/problems/action-not-applicable",
        ) from None


async def apply_lines_edit(
    client: ClientDep, sessions: SessionsDep, order_id: str, lines: list[EditLine], principal: Principal
) -> OrderView:
    """Change an order's lines as `principal` (the route's and the console's one way): 404 for an
    order the key may not read, 422 naming each bad line, 409 saying why it is too late."""
    order = await run_in_threadpool(_order_or_404, sessions, order_id, principal)
    requested = requested_quantities(lines)
    known = await run_in_threadpool(catalog.catalog_items, sessions, new_skus(order, requested))
    problems = edit_problems(order, lines, known)
    if problems:
        raise invalid_request(problems)
    refusal = lines_edit_refusal(order, requested)
    if refusal is not None:
        # From the projection: it knows a parcel is picked before its order hears of it.
        raise refusal_problem(
            "TooLateToEdit", f"cannot change the lines: {refusal}", TooLateToEdit.http_status
        )
    try:
        return await edit_lines(client, order_id, LinesEdit(lines=lines, actor=principal.name))
    except WorkflowGone:
        raise refusal_problem(
            "TooLateToEdit", f"order {order_id} is {order.status.value}: its lines can no longer change", 409
        ) from None
    except ProblemError as problem:
        if problem.type == "/problems/payment-declined":
            problem.status = 409  # API.md: a declined difference refuses the edit with a 409
        raise


async def apply_contact_change(
    client: ClientDep, sessions: SessionsDep, order_id: str, body: "ContactBody", principal: Principal
) -> OrderView:
    """Change an order's contact as `principal`; 422 when neither field is given, 409 once the order is over."""
    if body.email is None and body.phone is None:
        raise invalid_request(
            [Problem(field=name, message="give an email or a phone to change") for name in ("email", "phone")]
        )
    order = await run_in_threadpool(_order_or_404, sessions, order_id, principal)
    too_late = refusal_problem(
        "TooLateToEdit", f"cannot change the contact: the order is {order.status.value}", 409
    )
    if order.status.terminal:
        raise too_late
    try:
        return await edit_contact(
            client, order_id, ContactChange(email=body.email, phone=body.phone, actor=principal.name)
        )
    except WorkflowGone:
        raise too_late from None


@router.patch(
    "/orders/{order_id}/lines",
    response_model=OrderView,
    responses={
        404: {"description": "unknown order"},
        409: {
            "description": "too late (a parcel holding a changed line is picked), no stock, or the difference declined"
        },
        422: {"description": "unknown SKUs, a SKU named twice, or an order left without lines"},
    },
)
async def patch_lines(
    order_id: str,
    body: LinesBody,
    principal: ClientRole,
    client: ClientDep,
    sessions: SessionsDep,
    roles: KeyRolesDep,
) -> OrderView:
    """The order's new set of lines (the customer for their own orders, or ops). New SKUs come at
    the catalog price; the payment follows (the difference authorized, or refunded); stock is
    re-reserved in one step. Each edit is in the timeline with the acting key."""
    edited = await apply_lines_edit(client, sessions, order_id, body.lines, principal)
    return order_for(principal, roles, edited)


@router.patch(
    "/orders/{order_id}/contact",
    response_model=OrderView,
    responses={404: {"description": "unknown order"}, 409: {"description": "the order is over"}},
)
async def patch_contact(
    order_id: str,
    body: ContactBody,
    principal: ClientRole,
    client: ClientDep,
    sessions: SessionsDep,
    roles: KeyRolesDep,
) -> OrderView:
    """A new contact e-mail or phone, until the order is terminal."""
    changed = await apply_contact_change(client, sessions, order_id, body, principal)
    return order_for(principal, roles, changed)


@router.post(
    "/orders/{order_id}/backorder-choice",
    response_model=OrderView,
    responses={
        404: {"description": "unknown order"},
        409: {"description": "the order is not backordered, or a substitute is out of stock too"},
        422: {"description": "a substitute not listed, or a SKU that is not a missing line"},
    },
)
async def choose_for_backorder(
    order_id: str,
    body: BackorderChoiceBody,
    principal: ClientRole,
    client: ClientDep,
    sessions: SessionsDep,
    roles: KeyRolesDep,
) -> OrderView:
    """Answer a backordered order's question (`backorder` on the order): wait, ship_available,
    cancel_missing or substitute. Audited in the timeline (`backorder.chosen`) with the key's name."""
    order = await run_in_threadpool(_order_or_404, sessions, order_id, principal)
    choice = BackorderChoice(choice=body.choice, substitutes=body.substitutes, actor=principal.name)
    try:
        chosen = await backorder_choice(client, order_id, choice)
        return order_for(principal, roles, chosen)
    except WorkflowGone:
        raise ProblemError(
            409,
            f"order {order_id} is {order.status.value}: only a backordered order takes a choice",
            type_="/problems/action-not-applicable",
        ) from None
