"""Activities over the inventory adapter: catalog look-up, reservation, release, shipping stock."""

from temporalio import activity

from activities.errors import business_refusals
from adapters.inventory import Inventory
from domain.models import (
    Allocation,
    CatalogItem,
    Parcel,
    ReservationMove,
    ReservationSwap,
    ReserveRequest,
    ShipStockRequest,
    ShortPick,
    StockLevel,
    TakeBack,
)


class InventoryActivities:
    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory

    @activity.defn(name="load_catalog")
    def load_catalog(self, skus: list[str]) -> list[CatalogItem]:
        return list(self._inventory.catalog_items(skus).values())

    @activity.defn(name="stock_levels")
    def stock_levels(self, skus: list[str]) -> list[StockLevel]:
        return [level for sku in skus for level in self._inventory.stock(sku)]

    @activity.defn(name="reserve_stock")
    @business_refusals
    def reserve_stock(self, request: ReserveRequest) -> Allocation:
        return self._inventory.reserve(
            request.order_id, request.lines, request.destination_region, tuple(request.avoid_warehouses)
        )

    @activity.defn(name="release_stock")
    def release_stock(self, order_id: str) -> int:
        return self._inventory.release(order_id)

    @activity.defn(name="ship_stock")
    def ship_stock(self, request: ShipStockRequest) -> int:
        return self._inventory.ship(request.order_id, request.warehouse)

    @activity.defn(name="short_pick_stock")
    def short_pick_stock(self, short: ShortPick) -> int:
        return self._inventory.short_pick(short.reservation_key, short.warehouse, short.shipment_id, short.lines)

    @activity.defn(name="take_back_stock")
    def take_back_stock(self, request: TakeBack) -> int:
        return self._inventory.take_back(
            request.rma_id, request.sku, request.warehouse, request.quantity, request.resellable
        )

    @activity.defn(name="unship_stock")
    def unship_stock(self, request: ShipStockRequest) -> int:
        return self._inventory.unship(request.order_id, request.warehouse)

    @activity.defn(name="move_reservation")
    @business_refusals
    def move_reservation(self, move: ReservationMove) -> Parcel:
        return self._inventory.move_reservation(
            move.reservation_key, move.lines, move.from_warehouse, move.to_warehouse
        )

    @activity.defn(name="swap_reservations")
    @business_refusals
    def swap_reservations(self, swap: ReservationSwap) -> Allocation:
        return self._inventory.swap_reservations(
            [(key, warehouse) for key, warehouse in swap.release], swap.key, swap.lines, swap.destination_region
        )
