"""Replenishment (R6): reorder rules per SKU and warehouse, the proposal they make, and the
checks of a stock transfer between warehouses. Pure rules; store/ and api/ feed them numbers.

The proposal (docs/api.md "Replenishment", README "Fulfilment: parcels, carriers, stock"):

    unreserved        = on_hand - reserved                (what the shelf holds for nobody yet)
    demand_30d        = units shipped in the last 30 days (net of labels voided in them)
                        + units reserved in the last 30 days and not shipped yet
    lead_time_demand  = ceil(demand_30d * lead_time_days / 30)   (daily demand x lead time, rounded up)
    reorder_at        = minimum + lead_time_demand
    order_up_to       = maximum + lead_time_demand
    proposed          = order_up_to - unreserved   when unreserved <= reorder_at, else 0

Everything is in whole units and exact: the daily demand is shown (rounded to 3 places) but
the lead-time demand is computed from the integers, never from the rounded figure. Orderflow
has no purchase orders, so nothing is "incoming"; a transfer moves stock at once (both legs in
one transaction), so nothing is in transit either.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from domain.models import Problem

DEMAND_WINDOW_DAYS = 30
MAX_UNITS = 10_000_000
MAX_LEAD_TIME_DAYS = 365
MAX_NOTE = 500


@dataclass(frozen=True)
class ReorderRule:
    sku: str
    warehouse: str
    minimum: int
    maximum: int
    lead_time_days: int


def reorder_rule_problems(
    minimum: int,
    maximum: int,
    lead_time_days: int,
    *,
    sku_known: bool,
    warehouse_known: bool,
) -> list[Problem]:
    """Every bad field of a reorder rule at once (an empty list: the rule is good)."""
    problems: list[Problem] = []
    if not sku_known:
        problems.append(Problem(field="sku", message="is not a known SKU"))
    if not warehouse_known:
        problems.append(Problem(field="warehouse", message="is not a known warehouse"))
    if minimum < 0:
        problems.append(Problem(field="minimum", message="must be 0 or more"))
    elif minimum > MAX_UNITS:
        problems.append(Problem(field="minimum", message=f"must be at most {MAX_UNITS}"))
    if maximum < minimum:
        problems.append(Problem(field="maximum", message=f"must be at least the minimum ({minimum})"))
    elif maximum > MAX_UNITS:
        problems.append(Problem(field="maximum", message=f"must be at most {MAX_UNITS}"))
    if lead_time_days < 0:
        problems.append(Problem(field="lead_time_days", message="must be 0 or more"))
    elif lead_time_days > MAX_LEAD_TIME_DAYS:
        problems.append(Problem(field="lead_time_days", message=f"must be at most {MAX_LEAD_TIME_DAYS}"))
    return problems


def lead_time_demand(demand: int, lead_time_days: int, window_days: int = DEMAND_WINDOW_DAYS) -> int:
    """Daily demand (demand / window) times the lead time, rounded up to a whole unit."""
    return -(-demand * lead_time_days // window_days)


def daily_demand(demand: int, window_days: int = DEMAND_WINDOW_DAYS) -> Decimal:
    """For display only (3 places); the proposal uses `lead_time_demand`, which is exact."""
    return (Decimal(demand) / Decimal(window_days)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Proposal:
    lead_time_demand: int
    reorder_at: int
    order_up_to: int
    needed: bool
    quantity: int


def propose(rule: ReorderRule, unreserved: int, demand: int) -> Proposal:
    """At or under `minimum + lead-time demand`: order up to `maximum + lead-time demand`."""
    ltd = lead_time_demand(demand, rule.lead_time_days)
    reorder_at = rule.minimum + ltd
    order_up_to = rule.maximum + ltd
    needed = unreserved <= reorder_at
    quantity = max(0, order_up_to - unreserved) if needed else 0
    return Proposal(
        lead_time_demand=ltd, reorder_at=reorder_at, order_up_to=order_up_to, needed=needed, quantity=quantity
    )


def transfer_problems(
    quantity: int,
    from_warehouse: str,
    to_warehouse: str,
    *,
    sku_known: bool,
    known_warehouses: dict[str, bool],
) -> list[Problem]:
    """Every bad field of a transfer at once. `known_warehouses`: code -> active."""
    problems: list[Problem] = []
    if not sku_known:
        problems.append(Problem(field="sku", message="is not a known SKU"))
    if from_warehouse not in known_warehouses:
        problems.append(Problem(field="from_warehouse", message="is not a known warehouse"))
    if to_warehouse not in known_warehouses:
        problems.append(Problem(field="to_warehouse", message="is not a known warehouse"))
    elif to_warehouse == from_warehouse:
        problems.append(Problem(field="to_warehouse", message="must differ from from_warehouse"))
    elif not known_warehouses[to_warehouse]:
        problems.append(Problem(field="to_warehouse", message="is not active: stock cannot move there"))
    if quantity < 1:
        problems.append(Problem(field="quantity", message="must be 1 or more"))
    elif quantity > MAX_UNITS:
        problems.append(Problem(field="quantity", message=f"must be at most {MAX_UNITS}"))
    return problems
