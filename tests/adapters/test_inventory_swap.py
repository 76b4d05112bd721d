"""SqlInventory.swap_reservations (an order edit) against a real PostgreSQL: the old parcel's
reservation released and the new lines reserved in one transaction; short of stock, nothing
changes; a repeat changes nothing more."""

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from domain.errors import OutOfStock
from domain.models import CatalogItem, OrderLine
from store.catalog import set_stock_level, upsert_catalog_item

SF = sessionmaker[Session]


def _line(sku: str, quantity: int) -> OrderLine:
    return OrderLine(sku=sku, quantity=quantity, unit_price=Decimal("10.00"))


def _stocked(sf: SF, sku: str, on_hand: int) -> None:
    upsert_catalog_item(sf, CatalogItem(sku=sku, name=sku, price=Decimal("10.00")))
    set_stock_level(sf, sku, "WH-EAST", on_hand, 0, 0, "test")


def _reserved(inventory: SqlInventory, sku: str) -> int:
    return sum(level.reserved for level in inventory.stock(sku))


def test_the_swap_counts_the_released_units_and_a_repeat_changes_nothing(session_factory: SF) -> None:
    _stocked(session_factory, "SKU-SW-A", 3)
    _stocked(session_factory, "SKU-SW-B", 2)
    inventory = SqlInventory(session_factory)
    inventory.reserve("ORD-SW1", [_line("SKU-SW-A", 2)], "east")

    # 3 on hand, 2 reserved by the order: 3 more are there only with its own 2 released.
    swapped = inventory.swap_reservations(
        [("ORD-SW1", "WH-EAST")], "ORD-SW1#edit1", [_line("SKU-SW-A", 3), _line("SKU-SW-B", 1)], "east"
    )

    assert [(p.warehouse, sorted((l.sku, l.quantity) for l in p.lines)) for p in swapped.parcels] == [
        ("WH-EAST", [("SKU-SW-A", 3), ("SKU-SW-B", 1)])
    ]
    assert (_reserved(inventory, "SKU-SW-A"), _reserved(inventory, "SKU-SW-B")) == (3, 1)
    again = inventory.swap_reservations(
        [("ORD-SW1", "WH-EAST")], "ORD-SW1#edit1", [_line("SKU-SW-A", 3), _line("SKU-SW-B", 1)], "east"
    )
    assert again == swapped
    assert (_reserved(inventory, "SKU-SW-A"), _reserved(inventory, "SKU-SW-B")) == (3, 1)
    assert inventory.release("ORD-SW1") == 0, "the old reservation is released already"
    assert inventory.release("ORD-SW1#edit1") == 4


def test_a_swap_short_of_stock_changes_nothing(session_factory: SF) -> None:
    _stocked(session_factory, "SKU-SW-C", 2)
    inventory = SqlInventory(session_factory)
    inventory.reserve("ORD-SW2", [_line("SKU-SW-C", 1)], "east")

    with pytest.raises(OutOfStock):
        inventory.swap_reservations([("ORD-SW2", "WH-EAST")], "ORD-SW2#edit1", [_line("SKU-SW-C", 5)], "east")

    assert _reserved(inventory, "SKU-SW-C") == 1
    assert inventory.release("ORD-SW2") == 1, "the old reservation still holds"


def test_a_swap_to_no_lines_only_releases(session_factory: SF) -> None:
    _stocked(session_factory, "SKU-SW-D", 2)
    inventory = SqlInventory(session_factory)
    inventory.reserve("ORD-SW3", [_line("SKU-SW-D", 2)], "east")

    empty = inventory.swap_reservations([("ORD-SW3", "WH-EAST")], "ORD-SW3#edit1", [], "east")

    assert empty.parcels == [] and _reserved(inventory, "SKU-SW-D") == 0
