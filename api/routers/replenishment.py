"""Replenishment (R6, issue 19): reorder rules, the proposals they make, and stock transfers
between warehouses (docs/api.md "Replenishment"). The formula is domain/replenishment.py's.

Included before the catalog router: `/inventory/reorder-rules`, `/inventory/replenishment` and
`/inventory/transfers` would otherwise be read as `GET /inventory/{sku}`."""

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, require
from api.deps import ClientDep, SessionsDep, SettingsDep
from api.problems import ProblemError, invalid_request
from api.routers.warehouse import WokenOrder, wake_backorders
from domain.enums import Role
from domain.models import Problem, Sku, Strict
from domain.replenishment import (
    DEMAND_WINDOW_DAYS,
    MAX_LEAD_TIME_DAYS,
    MAX_NOTE,
    MAX_UNITS,
    ReorderRule,
    daily_demand,
    propose,
    reorder_rule_problems,
    transfer_problems,
)
from store import catalog, replenishment, transfers

router = APIRouter(tags=["inventory"])
OpsRole = Annotated[Principal, Depends(require(Role.OPS))]
Code = Annotated[str, Field(min_length=1, max_length=32)]
# Wide bounds only keep the numbers sane; the business checks (domain.replenishment) name every
# bad field in one answer, which per-field schema bounds would not (they stop before the rest).
Units = Annotated[int, Field(ge=-MAX_UNITS, le=MAX_UNITS * 10)]
Days = Annotated[int, Field(ge=-MAX_LEAD_TIME_DAYS, le=MAX_LEAD_TIME_DAYS * 10)]


class ReorderRuleBody(Strict):
    minimum: Units = Field(description="reorder when unreserved stock falls to minimum + lead-time demand (>= 0)")
    maximum: Units = Field(description="order up to maximum + lead-time demand (>= minimum)")
    lead_time_days: Days = Field(description=f"days from ordering to receipt (0 to {MAX_LEAD_TIME_DAYS})")


class ReorderRuleView(BaseModel):
    sku: str
    warehouse: str
    minimum: int
    maximum: int
    lead_time_days: int
    updated_by: str
    updated_at: datetime

    @classmethod
    def of(cls, stored: replenishment.StoredRule) -> "ReorderRuleView":
        r = stored.rule
        return cls(
            sku=r.sku, warehouse=r.warehouse, minimum=r.minimum, maximum=r.maximum,
            lead_time_days=r.lead_time_days, updated_by=stored.updated_by, updated_at=stored.updated_at,
        )


@router.get("/inventory/reorder-rules", response_model=list[ReorderRuleView])
def list_reorder_rules(
    _: OpsRole,
    sessions: SessionsDep,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    warehouse: Annotated[str | None, Query(max_length=32)] = None,
) -> list[ReorderRuleView]:
    """Every reorder rule, by SKU then warehouse."""
    return [ReorderRuleView.of(r) for r in replenishment.list_rules(sessions, sku, warehouse)]


@router.get(
    "/inventory/reorder-rules/{sku}/{warehouse}",
    response_model=ReorderRuleView,
    responses={404: {"description": "no rule for this SKU and warehouse"}},
)
def get_reorder_rule(sku: str, warehouse: str, _: OpsRole, sessions: SessionsDep) -> ReorderRuleView:
    stored = replenishment.get_rule(sessions, sku, warehouse)
    if stored is None:
        raise ProblemError(404, f"no reorder rule for {sku} at {warehouse}")
    return ReorderRuleView.of(stored)


