"""Operations: the queue of held and stuck orders, and ops actions on them (docs/api.md "Operations")."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.auth import Principal, require
from api.deps import ClientDep, SessionsDep
from api.problems import ProblemError
from api.temporal_calls import WorkflowGone, ops_action
from domain.enums import OpsActionKind, OrderStatus, Role
from domain.models import Address, Money, OpsAction, OrderView, Problem, Strict
from domain.resolution import NotApplicable, parse_amount
from store import projection

router = APIRouter(tags=["operations"])
OpsRole = Annotated[Principal, Depends(require(Role.OPS))]
SessionFactory = sessionmaker[Session]


class OpsQueueItem(BaseModel):
    order_id: str
    status: OrderStatus
    needs_attention: bool
    reason: str | None = Field(description="attention_reason, else the hold's reason")
    since: datetime = Field(description="attention_since, else the hold's start, else updated_at")
    age_seconds: int = Field(description="seconds since `since`, as of the answer")
    available_actions: list[OpsActionKind]
    customer_id: str
    total: Money
    workflow_id: str


class OpsQueue(BaseModel):
    items: list[OpsQueueItem]


class ActionBody(Strict):
    action: OpsActionKind
    note: Annotated[str, Field(max_length=2000)] | None = None
    params: dict[str, Any] = Field(default_factory=dict)


def queue_item(order: OrderView, now: datetime) -> OpsQueueItem:
    hold = order.hold
    reason = order.attention_reason or (hold.reason if hold is not None else None)
    since = order.attention_since or (hold.since if hold is not None else None) or order.updated_at
    return OpsQueueItem(
        order_id=order.order_id,
        status=order.status,
        needs_attention=order.needs_attention,
        reason=reason,
        since=since,
        age_seconds=max(0, int((now - since).total_seconds())),
        available_actions=order.available_actions,
        customer_id=order.customer.id,
        total=order.totals.grand_total,
        workflow_id=order.workflow_id,
    )


@router.get("/ops/orders", response_model=OpsQueue)
def ops_orders(
    _: OpsRole,
    sessions: SessionsDep,
    needs_attention: bool | None = None,
    status: OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OpsQueue:
    """Held and stuck orders, oldest first, with reason and age. Without filters: every order on
    hold or needing attention; `needs_attention` and `status` narrow to exactly those."""
    orders = projection.ops_queue(
        sessions, needs_attention=needs_attention, status=status.value if status else None, limit=limit
    )
    now = datetime.now(UTC)
    return OpsQueue(items=[queue_item(order, now) for order in orders])


def _line_problems(raw: object, field: str) -> list[Problem]:
    """`[{"sku", "quantity"}]`, each a SKU and a whole number of at least 1."""
    if not isinstance(raw, list) or not raw:
        return [Problem(field=field, message="must be a non-empty list of {sku, quantity}")]
    problems = []
    for index, item in enumerate(raw):
        sku = item.get("sku") if isinstance(item, dict) else None
        quantity = item.get("quantity") if isinstance(item, dict) else None
        if not isinstance(sku, str) or not sku.strip():
            problems.append(Problem(field=f"{field}[{index}].sku", message="is required"))
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            problems.append(
                Problem(field=f"{field}[{index}].quantity", message="must be a whole number of at least 1")
            )
    return problems


def _resolution_problems(body: ActionBody) -> list[Problem]:
    """The shape of refund and reship params (whether they apply is the workflow's 409)."""
    params = body.params
    problems: list[Problem] = []
    if body.action is OpsActionKind.REFUND:
        if not (body.note or "").strip():
            problems.append(Problem(field="note", message="is required for refund (the reason)"))
        if params.get("amount") is None and params.get("lines") is None and params.get("shipment_id") is None:
            problems.append(
                Problem(field="params.amount", message="refund needs params.amount or params.lines")
            )
        if params.get("amount") is not None and params.get("lines") is not None:
            problems.append(
                Problem(field="params.lines", message="give params.amount or params.lines, not both")
            )
        if params.get("amount") is not None:
            try:
                parse_amount(params["amount"])
            except NotApplicable as problem:
                problems.append(Problem(field="params.amount", message=str(problem)))
        if params.get("lines") is not None:
            problems += _line_problems(params["lines"], "params.lines")
    if body.action is OpsActionKind.RESHIP:
        if not params.get("shipment_id") and not params.get("claim_id"):
            problems.append(Problem(field="params.shipment_id", message="is required for reship"))
        if params.get("lines") is not None:
            problems += _line_problems(params["lines"], "params.lines")
        if params.get("address") is not None:
            try:
                Address.model_validate(params["address"])
            except ValidationError as error:
                problems += [
                    Problem(field=".".join(["params", "address", *map(str, e["loc"])]), message=e["msg"])
                    for e in error.errors()
                ]
    if body.action is OpsActionKind.REJECT_CLAIM:
        if not (body.note or "").strip():
            problems.append(Problem(field="note", message="is required for reject_claim (the reason)"))
        if not isinstance(params.get("claim_id"), str) or not params["claim_id"]:
            problems.append(Problem(field="params.claim_id", message="is required for reject_claim"))
    for key in ("shipment_id", "claim_id"):
        if params.get(key) is not None and not isinstance(params[key], str):
            problems.append(Problem(field=f"params.{key}", message="must be a string"))
    return problems


def _check_params(body: ActionBody) -> None:
    problems = _resolution_problems(body)
    if problems:
        raise ProblemError(
            422,
            f"{body.action.value}: invalid params",
            type_="/problems/invalid-request",
            errors=problems,
        )
    if body.action is OpsActionKind.REROUTE:
        carrier = body.params.get("carrier")
        if not isinstance(carrier, str) or not carrier.strip():
            raise ProblemError(
                422,
                "reroute needs params.carrier",
                type_="/problems/invalid-request",
                errors=[Problem(field="params.carrier", message="is required for reroute")],
            )
    _check_hold_and_move_params(body)


def _check_hold_and_move_params(body: ActionBody) -> None:
    """hold needs a note (the reason); move needs params.shipment_id and params.warehouse."""
    errors = []
    if body.action is OpsActionKind.HOLD and not (body.note or "").strip():
        errors.append(Problem(field="note", message="is required for hold (the reason)"))
    if body.action is OpsActionKind.MOVE:
        for name in ("shipment_id", "warehouse"):
            value = body.params.get(name)
            if not isinstance(value, str) or not value.strip():
                errors.append(Problem(field=f"params.{name}", message="is required for move"))
    if errors:
        raise ProblemError(
            422,
            f"{body.action.value} needs " + ", ".join(p.field for p in errors),
            type_="/problems/invalid-request",
            errors=errors,
        )


async def apply_action(
    client: Client, sessions: SessionFactory, order_id: str, body: ActionBody, actor: str
) -> OrderView:
    """The one path of an ops action, for the API and the console alike: check the params, 404 for an
    unknown order, then the workflow's `ops_action` update (its validator refuses what does not
    apply: 409); a finished workflow is a 409 too. Raises ProblemError."""
    _check_params(body)
    order = await run_in_threadpool(projection.get_order, sessions, order_id)
    if order is None:
        raise ProblemError(404, f"no order {order_id}")
    action = OpsAction(action=body.action, note=body.note, params=body.params, actor=actor)
    try:
        return await ops_action(client, order_id, action)
    except WorkflowGone:
        raise ProblemError(
            409,
            f"order {order_id} is {order.status.value}: {body.action.value} does not apply",
            type_="/problems/action-not-applicable",
        ) from None


@router.post(
    "/ops/orders/{order_id}/actions",
    response_model=OrderView,
    responses={404: {"description": "unknown order"}, 409: {"description": "the action does not apply now"}},
)
async def act(
    order_id: str, body: ActionBody, principal: OpsRole, client: ClientDep, sessions: SessionsDep
) -> OrderView:
    """Approve, reject, request info, retry, skip, reroute, cancel, hold, release, move or annotate an order;
    the answer is the order after the action. 409 when the current state does not allow it."""
    return await apply_action(client, sessions, order_id, body, principal.name)
