"""SqlInventory against a real PostgreSQL: never oversell, never promise safety stock."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from domain.errors import OutOfStock
from domain.models import CatalogItem, OrderLine
from store.catalog import set_stock_level, upsert_catalog_item
from store.models import ReservationRow, StockAdjustmentRow

SF = sessionmaker[Session]


def line(sku: str, quantity: int) -> OrderLine:
    return OrderLine(sku=sku, quantity=quantity, unit_price=Decimal("10.00"))


def stocked(sf: SF, sku: str, levels: dict[str, tuple[int, int]]) -> None:
    """levels: warehouse -> (on_hand, safety_stock)."""
    upsert_catalog_item(sf, CatalogItem(sku=sku, name=sku, price=Decimal("10.00")))
    for warehouse, (on_hand, safety) in levels.items():
        set_stock_level(sf, sku, warehouse, on_hand, safety, 0, "test")


def by_warehouse(inventory: SqlInventory, sku: str) -> dict[str, tuple[int, int]]:
    return {lvl.warehouse: (lvl.on_hand, lvl.reserved) for lvl in inventory.stock(sku)}


def test_thirty_concurrent_orders_for_ten_units_reserve_exactly_ten(
    session_factory: SF,
) -> None:
    stocked(session_factory, "SKU-HOT", {"WH-EAST": (10, 0)})
    inventory = SqlInventory(session_factory)

    def attempt(i: int) -> bool:
        try:
            inventory.reserve(f"ORD-C{i:02d}", [line("SKU-HOT", 1)], "east")
            return True
        except OutOfStock:
            return False

    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(attempt, range(30)))

    assert sum(outcomes) == 10
    (level,) = inventory.stock("SKU-HOT")
    assert (level.on_hand, level.reserved, level.available) == (10, 10, 0)
    with session_factory() as s:
        held = s.scalar(
            select(func.sum(ReservationRow.quantity)).where(
                ReservationRow.sku == "SKU-HOT"
            )
        )
    assert held == 10


def test_reserve_is_idempotent_per_order(session_factory: SF) -> None:
    stocked(session_factory, "SKU-A", {"WH-EAST": (5, 0)})
    inventory = SqlInventory(session_factory)
    first = inventory.reserve("ORD-1", [line("SKU-A", 2)], "east")
    again = inventory.reserve("ORD-1", [line("SKU-A", 2)], "east")
    assert again == first
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (5, 2)}


def test_concurrent_retries_of_one_order_reserve_once(session_factory: SF) -> None:
    stocked(session_factory, "SKU-A", {"WH-EAST": (50, 0)})
    inventory = SqlInventory(session_factory)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda _: inventory.reserve("ORD-1", [line("SKU-A", 3)], "east"),
                range(8),
            )
        )
    assert all(r == results[0] for r in results)
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (50, 3)}


def test_release_returns_stock_once(session_factory: SF) -> None:
    stocked(session_factory, "SKU-A", {"WH-EAST": (5, 0)})
    inventory = SqlInventory(session_factory)
    inventory.reserve("ORD-1", [line("SKU-A", 4)], "east")
    assert inventory.release("ORD-1") == 4
    assert inventory.release("ORD-1") == 0
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (5, 0)}
    # A released order may reserve again (the old rows are taken over, not duplicated).
    inventory.reserve("ORD-1", [line("SKU-A", 1)], "east")
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (5, 1)}


def test_safety_stock_is_never_promised(session_factory: SF) -> None:
    stocked(session_factory, "SKU-A", {"WH-EAST": (10, 3)})
    inventory = SqlInventory(session_factory)
    with pytest.raises(OutOfStock):
        inventory.reserve("ORD-1", [line("SKU-A", 8)], "east")
    inventory.reserve("ORD-2", [line("SKU-A", 7)], "east")
    with pytest.raises(OutOfStock):
        inventory.reserve("ORD-3", [line("SKU-A", 1)], "east")
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (10, 7)}


def test_order_splits_across_warehouses_when_neither_has_everything(
    session_factory: SF,
) -> None:
    stocked(session_factory, "SKU-A", {"WH-EAST": (5, 0)})
    stocked(session_factory, "SKU-B", {"WH-WEST": (5, 0)})
    inventory = SqlInventory(session_factory)
    allocation = inventory.reserve(
        "ORD-1", [line("SKU-A", 2), line("SKU-B", 1)], "east"
    )
    assert [
        (p.warehouse, [(pl.sku, pl.quantity) for pl in p.lines])
        for p in allocation.parcels
    ] == [
        ("WH-EAST", [("SKU-A", 2)]),
        ("WH-WEST", [("SKU-B", 1)]),
    ]
    assert (
        inventory.reserve("ORD-1", [line("SKU-A", 2), line("SKU-B", 1)], "east")
        == allocation
    )


def test_one_warehouse_preferred_and_nearest_first(session_factory: SF) -> None:
    stocked(session_factory, "SKU-A", {"WH-EAST": (5, 0), "WH-WEST": (5, 0)})
    inventory = SqlInventory(session_factory)
    west = inventory.reserve("ORD-W", [line("SKU-A", 1)], "west")
    east = inventory.reserve("ORD-E", [line("SKU-A", 1)], "east")
    assert [p.warehouse for p in west.parcels] == ["WH-WEST"]
    assert [p.warehouse for p in east.parcels] == ["WH-EAST"]


def test_unknown_sku_and_zero_stock_are_out_of_stock(session_factory: SF) -> None:
    inventory = SqlInventory(session_factory)
    with pytest.raises(OutOfStock):
        inventory.reserve("ORD-1", [line("SKU-NOPE", 1)], "east")
    with pytest.raises(OutOfStock, match="SKU-RARE"):
        inventory.reserve("ORD-2", [line("SKU-RARE", 1)], "east")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ReservationRow)) == 0


def test_ship_consumes_stock_once_and_audits(session_factory: SF) -> None:
    stocked(session_factory, "SKU-A", {"WH-EAST": (5, 0)})
    stocked(session_factory, "SKU-B", {"WH-WEST": (5, 0)})
    inventory = SqlInventory(session_factory)
    inventory.reserve("ORD-1", [line("SKU-A", 2), line("SKU-B", 1)], "east")
    assert inventory.ship("ORD-1", "WH-EAST") == 2
    assert inventory.ship("ORD-1", "WH-EAST") == 2
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (3, 0)}
    # Release after a partial shipment only returns what has not left the building.
    assert inventory.release("ORD-1") == 1
    assert by_warehouse(inventory, "SKU-B") == {"WH-WEST": (5, 0)}
    with session_factory() as s:
        reasons = s.scalars(
            select(StockAdjustmentRow.reason)
            .where(StockAdjustmentRow.sku == "SKU-A")
            .order_by(StockAdjustmentRow.id)
        ).all()
    assert reasons == ["set_level", "shipment"]


def test_workload_counts_orders_with_open_reservations(session_factory: SF) -> None:
    stocked(session_factory, "SKU-A", {"WH-EAST": (10, 0)})
    inventory = SqlInventory(session_factory)
    inventory.reserve("ORD-1", [line("SKU-A", 1)], "east")
    inventory.reserve("ORD-2", [line("SKU-A", 1)], "east")
    inventory.release("ORD-2")
    workload = {w.code: w.open_workload for w in inventory.warehouses()}
    assert workload == {"WH-EAST": 1, "WH-WEST": 0}
    assert set(inventory.catalog_items(["SKU-A", "SKU-NOPE"])) == {"SKU-A"}
