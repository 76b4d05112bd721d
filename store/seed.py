"""Demo catalog, warehouses and stock for `oms dev` and `oms seed`.

Idempotent: warehouses and catalog items are upserted; stock rows are only inserted where none
exist, so seeding a live database never resets its stock.
"""

from decimal import Decimal

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from domain.models import CatalogItem, Warehouse
from store.catalog import upsert_catalog_item, upsert_warehouse
from store.models import StockAdjustmentRow, StockLevelRow

DEMO_WAREHOUSES = [
    Warehouse(
        code="WH-EAST",
        name="East DC (Hangzhou)",
        region="east",
        priority=1,
        daily_capacity=500,
    ),
    Warehouse(
        code="WH-WEST",
        name="West DC (Chengdu)",
        region="west",
        priority=2,
        daily_capacity=300,
    ),
]

DEMO_CATALOG = [
    CatalogItem(
        sku="SKU-RED-M", name="Red T-shirt, M", price=Decimal("99.00"), weight_grams=350
    ),
    CatalogItem(
        sku="SKU-BLUE-L",
        name="Blue hoodie, L",
        price=Decimal("129.00"),
        weight_grams=600,
    ),
    CatalogItem(
        sku="SKU-MUG", name="Ceramic mug", price=Decimal("39.00"), weight_grams=450
    ),
    CatalogItem(
        sku="SKU-LAMP", name="Desk lamp", price=Decimal("259.00"), weight_grams=1800
    ),
    CatalogItem(
        sku="SKU-BOOK-ZH",
        name="Chinese novel (paperback)",
        price=Decimal("59.00"),
        weight_grams=500,
    ),
    CatalogItem(
        sku="SKU-HEADSET",
        name="Wireless headset",
        price=Decimal("899.00"),
        weight_grams=400,
    ),
    CatalogItem(
        sku="SKU-TV",
        name="55-inch television",
        price=Decimal("6999.00"),
        weight_grams=18000,
    ),
    CatalogItem(
        sku="SKU-RARE",
        name="Limited-edition sticker",
        price=Decimal("19.00"),
        weight_grams=20,
    ),
]

# (sku, warehouse, on_hand, safety_stock, reorder_point)
DEMO_STOCK = [
    ("SKU-RED-M", "WH-EAST", 120, 5, 20),
    ("SKU-RED-M", "WH-WEST", 60, 5, 10),
    ("SKU-BLUE-L", "WH-EAST", 40, 2, 10),
    ("SKU-BLUE-L", "WH-WEST", 40, 2, 10),
    ("SKU-MUG", "WH-EAST", 200, 10, 30),
    ("SKU-LAMP", "WH-WEST", 30, 2, 5),
    ("SKU-BOOK-ZH", "WH-EAST", 80, 5, 15),
    ("SKU-BOOK-ZH", "WH-WEST", 50, 5, 10),
    ("SKU-HEADSET", "WH-EAST", 25, 2, 5),
    ("SKU-TV", "WH-WEST", 8, 1, 2),
    ("SKU-RARE", "WH-EAST", 0, 0, 5),
]


def seed_demo(session_factory: sessionmaker[Session]) -> None:
    for warehouse in DEMO_WAREHOUSES:
        upsert_warehouse(session_factory, warehouse)
    for item in DEMO_CATALOG:
        upsert_catalog_item(session_factory, item)
    with session_factory.begin() as s:
        for sku, warehouse_code, on_hand, safety, reorder in DEMO_STOCK:
            inserted = s.scalar(
                insert(StockLevelRow)
                .values(
                    sku=sku,
                    warehouse=warehouse_code,
                    on_hand=on_hand,
                    reserved=0,
                    safety_stock=safety,
                    reorder_point=reorder,
                )
                .on_conflict_do_nothing()
                .returning(StockLevelRow.sku)
            )
            if inserted is not None and on_hand:
                s.add(
                    StockAdjustmentRow(
                        sku=sku,
                        warehouse=warehouse_code,
                        delta_on_hand=on_hand,
                        reason="seed",
                        actor="seed",
                        detail={},
                    )
                )
