"""Inventory: catalog, warehouses, stock and reservations (R3, R6)."""

from typing import Protocol

from domain.models import Allocation, CatalogItem, OrderLine, StockLevel, Warehouse


class Inventory(Protocol):
    def catalog_items(self, skus: list[str]) -> dict[str, CatalogItem]:
        """The catalog entries of these SKUs (unknown SKUs are absent)."""
        ...

    def reserve(self, order_id: str, lines: list[OrderLine], destination_region: str) -> Allocation:
        """Plan parcels (domain.allocation) and reserve every line of the plan in one transaction.

        Idempotent by order: a second call returns the reservations already held. Raises
        domain.errors.OutOfStock when the available stock (never safety stock) cannot cover the order.
        """
        ...

    def release(self, order_id: str) -> int:
        """Release every reservation of the order not yet shipped; returns the units released.
        Idempotent: a second call releases nothing."""
        ...

    def ship(self, order_id: str, warehouse: str) -> int:
        """Turn the order's reservations at this warehouse into shipped stock (on_hand and reserved
        both go down). Idempotent."""
        ...

    def stock(self, sku: str) -> list[StockLevel]:
        ...

    def warehouses(self) -> list[Warehouse]:
        ...