@router.put(
    "/inventory/reorder-rules/{sku}/{warehouse}",
    response_model=ReorderRuleView,
    responses={201: {"model": ReorderRuleView}, 422: {"description": "every bad field named"}},
)
def put_reorder_rule(
    sku: Sku, warehouse: Code, body: ReorderRuleBody, response: Response, principal: OpsRole, sessions: SessionsDep
) -> ReorderRuleView:
    """Create (201) or replace (200) the rule, with an audit row (`reorder_rule_set`). A 422
    names every bad field at once: `sku` or `warehouse` unknown, `minimum` < 0, `maximum` <
    `minimum`, `lead_time_days` < 0."""
    sku_known, warehouse_known = replenishment.known(sessions, sku, warehouse)
    problems = reorder_rule_problems(
        body.minimum, body.maximum, body.lead_time_days, sku_known=sku_known, warehouse_known=warehouse_known
    )
    if problems:
        raise invalid_request(problems)
    rule = ReorderRule(
        sku=sku, warehouse=warehouse, minimum=body.minimum, maximum=body.maximum, lead_time_days=body.lead_time_days
    )
    stored, created = replenishment.put_rule(sessions, rule, principal.name)
    response.status_code = 201 if created else 200
    return ReorderRuleView.of(stored)


@router.delete(
    "/inventory/reorder-rules/{sku}/{warehouse}",
    status_code=204,
    responses={404: {"description": "no rule for this SKU and warehouse"}},
)
def delete_reorder_rule(sku: str, warehouse: str, principal: OpsRole, sessions: SessionsDep) -> Response:
    """Remove the rule, with an audit row (`reorder_rule_deleted`)."""
    if not replenishment.delete_rule(sessions, sku, warehouse, principal.name):
        raise ProblemError(404, f"no reorder rule for {sku} at {warehouse}")
    return Response(status_code=204)


class ReplenishmentRow(BaseModel):
    sku: str
    warehouse: str
    minimum: int
    maximum: int
    lead_time_days: int
    on_hand: int
    reserved: int = Field(description="units held by open reservations")
    unreserved: int = Field(description="on_hand - reserved: the stock position the rule compares")
    safety_stock: int = Field(description="shown for reference; part of `unreserved`")
    open_reservations: int = Field(description="open reservations (orders and parcels) holding units here")
    demand_window_days: int = DEMAND_WINDOW_DAYS
    shipped: int = Field(description="units shipped in the window, less labels voided in it")
    reserved_recently: int = Field(description="units reserved in the window and still held")
    demand: int = Field(description="shipped + reserved_recently")
    daily_demand: Decimal = Field(description="demand / window days, 3 places (display only)")
    lead_time_demand: int = Field(description="ceil(demand x lead_time_days / window days)")
    reorder_at: int = Field(description="minimum + lead_time_demand")
    order_up_to: int = Field(description="maximum + lead_time_demand")
    needed: bool = Field(description="unreserved <= reorder_at")
    proposed_quantity: int = Field(description="order_up_to - unreserved when needed, else 0")


class ReplenishmentView(BaseModel):
    window_start: datetime = Field(description="the demand counts from here to now")
    items: list[ReplenishmentRow]


@router.get("/inventory/replenishment", response_model=ReplenishmentView)
def replenishment_proposals(
    _: OpsRole,
    sessions: SessionsDep,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    warehouse: Annotated[str | None, Query(max_length=32)] = None,
    all_rules: Annotated[
        bool, Query(alias="all", description="also the rules that need nothing now (proposed_quantity 0)")
    ] = False,
) -> ReplenishmentView:
    """What to order per SKU and warehouse with a reorder rule, with every input of the figure
    (docs/api.md "Replenishment" has the formula). Needed rows only unless `all=true`; by SKU,
    then warehouse."""
    window_start, inputs = replenishment.replenishment_inputs(sessions, sku=sku, warehouse=warehouse)
    rows = []
    for i in inputs:
        p = propose(i.rule, i.unreserved, i.demand)
        if not (p.needed or all_rules):
            continue
        rows.append(
            ReplenishmentRow(
                sku=i.rule.sku, warehouse=i.rule.warehouse, minimum=i.rule.minimum, maximum=i.rule.maximum,
                lead_time_days=i.rule.lead_time_days, on_hand=i.on_hand, reserved=i.reserved,
                unreserved=i.unreserved, safety_stock=i.safety_stock, open_reservations=i.open_reservations,
                shipped=i.shipped, reserved_recently=i.reserved_recently, demand=i.demand,
                daily_demand=daily_demand(i.demand), lead_time_demand=p.lead_time_demand,
                reorder_at=p.reorder_at, order_up_to=p.order_up_to, needed=p.needed, proposed_quantity=p.quantity,
            )
        )
    return ReplenishmentView(window_start=window_start, items=rows)


