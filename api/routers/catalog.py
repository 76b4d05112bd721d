"""Catalog, warehouses and stock levels (docs/api.md "Catalog, warehouses and inventory")."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field, StringConstraints

from api.auth import Principal, require
from api.deps import SessionsDep, SettingsDep
from api.problems import ProblemError, invalid_request
from domain.enums import Role
from domain.models import (
    CatalogItem,
    Money,
    Problem,
    ShortText,
    Sku,
    StockLevel,
    Strict,
    Warehouse,
)
from store import catalog

router = APIRouter(tags=["catalog"])
OpsRole = Annotated[Principal, Depends(require(Role.OPS))]
AnyRole = Annotated[Principal, Depends(require(Role.CLIENT, Role.WAREHOUSE))]
Code = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


class CatalogBody(Strict):
    name: ShortText
    price: Money
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    weight_grams: Annotated[int, Field(ge=1, le=100_000)] = 500
    active: bool = True
    substitutes: Annotated[
        list[Sku],
        Field(
            default_factory=list,
            max_length=20,
            description="known SKUs a customer may take instead when this one is backordered",
        ),
    ]


class WarehouseBody(Strict):
    name: ShortText
    region: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    priority: Annotated[int, Field(ge=0, le=1000)] = 1
    daily_capacity: Annotated[int, Field(ge=0, le=1_000_000)] = 500
    active: bool = True


class StockBody(Strict):
    on_hand: Annotated[int, Field(ge=0, le=10_000_000)]
    safety_stock: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    reorder_point: Annotated[int, Field(ge=0, le=10_000_000)] = 0


class StockView(BaseModel):
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    safety_stock: int
    reorder_point: int

    @classmethod
    def of(cls, level: StockLevel) -> "StockView":
        return cls(**level.model_dump(), available=level.available)


class InventoryView(BaseModel):
    sku: str
    warehouses: list[StockView]
    available: int


@router.put("/catalog/{sku}", response_model=CatalogItem, responses={201: {"model": CatalogItem}})
def put_catalog_item(sku: Sku, body: CatalogBody, response: Response, _: OpsRole, sessions: SessionsDep) -> CatalogItem:
    """Create or replace an item (`substitutes` left out: none)."""
    known = catalog.catalog_items(sessions, [s for s in body.substitutes if s != sku])
    problems = [
        Problem(field=f"substitutes[{i}]", message=message)
        for i, s in enumerate(body.substitutes)
        if (message := _substitute_problem(sku, s, known, body.substitutes[:i])) is not None
    ]
    if problems:
        raise invalid_request(problems)
    item = CatalogItem(sku=sku, **body.model_dump())
    created = catalog.upsert_catalog_item(sessions, item)
    response.status_code = 201 if created else 200
    return item


def _substitute_problem(sku: str, substitute: str, known: dict[str, CatalogItem], before: list[str]) -> str | None:
    if substitute == sku:
        return "an item cannot be its own substitute"
    if substitute not in known:
        return f"unknown sku {substitute}"
    if substitute in before:
        return f"{substitute} is listed twice"
    return None


@router.get("/catalog/{sku}", response_model=CatalogItem)
def get_catalog_item(sku: str, _: AnyRole, sessions: SessionsDep) -> CatalogItem:
    item = catalog.get_catalog_item(sessions, sku)
    if item is None:
        raise ProblemError(404, f"no sku {sku}")
    return item


@router.put("/warehouses/{code}", response_model=Warehouse, responses={201: {"model": Warehouse}})
def put_warehouse(code: Code, body: WarehouseBody, response: Response, _: OpsRole, sessions: SessionsDep) -> Warehouse:
    warehouse = Warehouse(code=code, **body.model_dump())
    created = catalog.upsert_warehouse(sessions, warehouse)
    response.status_code = 201 if created else 200
    return warehouse


@router.get("/warehouses", response_model=list[Warehouse])
def get_warehouses(_: AnyRole, sessions: SessionsDep) -> list[Warehouse]:
    return catalog.list_warehouses(sessions)


@router.get(
    "/inventory/alerts",
    response_model=list[StockView],
    description="Stock levels whose available stock (on_hand - reserved - safety_stock) is at or under "
    "their reorder point. Each drop under it also e-mails ops once (kind `low_stock` in the outbox).",
)
def inventory_alerts(_: OpsRole, sessions: SessionsDep) -> list[StockView]:
    return [StockView.of(level) for level in catalog.stock_alerts(sessions)]


@router.get("/inventory/{sku}", response_model=InventoryView)
def get_inventory(sku: str, _: AnyRole, sessions: SessionsDep) -> InventoryView:
    if catalog.get_catalog_item(sessions, sku) is None:
        raise ProblemError(404, f"no sku {sku}")
    levels = [StockView.of(level) for level in catalog.stock_levels(sessions, sku)]
    return InventoryView(sku=sku, warehouses=levels, available=sum(level.available for level in levels))


@router.put("/inventory/{sku}/{warehouse}", response_model=StockView)
def put_inventory(
    sku: str, warehouse: str, body: StockBody, principal: OpsRole, sessions: SessionsDep, settings: SettingsDep
) -> StockView:
    if catalog.get_catalog_item(sessions, sku) is None:
        raise ProblemError(404, f"no sku {sku}")
    if not catalog.warehouse_exists(sessions, warehouse):
        raise ProblemError(404, f"no warehouse {warehouse}")
    level = catalog.set_stock_level(
        sessions, sku, warehouse, body.on_hand, body.safety_stock, body.reorder_point, principal.name,
        ops_email=settings.ops_email,
    )
    return StockView.of(level)


