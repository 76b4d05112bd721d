"""SqlInventory.move_reservation against a real PostgreSQL (ops `move`): the parcel's reservation
moves to the other warehouse in one step, never into its safety stock, and a repeat changes nothing."""

from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from domain.errors import ActionNotApplicable, OutOfStock
from domain.models import CatalogItem, OrderLine, ParcelLine
from store.catalog import set_stock_level, upsert_catalog_item
from store.models import WarehouseRow

SF = sessionmaker[Session]


def _stocked(sf: SF, sku: str, levels: dict[str, tuple[int, int]]) -> SqlInventory:
    upsert_catalog_item(sf, CatalogItem(sku=sku, name=sku, price=Decimal("10.00")))
    for warehouse, (on_hand, safety) in levels.items():
        set_stock_level(sf, sku, warehouse, on_hand, safety, 0, "test")
    return SqlInventory(sf)


def _levels(inventory: SqlInventory, sku: str) -> dict[str, tuple[int, int]]:
    return {lvl.warehouse: (lvl.on_hand, lvl.reserved) for lvl in inventory.stock(sku)}


def test_a_move_reserves_there_releases_here_and_a_repeat_changes_nothing(session_factory: SF) -> None:
    inventory = _stocked(session_factory, "SKU-MV1", {"WH-EAST": (5, 0), "WH-WEST": (4, 1)})
    allocation = inventory.reserve(
        "ORD-MV1", [OrderLine(sku="SKU-MV1", quantity=3, unit_price=Decimal(10))], "east"
    )
    assert [p.warehouse for p in allocation.parcels] == ["WH-EAST"]
    lines = [ParcelLine(sku="SKU-MV1", quantity=3)]

    moved = inventory.move_reservation("ORD-MV1", lines, "WH-EAST", "WH-WEST")
    again = inventory.move_reservation("ORD-MV1", lines, "WH-EAST", "WH-WEST")

    assert moved == again and moved.warehouse == "WH-WEST" and moved.region
    assert _levels(inventory, "SKU-MV1") == {"WH-EAST": (5, 0), "WH-WEST": (4, 3)}
    assert inventory.ship("ORD-MV1", "WH-WEST") == 3
    assert _levels(inventory, "SKU-MV1") == {"WH-EAST": (5, 0), "WH-WEST": (1, 0)}
    assert inventory.release("ORD-MV1") == 0


def test_no_stock_there_or_an_inactive_warehouse_moves_nothing(session_factory: SF) -> None:
    inventory = _stocked(session_factory, "SKU-MV2", {"WH-EAST": (5, 0), "WH-WEST": (4, 2)})
    inventory.reserve("ORD-MV2", [OrderLine(sku="SKU-MV2", quantity=3, unit_price=Decimal(10))], "east")
    lines = [ParcelLine(sku="SKU-MV2", quantity=3)]

    with pytest.raises(OutOfStock, match="WH-WEST has 2 of SKU-MV2 available"):
        inventory.move_reservation("ORD-MV2", lines, "WH-EAST", "WH-WEST")  # 4 on hand, 2 safety
    with pytest.raises(ActionNotApplicable):
        inventory.move_reservation("ORD-MV2", lines, "WH-EAST", "WH-NOWHERE")
    with session_factory.begin() as s:
        s.execute(update(WarehouseRow).where(WarehouseRow.code == "WH-WEST").values(active=False))
    try:
        with pytest.raises(ActionNotApplicable, match="not active"):
            inventory.move_reservation("ORD-MV2", lines, "WH-EAST", "WH-WEST")
    finally:
        with session_factory.begin() as s:
            s.execute(update(WarehouseRow).where(WarehouseRow.code == "WH-WEST").values(active=True))
    assert _levels(inventory, "SKU-MV2") == {"WH-EAST": (5, 3), "WH-WEST": (4, 0)}


def test_a_shipped_parcel_does_not_move(session_factory: SF) -> None:
    inventory = _stocked(session_factory, "SKU-MV3", {"WH-EAST": (5, 0), "WH-WEST": (5, 0)})
    inventory.reserve("ORD-MV3", [OrderLine(sku="SKU-MV3", quantity=1, unit_price=Decimal(10))], "east")
    inventory.ship("ORD-MV3", "WH-EAST")
    with pytest.raises(ActionNotApplicable, match="no longer reserved"):
        inventory.move_reservation("ORD-MV3", [ParcelLine(sku="SKU-MV3", quantity=1)], "WH-EAST", "WH-WEST")
