"""Rules of the order lifecycle that do not depend on Temporal: the allowed status moves of an
order, a parcel and a return; what a set of parcels means for the order; and which commands the
current state still allows (R4, R15)."""

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from domain.enums import OrderStatus, ReturnStatus, ShipmentStatus
from domain.models import OrderView, ShipmentView

S = TypeVar("S", bound=StrEnum)

# The statuses an order passes through while its parcels move; derived from the parcels.
FULFILMENT_STATUSES = frozenset(
    {
        OrderStatus.FULFILLING,
        OrderStatus.PARTIALLY_SHIPPED,
        OrderStatus.SHIPPED,
        OrderStatus.PARTIALLY_DELIVERED,
        OrderStatus.DELIVERED,
    }
)


def fulfilment_status(shipments: list[ShipmentView]) -> OrderStatus:
    """The order status the parcels add up to (cancelled parcels do not count)."""
    # Cancelled parcels and parcels replaced or refunded after a delivery issue do not count.
    live = [s for s in shipments if s.status is not ShipmentStatus.CANCELLED and s.outcome is None]
    if not live:
        return OrderStatus.FULFILLING
    delivered = [s for s in live if s.status is ShipmentStatus.DELIVERED]
    if len(delivered) == len(live):
        return OrderStatus.DELIVERED
    if delivered:
        return OrderStatus.PARTIALLY_DELIVERED
    handed_over = [s for s in live if s.handed_over]
    if len(handed_over) == len(live):
        return OrderStatus.SHIPPED
    if handed_over:
        return OrderStatus.PARTIALLY_SHIPPED
    return OrderStatus.FULFILLING


def order_news(shipment: ShipmentView) -> tuple[object, ...]:
    """The part of a parcel its order acts on while the parcel runs: a bought label locks the
    address, the hand-over locks cancellation and makes the order shipped, an exception or an
    attention reason is for ops (the parcel-aimed ops actions).

    A parcel signals its order only when this changes. Its other steps (picking, packed, out for
    delivery, a delay) stay with the parcel, and the order's readers take them from the shipments
    projection. Its end (delivered, returned to sender, lost or damaged, cancelled) reaches the
    order with the parcel's result, as the parcel finishes right there. Each signal costs the
    order a workflow task and about five history events (docs/performance.md)."""
    return (
        shipment.label_id is not None,
        shipment.handed_over,
        shipment.status is ShipmentStatus.EXCEPTION,
        shipment.attention_reason,
        # A short pick (issue 17): the order allocates, backorders or refunds the missing lines.
        bool(shipment.short_picked),
    )


ADDRESS_LOCKED = "a shipping label has been bought: the address can no longer change"


def address_locked(order: OrderView) -> bool:
    """A label bought for any parcel fixes the address it goes to."""
    return any(s.label_id or s.tracking_number for s in order.shipments)


def cancel_refusal(order: OrderView) -> str | None:
    """Why the order can no longer be cancelled, or None if it can."""
    if order.status is OrderStatus.CLOSED:
        return "the order is closed"
    if any(s.handed_over for s in order.shipments):
        return "a parcel is already with the carrier: request a return instead"
    return None


# --- the state machines ----------------------------------------------------------------------
#
# Every status change of an order, a parcel or a return goes through its workflow's door, which
# checks it against these tables: a move not listed fails the workflow task (IllegalTransition),
# so it shows in the Temporal UI and in the replay tests instead of passing silently. Staying in
# the same status is no move (the door only records the event). The tables list every move the
# workflows make; docs draw the lifecycle diagrams from them.

# The parcels decide among these: a reship or a late parcel can move the order back (delivered ->
# partially_delivered when a replacement parcel starts), so any one may follow any other.
_BY_PARCELS = FULFILMENT_STATUSES

ORDER_MOVES: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.RECEIVED: frozenset({OrderStatus.VERIFYING, OrderStatus.CANCELLED}),
    OrderStatus.VERIFYING: frozenset({OrderStatus.ON_HOLD, OrderStatus.ALLOCATING, OrderStatus.CANCELLED}),
    OrderStatus.ON_HOLD: frozenset({OrderStatus.ALLOCATING, OrderStatus.CANCELLED}),
    OrderStatus.ALLOCATING: frozenset(
        {OrderStatus.BACKORDERED, OrderStatus.PAYMENT_PENDING, OrderStatus.CANCELLED}
    ),
    OrderStatus.BACKORDERED: frozenset({OrderStatus.ALLOCATING, OrderStatus.CANCELLED}),
    OrderStatus.PAYMENT_PENDING: frozenset({OrderStatus.FULFILLING, OrderStatus.CANCELLED}),
    # Every parcel refunded: the order closes from fulfilling (nothing is left to deliver).
    OrderStatus.FULFILLING: (_BY_PARCELS - {OrderStatus.FULFILLING})
    | {OrderStatus.CLOSED, OrderStatus.CANCELLED},
    # Cancelled after hand-over only by a workflow cancellation (the API refuses to).
    OrderStatus.PARTIALLY_SHIPPED: (_BY_PARCELS - {OrderStatus.PARTIALLY_SHIPPED}) | {OrderStatus.CANCELLED},
    OrderStatus.SHIPPED: (_BY_PARCELS - {OrderStatus.SHIPPED}) | {OrderStatus.CANCELLED},
    OrderStatus.PARTIALLY_DELIVERED: (_BY_PARCELS - {OrderStatus.PARTIALLY_DELIVERED})
    | {OrderStatus.CANCELLED},
    OrderStatus.DELIVERED: (_BY_PARCELS - {OrderStatus.DELIVERED})
    | {OrderStatus.RETURNING, OrderStatus.CLOSED, OrderStatus.CANCELLED},
    # Closed from returning when the return window ends in the same moment a return finishes.
    OrderStatus.RETURNING: frozenset({OrderStatus.DELIVERED, OrderStatus.CLOSED, OrderStatus.CANCELLED}),
    OrderStatus.CLOSED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

