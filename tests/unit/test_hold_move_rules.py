"""When ops may hold, release and move (domain/actions.py), from the order as it stands."""

from datetime import UTC, datetime

from domain.actions import available_actions, hold_refusal, move_refusal, on_ops_hold
from domain.disclosure import HOLD_REASON, client_hold
from domain.enums import HoldReason, OpsActionKind, OrderStatus, ShipmentStatus
from domain.models import Hold, ShipmentView
from tests.unit.test_order_rules import _order

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _parcel(sid: str, status: ShipmentStatus, warehouse: str = "WH-EAST", **update: object) -> ShipmentView:
    return ShipmentView(
        shipment_id=sid, order_id="o1", warehouse=warehouse, status=status, reservation_key="o1"
    ).model_copy(update=update)


def _actions(**update: object) -> list[OpsActionKind]:
    status = update.pop("status", OrderStatus.FULFILLING)
    assert isinstance(status, OrderStatus)
    return available_actions(_order(status, **update), frozenset(), compensating=False)


def test_hold_applies_from_allocation_while_a_parcel_is_not_with_the_carrier() -> None:
    for status in (OrderStatus.ALLOCATING, OrderStatus.BACKORDERED, OrderStatus.PAYMENT_PENDING):
        assert OpsActionKind.HOLD in _actions(status=status)
    for status in (OrderStatus.RECEIVED, OrderStatus.VERIFYING, OrderStatus.ON_HOLD):
        assert OpsActionKind.HOLD not in _actions(status=status), "intake: the hold is verification's"
    picking = _parcel("s1", ShipmentStatus.PICKING)
    carried = _parcel("s2", ShipmentStatus.IN_TRANSIT, handed_over_at=AT)
    assert OpsActionKind.HOLD in _actions(status=OrderStatus.PARTIALLY_SHIPPED, shipments=[carried, picking])
    assert OpsActionKind.HOLD not in _actions(status=OrderStatus.SHIPPED, shipments=[carried])
    assert (
        hold_refusal(_order(OrderStatus.SHIPPED, shipments=[carried]))
        == "every parcel is already with the carrier"
    )


def test_release_applies_only_to_an_ops_hold() -> None:
    verification = Hold(reason="high value", since=AT, codes=[HoldReason.HIGH_VALUE])
    ops = Hold(reason="customer called", since=AT, by="night-shift")
    assert not on_ops_hold(_order(OrderStatus.ON_HOLD, hold=verification))
    assert OpsActionKind.RELEASE not in _actions(status=OrderStatus.ON_HOLD, hold=verification)
    held = _actions(hold=ops, shipments=[_parcel("s1", ShipmentStatus.PICKING)])
    assert OpsActionKind.RELEASE in held and OpsActionKind.HOLD not in held
    assert OpsActionKind.RELEASE not in _actions(shipments=[_parcel("s1", ShipmentStatus.PICKING)])


def test_move_applies_to_a_parcel_not_yet_picked_and_elsewhere() -> None:
    pending = _parcel("s1", ShipmentStatus.PENDING)
    packed = _parcel("s2", ShipmentStatus.PACKED, warehouse="WH-WEST")
    order = _order(shipments=[pending, packed])
    assert OpsActionKind.MOVE in available_actions(order, frozenset(), compensating=False)
    assert move_refusal(order, "s1", "WH-NORTH") is None
    assert move_refusal(order, "s1", "WH-EAST") == "parcel s1 already ships from WH-EAST"
    assert move_refusal(order, "s2", "WH-EAST") == "parcel s2 is packed: only a parcel not yet picked moves"
    assert move_refusal(order, "s1", "WH-WEST") == "another parcel of this order already ships from WH-WEST"
    assert move_refusal(order, "s9", "WH-WEST") == "the order has no parcel s9"
    assert move_refusal(order, "s1", None) == "move needs params.shipment_id and params.warehouse"
    assert OpsActionKind.MOVE not in _actions(shipments=[packed])


def test_a_client_reads_neither_the_note_nor_who_placed_an_ops_hold() -> None:
    shown = client_hold(Hold(reason="suspected reseller, ask Wang", since=AT, by="night-shift"))
    assert (shown.reason, shown.by) == (HOLD_REASON, None)