class TransferBody(Strict):
    sku: Sku
    from_warehouse: Code
    to_warehouse: Code
    quantity: Annotated[int, Field(ge=-MAX_UNITS, le=MAX_UNITS * 10, description="units to move (>= 1)")]
    note: Annotated[str, Field(max_length=MAX_NOTE)] | None = None


class LegView(BaseModel):
    warehouse: str
    on_hand: int
    reserved: int
    unreserved: int
    available: int = Field(description="unreserved - safety_stock, as GET /inventory/{sku} counts it")


class TransferView(BaseModel):
    transfer_id: int
    sku: str
    from_warehouse: str
    to_warehouse: str
    quantity: int
    note: str | None
    actor: str
    at: datetime
    source: LegView = Field(description="the level at from_warehouse after the transfer")
    destination: LegView = Field(description="the level at to_warehouse after the transfer")
    woken: list[WokenOrder] = Field(
        default=[],
        description="orders waiting for the SKU (backordered, or a short pick's lines) that tried again, "
        "oldest first, as after a receipt at to_warehouse",
    )


def _transfer_hash(body: TransferBody) -> str:
    content = body.model_dump(mode="json")
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@router.post(
    "/inventory/transfers",
    status_code=201,
    response_model=TransferView,
    responses={
        200: {"model": TransferView, "description": "an idempotent repeat (same Idempotency-Key and body)"},
        409: {"description": "not enough unreserved stock at from_warehouse, or an idempotency key reused"},
        422: {"description": "every bad field named"},
    },
)
async def post_transfer(
    body: TransferBody,
    response: Response,
    principal: OpsRole,
    sessions: SessionsDep,
    client: ClientDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> TransferView:
    """Move unreserved units of a SKU from one warehouse to another: both legs in one
    transaction, each with an audit row (`transfer_out`, `transfer_in`) and the low-stock check.
    409 `/problems/out-of-stock` when from_warehouse holds fewer unreserved units (on_hand -
    reserved) than asked, nothing moved. The units arrive as a receipt would: orders waiting for
    the SKU try again, oldest first (`woken`)."""
    problems = await run_in_threadpool(_transfer_problems, sessions, body)
    if problems:
        raise invalid_request(problems)
    request = transfers.TransferRequest(
        sku=body.sku,
        from_warehouse=body.from_warehouse,
        to_warehouse=body.to_warehouse,
        quantity=body.quantity,
        note=body.note,
        actor=principal.name,
        idempotency_key=f"{principal.name}:{idempotency_key}" if idempotency_key is not None else None,
        request_hash=_transfer_hash(body),
    )
    try:
        result, created = await run_in_threadpool(
            partial(transfers.transfer_stock, ops_email=settings.ops_email), sessions, request
        )
    except transfers.NotEnoughUnreserved as short:
        raise ProblemError(
            409,
            short.message,
            type_="/problems/out-of-stock",
            extra={"unreserved": short.unreserved, "requested": short.requested},
        ) from None
    if created:
        woken = await wake_backorders(client, sessions, body.sku, body.to_warehouse, principal.name)
        if woken:
            result = await run_in_threadpool(
                transfers.record_woken, sessions, result, [w.model_dump(mode="json") for w in woken]
            )
    response.status_code = 201 if created else 200
    return TransferView.model_validate(result)


def _transfer_problems(sessions: SessionsDep, body: TransferBody) -> list[Problem]:
    warehouses = {w.code: w.active for w in catalog.list_warehouses(sessions)}
    sku_known = catalog.get_catalog_item(sessions, body.sku) is not None
    return transfer_problems(
        body.quantity, body.from_warehouse, body.to_warehouse, sku_known=sku_known, known_warehouses=warehouses
    )


@router.get("/inventory/transfers", response_model=list[TransferView])
def list_transfers(
    _: OpsRole,
    sessions: SessionsDep,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TransferView]:
    """The latest transfers first, as each was answered."""
    return [TransferView.model_validate(t) for t in transfers.transfers(sessions, sku=sku, limit=limit)]