# A parcel can be cancelled until the carrier has it; carrier news never moves it backwards
# (SHIPMENT_PROGRESS), but an exception is left by any later news, and a refused label (exception
# before hand-over) goes back to packed when ops retry or reroute it.
_CARRIER_ENDS = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED_TO_SENDER})
SHIPMENT_MOVES: Mapping[ShipmentStatus, frozenset[ShipmentStatus]] = {
    ShipmentStatus.PENDING: frozenset({ShipmentStatus.PICKING, ShipmentStatus.CANCELLED}),
    ShipmentStatus.PICKING: frozenset({ShipmentStatus.PACKED, ShipmentStatus.CANCELLED}),
    ShipmentStatus.PACKED: frozenset(
        {ShipmentStatus.LABEL_CREATED, ShipmentStatus.EXCEPTION, ShipmentStatus.CANCELLED}
    ),
    ShipmentStatus.LABEL_CREATED: frozenset(
        {
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ShipmentStatus.EXCEPTION,
            ShipmentStatus.CANCELLED,
        }
    )
    | _CARRIER_ENDS,
    ShipmentStatus.IN_TRANSIT: frozenset({ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.EXCEPTION})
    | _CARRIER_ENDS,
    ShipmentStatus.OUT_FOR_DELIVERY: frozenset({ShipmentStatus.EXCEPTION}) | _CARRIER_ENDS,
    ShipmentStatus.EXCEPTION: frozenset(
        {
            ShipmentStatus.PACKED,
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ShipmentStatus.CANCELLED,
        }
    )
    | _CARRIER_ENDS,
    ShipmentStatus.DELIVERED: frozenset(),
    ShipmentStatus.RETURNED_TO_SENDER: frozenset(),
    ShipmentStatus.CANCELLED: frozenset(),
}

# Inspected is where ReturnWorkflow ends; the order then refunds it (an exchange stays inspected).
RETURN_MOVES: Mapping[ReturnStatus, frozenset[ReturnStatus]] = {
    ReturnStatus.REQUESTED: frozenset({ReturnStatus.APPROVED, ReturnStatus.REJECTED}),
    # Approved or in transit and never received by its expiry, a return ends rejected ("expired").
    ReturnStatus.APPROVED: frozenset({ReturnStatus.IN_TRANSIT, ReturnStatus.REJECTED}),
    ReturnStatus.IN_TRANSIT: frozenset({ReturnStatus.RECEIVED, ReturnStatus.REJECTED}),
    ReturnStatus.RECEIVED: frozenset({ReturnStatus.INSPECTED}),
    ReturnStatus.INSPECTED: frozenset({ReturnStatus.REFUNDED}),
    ReturnStatus.REFUNDED: frozenset(),
    ReturnStatus.REJECTED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A status move its table does not allow. Deliberately not an ApplicationError: raised in a
    workflow it fails the workflow task (retried, shown in the UI) instead of the workflow."""


def check_move(moves: Mapping[S, frozenset[S]], current: S, new: S, what: str) -> None:
    """Raise IllegalTransition unless `current -> new` is in `moves` (staying put is no move)."""
    if new is not current and new not in moves[current]:
        allowed = ", ".join(sorted(s.value for s in moves[current])) or "none"
        raise IllegalTransition(f"{what}: {current.value} -> {new.value} is not allowed (allowed: {allowed})")


# How far along a parcel is; tracking events never move a parcel backwards.
SHIPMENT_PROGRESS: dict[ShipmentStatus, int] = {
    ShipmentStatus.PENDING: 0,
    ShipmentStatus.PICKING: 1,
    ShipmentStatus.PACKED: 2,
    ShipmentStatus.LABEL_CREATED: 3,
    ShipmentStatus.IN_TRANSIT: 4,
    ShipmentStatus.EXCEPTION: 4,
    ShipmentStatus.OUT_FOR_DELIVERY: 5,
    ShipmentStatus.DELIVERED: 6,
    ShipmentStatus.RETURNED_TO_SENDER: 6,
    ShipmentStatus.CANCELLED: 7,
}
