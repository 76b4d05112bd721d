"""Which warehouse ships which lines (R3). Pure: stock and warehouses in, a plan out.

One warehouse that can ship everything wins (nearest region first, then priority, then the lowest
workload against daily capacity); otherwise lines go to the fewest warehouses, greedily.
Safety stock is never promised (`StockLevel.available` excludes it).
"""

from domain.geography import zone_between
from domain.models import OrderLine, Parcel, ParcelLine, StockLevel, Warehouse


def _rank(warehouse: Warehouse, destination_region: str) -> tuple[int, int, float, str]:
    load = warehouse.open_workload / warehouse.daily_capacity if warehouse.daily_capacity else 1.0
    return (zone_between(warehouse.region, destination_region), warehouse.priority, load, warehouse.code)


def plan_parcels(
    lines: list[OrderLine],
    stock: list[StockLevel],
    warehouses: list[Warehouse],
    destination_region: str,
) -> list[Parcel] | None:
    """The parcels to ship, or None when the stock cannot cover every line."""
    available: dict[tuple[str, str], int] = {(s.warehouse, s.sku): s.available for s in stock}
    ranked = sorted((w for w in warehouses if w.active), key=lambda w: _rank(w, destination_region))

    for warehouse in ranked:
        if all(available.get((warehouse.code, line.sku), 0) >= line.quantity for line in lines):
            return [
                Parcel(
                    warehouse=warehouse.code,
                    region=warehouse.region,
                    lines=[ParcelLine(sku=line.sku, quantity=line.quantity) for line in lines],
                )
            ]

    # Split: repeatedly take the warehouse that covers the most remaining lines whole.
    remaining = list(lines)
    parcels: list[Parcel] = []
    while remaining:
        best: Warehouse | None = None
        best_lines: list[OrderLine] = []
        for warehouse in ranked:
            covered = [
                line for line in remaining if available.get((warehouse.code, line.sku), 0) >= line.quantity
            ]
            if len(covered) > len(best_lines):
                best, best_lines = warehouse, covered
        if best is None:
            return None
        parcels.append(
            Parcel(
                warehouse=best.code,
                region=best.region,
                lines=[ParcelLine(sku=line.sku, quantity=line.quantity) for line in best_lines],
            )
        )
        remaining = [line for line in remaining if line not in best_lines]
    return parcels


def shippable_lines(lines: list[OrderLine], stock: list[StockLevel]) -> list[OrderLine]:
    """The part of an order that stock can cover now, for the `ship_available` backorder policy.

    A line ships whole from one warehouse, so each line is cut to the most any single active
    warehouse can promise; lines nothing can cover are dropped.
    """
    best: dict[str, int] = {}
    for level in stock:
        best[level.sku] = max(best.get(level.sku, 0), level.available)
    cut = [line.model_copy(update={"quantity": min(line.quantity, best.get(line.sku, 0))}) for line in lines]
    return [line for line in cut if line.quantity > 0]
