"""The replenishment formula (domain/replenishment.py), exact in whole units."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.replenishment import (
    ReorderRule,
    daily_demand,
    lead_time_demand,
    propose,
    reorder_rule_problems,
    transfer_problems,
)


def rule(minimum: int, maximum: int, lead: int) -> ReorderRule:
    return ReorderRule(sku="S", warehouse="W", minimum=minimum, maximum=maximum, lead_time_days=lead)


def test_lead_time_demand_rounds_up_from_the_integers() -> None:
    assert lead_time_demand(37, 6) == 8  # 7.4
    assert lead_time_demand(30, 6) == 6  # exactly 6
    assert lead_time_demand(1, 1) == 1  # 1/30 of a unit is still one to have
    assert lead_time_demand(0, 365) == 0
    assert lead_time_demand(100, 0) == 0
    assert daily_demand(37) == Decimal("1.233")


def test_at_the_reorder_point_it_orders_up_to_the_maximum() -> None:
    p = propose(rule(10, 50, 6), unreserved=18, demand=37)
    assert (p.lead_time_demand, p.reorder_at, p.order_up_to, p.needed, p.quantity) == (8, 18, 58, True, 40)
    assert propose(rule(10, 50, 6), unreserved=19, demand=37).quantity == 0


@given(
    minimum=st.integers(0, 1000),
    spread=st.integers(0, 1000),
    lead=st.integers(0, 365),
    demand=st.integers(0, 10_000),
    unreserved=st.integers(0, 5000),
)
def test_a_proposal_fills_to_the_order_up_to_level(minimum: int, spread: int, lead: int, demand: int, unreserved: int) -> None:
    p = propose(rule(minimum, minimum + spread, lead), unreserved, demand)
    assert p.quantity >= 0
    assert p.needed == (unreserved <= p.reorder_at)
    if p.needed:
        assert unreserved + p.quantity == p.order_up_to
    else:
        assert p.quantity == 0
    assert p.lead_time_demand * 30 >= demand * lead > (p.lead_time_demand - 1) * 30 or demand * lead == 0


def test_every_bad_field_of_a_rule_is_named() -> None:
    assert reorder_rule_problems(1, 2, 3, sku_known=True, warehouse_known=True) == []
    assert reorder_rule_problems(0, 0, 0, sku_known=True, warehouse_known=True) == []
    fields = [p.field for p in reorder_rule_problems(-1, -2, -3, sku_known=False, warehouse_known=False)]
    assert fields == ["sku", "warehouse", "minimum", "maximum", "lead_time_days"]


def test_every_bad_field_of_a_transfer_is_named() -> None:
    known = {"A": True, "B": True, "OFF": False}
    assert transfer_problems(1, "A", "B", sku_known=True, known_warehouses=known) == []
    assert transfer_problems(1, "OFF", "A", sku_known=True, known_warehouses=known) == []
    assert [p.field for p in transfer_problems(0, "A", "A", sku_known=False, known_warehouses=known)] == [
        "sku", "to_warehouse", "quantity"]
    assert [p.field for p in transfer_problems(1, "A", "OFF", sku_known=True, known_warehouses=known)] == ["to_warehouse"]
    assert [p.field for p in transfer_problems(1, "X", "Y", sku_known=True, known_warehouses=known)] == [
        "from_warehouse", "to_warehouse"]
