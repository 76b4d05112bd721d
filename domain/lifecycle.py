"""Rules of the order lifecycle that do not depend on Temporal: what a set of parcels means for
the order, and which commands the current state still allows (R4, R15)."""

from domain.enums import OrderStatus, ShipmentStatus
from domain.models import OrderView, ShipmentView

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
