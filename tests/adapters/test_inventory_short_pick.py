"""SqlInventory.short_pick and `reserve(avoid=...)` against a real PostgreSQL (issue 17): the units
a warehouse could not pick are released and written off its shelf with one audit row per SKU, once;
a short pick's reallocation never plans from the warehouse that came up short."""

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from domain.models import CatalogItem, OrderLine, ParcelLine
from store.catalog import set_stock_level, upsert_catalog_item
from store.models import ReservationRow, StockAdjustmentRow

SF = sessionmaker[Session]


def _stocked(sf: SF, sku: str, levels: dict[str, int]) -> SqlInventory:
    upsert_catalog_item(sf, CatalogItem(sku=sku, name=sku, price=Decimal("10.00")))
    for warehouse, on_hand in levels.items():
        set_stock_level(sf, sku, warehouse, on_hand, 0, 0, "test")
    return SqlInventory(sf)


def _levels(inventory: SqlInventory, sku: str) -> dict[str, tuple[int, int]]:
    return {lvl.warehouse: (lvl.on_hand, lvl.reserved) for lvl in inventory.stock(sku)}


def _audit(sf: SF, sku: str) -> list[tuple[str, int, dict[str, object]]]:
    with sf() as s:
        rows = s.scalars(
            select(StockAdjustmentRow)
            .where(StockAdjustmentRow.sku == sku, StockAdjustmentRow.reason == "short_pick")
            .order_by(StockAdjustmentRow.id)
        )
        return [(row.warehouse, row.delta_on_hand, dict(row.detail)) for row in rows]


def test_a_short_pick_releases_and_writes_off_once_and_the_rest_ships(session_factory: SF) -> None:
    inventory = _stocked(session_factory, "SKU-SP1", {"WH-EAST": 5})
    inventory.reserve("ORD-SP1", [OrderLine(sku="SKU-SP1", quantity=3, unit_price=Decimal(10))], "east")
    missing = [ParcelLine(sku="SKU-SP1", quantity=2)]

    assert inventory.short_pick("ORD-SP1", "WH-EAST", "ORD-SP1-P1", missing) == 2
    assert inventory.short_pick("ORD-SP1", "WH-EAST", "ORD-SP1-P1", missing) == 0, "a repeat writes nothing off"

    assert _levels(inventory, "SKU-SP1") == {"WH-EAST": (3, 1)}
    assert _audit(session_factory, "SKU-SP1") == [
        ("WH-EAST", -2, {"order_id": "ORD-SP1", "shipment_id": "ORD-SP1-P1", "quantity": 2})
    ]
    assert inventory.ship("ORD-SP1", "WH-EAST") == 1, "the parcel ships what was picked"
    assert _levels(inventory, "SKU-SP1") == {"WH-EAST": (2, 0)}


def test_nothing_picked_releases_the_whole_reservation(session_factory: SF) -> None:
    inventory = _stocked(session_factory, "SKU-SP2", {"WH-EAST": 4})
    inventory.reserve("ORD-SP2", [OrderLine(sku="SKU-SP2", quantity=2, unit_price=Decimal(10))], "east")

    assert inventory.short_pick("ORD-SP2", "WH-EAST", "ORD-SP2-P1", [ParcelLine(sku="SKU-SP2", quantity=2)]) == 2

    assert _levels(inventory, "SKU-SP2") == {"WH-EAST": (2, 0)}
    with session_factory() as s:
        statuses = list(s.scalars(select(ReservationRow.status).where(ReservationRow.order_id == "ORD-SP2")))
    assert statuses == ["released"]
    assert inventory.release("ORD-SP2") == 0 and inventory.ship("ORD-SP2", "WH-EAST") == 0


def test_a_reallocation_avoids_the_warehouse_that_came_up_short(session_factory: SF) -> None:
    inventory = _stocked(session_factory, "SKU-SP3", {"WH-EAST": 5, "WH-WEST": 5})
    lines = [OrderLine(sku="SKU-SP3", quantity=2, unit_price=Decimal(10))]

    assert [p.warehouse for p in inventory.reserve("ORD-SP3#reship1", lines, "east").parcels] == ["WH-EAST"]
    avoided = inventory.reserve("ORD-SP3#reship2", lines, "east", avoid=("WH-EAST",))
    assert [p.warehouse for p in avoided.parcels] == ["WH-WEST"]
