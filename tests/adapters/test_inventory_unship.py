"""SqlInventory.unship: a cancelled label puts shipped units back on the shelf, once."""

from sqlalchemy import select

from adapters.inventory.sql import SqlInventory
from store.models import ReservationRow, StockAdjustmentRow
from tests.adapters.test_inventory_sql import SF, by_warehouse, line, stocked


def statuses(sf: SF, order_id: str) -> dict[tuple[str, str], str]:
    with sf() as s:
        rows = s.scalars(select(ReservationRow).where(ReservationRow.order_id == order_id)).all()
        return {(row.sku, row.warehouse): row.status for row in rows}


def test_unship_restocks_once_and_audits(session_factory: SF) -> None:
    stocked(session_factory, "SKU-A", {"WH-EAST": (5, 0)})
    stocked(session_factory, "SKU-B", {"WH-WEST": (5, 0)})
    inventory = SqlInventory(session_factory)
    inventory.reserve("ORD-1", [line("SKU-A", 2), line("SKU-B", 1)], "east")
    assert inventory.unship("ORD-1", "WH-EAST") == 0  # nothing shipped yet: nothing moves
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (5, 2)}

    assert inventory.ship("ORD-1", "WH-EAST") == 2
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (3, 0)}
    assert inventory.unship("ORD-1", "WH-EAST") == 2
    assert inventory.unship("ORD-1", "WH-EAST") == 0
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (5, 0)}
    # The other parcel is untouched: still reserved at WH-WEST.
    assert by_warehouse(inventory, "SKU-B") == {"WH-WEST": (5, 1)}
    assert statuses(session_factory, "ORD-1") == {
        ("SKU-A", "WH-EAST"): "released",
        ("SKU-B", "WH-WEST"): "reserved",
    }
    # Shipping again after the restock moves nothing: the reservation is gone.
    assert inventory.ship("ORD-1", "WH-EAST") == 0
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (5, 0)}
    with session_factory() as s:
        audit = s.execute(
            select(StockAdjustmentRow.reason, StockAdjustmentRow.delta_on_hand, StockAdjustmentRow.detail)
            .where(StockAdjustmentRow.sku == "SKU-A")
            .order_by(StockAdjustmentRow.id)
        ).all()
    assert [tuple(row) for row in audit] == [
        ("set_level", 5, {"safety_stock": 0, "reorder_point": 0}),
        ("shipment", -2, {"order_id": "ORD-1"}),
        ("restock_cancelled_label", 2, {"order_id": "ORD-1"}),
    ]


def test_reservation_keys_may_carry_a_suffix(session_factory: SF) -> None:
    """Reship reservations are keyed `<order_id>#reship<n>`: a key of its own, apart from the order's."""
    stocked(session_factory, "SKU-A", {"WH-EAST": (10, 0)})
    inventory = SqlInventory(session_factory)
    order_id = "O" * 64  # the longest order id the API accepts
    reship = f"{order_id}#reship1"
    inventory.reserve(order_id, [line("SKU-A", 2)], "east")
    inventory.ship(order_id, "WH-EAST")
    inventory.reserve(reship, [line("SKU-A", 2)], "east")
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (8, 2)}
    assert inventory.ship(reship, "WH-EAST") == 2
    assert inventory.unship(reship, "WH-EAST") == 2
    assert by_warehouse(inventory, "SKU-A") == {"WH-EAST": (8, 0)}
    assert statuses(session_factory, order_id) == {("SKU-A", "WH-EAST"): "shipped"}
    assert statuses(session_factory, reship) == {("SKU-A", "WH-EAST"): "released"}
    assert inventory.release(order_id) == 0
