"""Inventory: catalog, warehouses, stock and reservations (R3, R6)."""

from typing import Protocol

from domain.models import Allocation, CatalogItem, OrderLine, Parcel, ParcelLine, StockLevel, Warehouse


class Inventory(Protocol):
    """Reservations are keyed by `order_id`, an opaque string: an order id or a derived key such
    as `ORDER-1#reship1` (up to 100 characters). Every stock change also raises or re-arms the
    low-stock alert of the level it touched (store.stock_alerts)."""

    def catalog_items(self, skus: list[str]) -> dict[str, CatalogItem]:
        """The catalog entries of these SKUs (unknown SKUs are absent)."""
        ...

    def reserve(
        self, order_id: str, lines: list[OrderLine], destination_region: str, avoid: tuple[str, ...] = ()
    ) -> Allocation:
        """Plan parcels (domain.allocation), never from the warehouses in `avoid`, and reserve every
        line of the plan in one transaction.

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

    def unship(self, order_id: str, warehouse: str) -> int:
        """The reverse of `ship` (the label was cancelled before hand-over): the order's shipped
        reservations at this warehouse go back on hand and become released, with an audit row
        (reason `restock_cancelled_label`). Returns the units restocked by this call; a repeat
        restocks nothing (returns 0)."""
        ...

    def short_pick(self, reservation_key: str, warehouse: str, shipment_id: str, lines: list[ParcelLine]) -> int:
        """The warehouse could not pick these units of a parcel (a short pick): their reservation
        is released and, since the shelf did not hold them, on_hand goes down by as much, with an
        audit row (reason `short_pick`). Idempotent by (shipment, sku); returns the units written
        off by this call."""
        ...

    def take_back(self, rma_id: str, sku: str, warehouse: str, quantity: int, resellable: bool) -> int:
        """A returned unit after inspection: back on hand if resellable, else written off with an
        audit row. Idempotent by (rma, sku); returns units put back on hand."""
        ...

    def move_reservation(
        self, reservation_key: str, lines: list[ParcelLine], from_warehouse: str, to_warehouse: str
    ) -> Parcel:
        """Move a parcel's reservation to another (active) warehouse in one step: reserved there,
        released here, on_hand untouched. Idempotent (a repeat after the move changes nothing).
        Raises OutOfStock when that warehouse lacks the available stock, ActionNotApplicable when it
        is unknown or inactive or the lines are no longer reserved here. Returns the moved parcel."""
        ...

    def swap_reservations(
        self, release: list[tuple[str, str]], key: str, lines: list[OrderLine], destination_region: str
    ) -> Allocation:
        """An order edit: release the reservations held under each (key, warehouse) of `release`
        and reserve `lines` under `key`, in one transaction: both happen or neither. Idempotent
        (once `key` holds a reservation, a repeat returns it). Raises OutOfStock when the new lines
        cannot be covered even with the released stock; then nothing changed."""
        ...

    def stock(self, sku: str) -> list[StockLevel]:
        ...

    def warehouses(self) -> list[Warehouse]:
        ...
