"""Low-stock alerts (R6): one ops notification per drop to the reorder point, from every kind
of stock change, re-armed when the stock rises above it again."""

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from domain.errors import InvalidOrder
from domain.models import CatalogItem, OrderLine
from store.catalog import (
    receive_stock,
    record_count,
    set_stock_level,
    stock_alerts,
    upsert_catalog_item,
)
from store.models import NotificationOutboxRow, StockLevelRow

SF = sessionmaker[Session]


def line(sku: str, quantity: int) -> OrderLine:
    return OrderLine(sku=sku, quantity=quantity, unit_price=Decimal("10.00"))


def alerts(sf: SF, sku: str) -> list[tuple[str, str, str, str]]:
    with sf() as s:
        rows = s.scalars(
            select(NotificationOutboxRow)
            .where(NotificationOutboxRow.dedupe_key.like(f"lowstock:{sku}:%"))
            .order_by(NotificationOutboxRow.id)
        ).all()
        return [(r.dedupe_key, r.kind, r.order_id, r.recipient) for r in rows]


def alerted(sf: SF, sku: str, warehouse: str = "WH-EAST") -> tuple[bool, int]:
    with sf() as s:
        row = s.get(StockLevelRow, (sku, warehouse))
        assert row is not None
        return row.low_stock_alerted, row.low_stock_crossings


def key(sku: str, n: int, warehouse: str = "WH-EAST") -> str:
    return f"lowstock:{sku}:{warehouse}:{n}"


def test_one_alert_per_crossing_from_every_kind_of_change(session_factory: SF) -> None:
    sf = session_factory
    upsert_catalog_item(sf, CatalogItem(sku="SKU-LOW", name="low", price=Decimal("10.00")))
    inventory = SqlInventory(sf)
    # available = 12 - 0 - 2 = 10 > reorder point 5: no alert.
    set_stock_level(sf, "SKU-LOW", "WH-EAST", 12, 2, 5, "ops")
    assert alerts(sf, "SKU-LOW") == []

    inventory.reserve("ORD-1", [line("SKU-LOW", 4)], "east")  # available 6
    assert alerts(sf, "SKU-LOW") == []
    inventory.reserve("ORD-2", [line("SKU-LOW", 1)], "east")  # available 5: at the point
    ops = "ops@orderflow.local"
    assert alerts(sf, "SKU-LOW") == [(key("SKU-LOW", 1), "low_stock", "-", ops)]
    assert alerted(sf, "SKU-LOW") == (True, 1)

    # Still low: more drops and changes that stay under the point send nothing.
    inventory.reserve("ORD-3", [line("SKU-LOW", 2)], "east")  # available 3
    inventory.ship("ORD-1", "WH-EAST")  # on_hand 8, reserved 3: available 3
    record_count(sf, "SKU-LOW", "WH-EAST", 9, "counter")  # available 4
    assert len(alerts(sf, "SKU-LOW")) == 1
    assert [a.sku for a in stock_alerts(sf) if a.warehouse == "WH-EAST"].count("SKU-LOW") == 1

    # Replenished above the point: re-armed, not alerted.
    receive_stock(sf, "SKU-LOW", "WH-EAST", 10, "dock")  # on_hand 19, reserved 3: available 14
    assert alerted(sf, "SKU-LOW") == (False, 1)
    assert "SKU-LOW" not in [a.sku for a in stock_alerts(sf)]

    # The next drop alerts again, with the next dedupe key.
    inventory.reserve("ORD-4", [line("SKU-LOW", 9)], "east")  # available 5
    assert [a[0] for a in alerts(sf, "SKU-LOW")] == [key("SKU-LOW", 1), key("SKU-LOW", 2)]

    # Releases and unships re-arm it too; a count and a level change can make the drop.
    inventory.release("ORD-4")  # available 14
    assert alerted(sf, "SKU-LOW") == (False, 2)
    record_count(sf, "SKU-LOW", "WH-EAST", 8, "counter")  # available 3
    assert alerted(sf, "SKU-LOW") == (True, 3)
    inventory.ship("ORD-3", "WH-EAST")  # on_hand 6, reserved 1: available 3
    inventory.unship("ORD-3", "WH-EAST")  # on_hand 8, reserved 1: available 5, still low
    assert alerted(sf, "SKU-LOW") == (True, 3)
    set_stock_level(sf, "SKU-LOW", "WH-EAST", 8, 2, 4, "ops")  # reorder point lowered: 5 > 4
    assert alerted(sf, "SKU-LOW") == (False, 3)
    set_stock_level(sf, "SKU-LOW", "WH-EAST", 7, 2, 4, "ops")  # available 4
    assert [a[0] for a in alerts(sf, "SKU-LOW")] == [key("SKU-LOW", n) for n in (1, 2, 3, 4)]


def test_unship_lifts_the_level_above_the_point(session_factory: SF) -> None:
    sf = session_factory
    upsert_catalog_item(sf, CatalogItem(sku="SKU-UN", name="un", price=Decimal("10.00")))
    set_stock_level(sf, "SKU-UN", "WH-EAST", 6, 0, 3, "ops")
    inventory = SqlInventory(sf, ops_email="stock@example.com")
    inventory.reserve("ORD-1", [line("SKU-UN", 4)], "east")  # available 2
    inventory.ship("ORD-1", "WH-EAST")
    assert alerts(sf, "SKU-UN") == [(key("SKU-UN", 1), "low_stock", "-", "stock@example.com")]
    inventory.unship("ORD-1", "WH-EAST")  # on_hand 6, available 6
    assert alerted(sf, "SKU-UN") == (False, 1)


def test_alerts_count_safety_stock_and_roll_back_with_the_change(session_factory: SF) -> None:
    sf = session_factory
    upsert_catalog_item(sf, CatalogItem(sku="SKU-SAFE", name="safe", price=Decimal("10.00")))
    # on_hand 10 is far above the reorder point 4, but 6 of it is safety stock: available 4.
    set_stock_level(sf, "SKU-SAFE", "WH-EAST", 10, 6, 4, "ops", ops_email="buyer@example.com")
    assert alerts(sf, "SKU-SAFE") == [(key("SKU-SAFE", 1), "low_stock", "-", "buyer@example.com")]
    assert [(a.sku, a.available) for a in stock_alerts(sf) if a.sku == "SKU-SAFE"] == [("SKU-SAFE", 4)]

    set_stock_level(sf, "SKU-SAFE", "WH-EAST", 20, 0, 4, "ops")
    SqlInventory(sf).reserve("ORD-1", [line("SKU-SAFE", 3)], "east")
    assert alerted(sf, "SKU-SAFE") == (False, 1)
    # A refused change (below what is reserved) leaves neither stock nor alert behind.
    with pytest.raises(InvalidOrder):
        record_count(sf, "SKU-SAFE", "WH-EAST", 2, "counter")
    assert alerted(sf, "SKU-SAFE") == (False, 1)
    assert len(alerts(sf, "SKU-SAFE")) == 1
