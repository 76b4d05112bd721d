"""Catalog, warehouse and stock administration; the demo seed."""

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from domain.errors import InvalidOrder
from domain.models import CatalogItem, OrderLine, Warehouse
from store.catalog import (
    get_catalog_item,
    list_warehouses,
    receive_stock,
    record_count,
    set_stock_level,
    stock_alerts,
    stock_levels,
    upsert_catalog_item,
    upsert_warehouse,
)
from store.models import StockAdjustmentRow
from store.seed import seed_demo

SF = sessionmaker[Session]


def test_demo_seed_is_idempotent_and_never_resets_stock(session_factory: SF) -> None:
    assert [w.code for w in list_warehouses(session_factory)] == ["WH-EAST", "WH-WEST"]
    item = get_catalog_item(session_factory, "SKU-RED-M")
    assert item is not None and (item.price, item.currency, item.weight_grams) == (
        Decimal("99.00"),
        "CNY",
        350,
    )
    assert {lvl.warehouse for lvl in stock_levels(session_factory, "SKU-RED-M")} == {
        "WH-EAST",
        "WH-WEST",
    }
    assert [
        (lvl.on_hand, lvl.available)
        for lvl in stock_levels(session_factory, "SKU-RARE")
    ] == [(0, 0)]

    set_stock_level(session_factory, "SKU-MUG", "WH-EAST", 3, 0, 1, "ops")
    seed_demo(session_factory)
    seed_demo(session_factory)
    (mug,) = stock_levels(session_factory, "SKU-MUG")
    assert (mug.on_hand, mug.safety_stock, mug.reorder_point) == (3, 0, 1)


def test_upserts_report_creation(session_factory: SF) -> None:
    item = CatalogItem(
        sku="SKU-NEW", name="New", price=Decimal("1.50"), weight_grams=10
    )
    assert upsert_catalog_item(session_factory, item) is True
    assert (
        upsert_catalog_item(
            session_factory, item.model_copy(update={"price": Decimal("2.00")})
        )
        is False
    )
    stored = get_catalog_item(session_factory, "SKU-NEW")
    assert stored is not None and stored.price == Decimal("2.00")
    assert get_catalog_item(session_factory, "SKU-NONE") is None

    north = Warehouse(
        code="WH-NORTH", name="North", region="north", priority=3, daily_capacity=100
    )
    assert upsert_warehouse(session_factory, north) is True
    assert (
        upsert_warehouse(session_factory, north.model_copy(update={"active": False}))
        is False
    )
    by_code = {w.code: w for w in list_warehouses(session_factory)}
    assert by_code["WH-NORTH"].active is False


def test_stock_levels_refuse_going_below_reserved_and_are_audited(
    session_factory: SF,
) -> None:
    SqlInventory(session_factory).reserve(
        "ORD-1",
        [OrderLine(sku="SKU-HEADSET", quantity=4, unit_price=Decimal("899.00"))],
        "east",
    )
    with pytest.raises(InvalidOrder):
        set_stock_level(session_factory, "SKU-HEADSET", "WH-EAST", 3, 0, 0, "ops")
    with pytest.raises(InvalidOrder):
        set_stock_level(session_factory, "SKU-NONE", "WH-EAST", 3, 0, 0, "ops")
    level = set_stock_level(
        session_factory, "SKU-HEADSET", "WH-EAST", 10, 1, 6, "ops-anna"
    )
    assert (level.on_hand, level.reserved, level.safety_stock, level.reorder_point) == (
        10,
        4,
        1,
        6,
    )
    assert level.available == 5
    assert [
        a.sku for a in stock_alerts(session_factory) if a.warehouse == "WH-EAST"
    ].count("SKU-HEADSET") == 1

    level = receive_stock(session_factory, "SKU-HEADSET", "WH-EAST", 5, "dock")
    assert level.on_hand == 15
    level, discrepancy = record_count(
        session_factory, "SKU-HEADSET", "WH-EAST", 13, "counter"
    )
    assert (level.on_hand, discrepancy) == (13, -2)
    with session_factory() as s:
        audit = s.execute(
            select(
                StockAdjustmentRow.delta_on_hand,
                StockAdjustmentRow.reason,
                StockAdjustmentRow.actor,
            )
            .where(
                StockAdjustmentRow.sku == "SKU-HEADSET",
                StockAdjustmentRow.reason != "seed",
            )
            .order_by(StockAdjustmentRow.id)
        ).all()
    assert [tuple(row) for row in audit] == [
        (-15, "set_level", "ops-anna"),
        (5, "receipt", "dock"),
        (-2, "count", "counter"),
    ]


def test_workload_in_warehouse_list(session_factory: SF) -> None:
    inventory = SqlInventory(session_factory)
    for order in ("ORD-1", "ORD-2"):
        inventory.reserve(
            order,
            [OrderLine(sku="SKU-MUG", quantity=1, unit_price=Decimal("39.00"))],
            "east",
        )
    assert {w.code: w.open_workload for w in list_warehouses(session_factory)} == {
        "WH-EAST": 2,
        "WH-WEST": 0,
    }
