"""Allocation (R3): properties that hold for any stock picture."""

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.allocation import plan_parcels
from domain.models import OrderLine, StockLevel, Warehouse

WAREHOUSES = [
    Warehouse(code="WH-EAST", name="East", region="east", priority=1),
    Warehouse(code="WH-WEST", name="West", region="west", priority=2),
    Warehouse(code="WH-NORTH", name="North", region="north", priority=3),
]
SKUS = ["A", "B", "C", "D"]

stock_levels = st.lists(
    st.builds(
        StockLevel,
        sku=st.sampled_from(SKUS),
        warehouse=st.sampled_from([w.code for w in WAREHOUSES]),
        on_hand=st.integers(0, 20),
        reserved=st.just(0),
        safety_stock=st.integers(0, 5),
    ),
    unique_by=lambda s: (s.sku, s.warehouse),
)
order_lines = st.lists(
    st.builds(OrderLine, sku=st.sampled_from(SKUS), quantity=st.integers(1, 8), unit_price=st.just(1)),
    min_size=1,
    max_size=4,
    unique_by=lambda line: line.sku,
)


@settings(max_examples=300, deadline=None)
@given(lines=order_lines, stock=stock_levels, region=st.sampled_from(["east", "west", "north", "south"]))
def test_a_plan_ships_every_line_once_from_stock_that_is_really_available(lines, stock, region) -> None:  # type: ignore[no-untyped-def]
    plan = plan_parcels(lines, stock, WAREHOUSES, region)
    available = {(s.warehouse, s.sku): s.on_hand - s.safety_stock for s in stock}
    if plan is None:
        # Refused only when no warehouse can take some line whole.
        assert any(
            all(available.get((w.code, line.sku), 0) < line.quantity for w in WAREHOUSES) for line in lines
        )
        return
    shipped = [(parcel.warehouse, line.sku, line.quantity) for parcel in plan for line in parcel.lines]
    assert sorted((sku, q) for _, sku, q in shipped) == sorted((line.sku, line.quantity) for line in lines)
    for warehouse, sku, quantity in shipped:
        assert quantity <= available[(warehouse, sku)], "safety stock is never promised"
    assert len({p.warehouse for p in plan}) == len(plan), "one parcel per warehouse"


def test_one_warehouse_that_has_everything_wins_nearest_first() -> None:
    stock = [
        StockLevel(sku="A", warehouse="WH-EAST", on_hand=5, reserved=0),
        StockLevel(sku="A", warehouse="WH-WEST", on_hand=5, reserved=0),
    ]
    lines = [OrderLine(sku="A", quantity=2, unit_price=1)]
    assert [p.warehouse for p in plan_parcels(lines, stock, WAREHOUSES, "west") or []] == ["WH-WEST"]
    assert [p.warehouse for p in plan_parcels(lines, stock, WAREHOUSES, "east") or []] == ["WH-EAST"]


def test_lines_split_when_no_warehouse_has_everything() -> None:
    stock = [
        StockLevel(sku="A", warehouse="WH-EAST", on_hand=5, reserved=0),
        StockLevel(sku="B", warehouse="WH-WEST", on_hand=5, reserved=0),
    ]
    lines = [OrderLine(sku="A", quantity=1, unit_price=1), OrderLine(sku="B", quantity=1, unit_price=1)]
    plan = plan_parcels(lines, stock, WAREHOUSES, "east")
    assert plan is not None
    assert {(p.warehouse, p.lines[0].sku) for p in plan} == {("WH-EAST", "A"), ("WH-WEST", "B")}
    assert all(p.region for p in plan), "each parcel knows where it ships from"
