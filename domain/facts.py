"""Whether a fact from outside (a pick confirmation, a carrier's tracking event) can still apply
to a parcel. One that cannot is refused (409), never accepted and dropped (a 202 that changes
nothing is a defect); one that repeats what the parcel already knows is accepted again (202,
idempotent: a webhook retried after a lost answer).

Read against the projection, which may trail the workflow by a moment: a fact that arrives in
that moment is accepted and the parcel, which never moves backwards, ignores it.
"""

from domain.enums import OrderStatus, ShipmentStatus, TrackingStatus
from domain.lifecycle import SHIPMENT_PROGRESS
from domain.models import ReceivedLine, ShipmentView

TRACKING_TO_SHIPMENT: dict[TrackingStatus, ShipmentStatus] = {
    TrackingStatus.IN_TRANSIT: ShipmentStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY: ShipmentStatus.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED: ShipmentStatus.DELIVERED,
    TrackingStatus.EXCEPTION: ShipmentStatus.EXCEPTION,
    TrackingStatus.RETURNED_TO_SENDER: ShipmentStatus.RETURNED_TO_SENDER,
}
_ENDED = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED_TO_SENDER)


def pick_refusal(shipment: ShipmentView, order_status: OrderStatus | None) -> str | None:
    """Why a pick confirmation can no longer apply, or None. A parcel takes one pick: once it
    has left picking, a second confirmation (a repeat included) is refused, so that the warehouse
    learns the parcel is already picked instead of believing its report did something."""
    if order_status is not None and order_status.terminal:
        return f"the order is {order_status.value}"
    if shipment.status is ShipmentStatus.CANCELLED:
        return f"shipment {shipment.shipment_id} was cancelled"
    if SHIPMENT_PROGRESS[shipment.status] > SHIPMENT_PROGRESS[ShipmentStatus.PICKING]:
        return f"shipment {shipment.shipment_id} is already picked ({shipment.status.value})"
    return None


def tracking_refusal(shipment: ShipmentView, status: TrackingStatus, detail: str | None = None) -> str | None:
    """Why a carrier event with `status` (and `detail`, an exception's issue) can no longer apply
    to the parcel, or None.

    - a cancelled parcel takes no carrier news;
    - a parcel that has ended (delivered, returned to sender, lost or damaged) takes only a
      repeat of its end (idempotent), anything else would move it backwards or past its end. A
      lost or damaged parcel's end is that exception with that issue: another exception (a failed
      attempt, a delay, the other issue) reaches a parcel that no longer travels;
    - a parcel on its way never moves backwards: an event behind what it knows is refused, the
      same status again is a repeat; exceptions apply at any point of the journey."""
    current = shipment.status
    new = TRACKING_TO_SHIPMENT[status]
    if current is ShipmentStatus.CANCELLED:
        return f"shipment {shipment.shipment_id} was cancelled"
    if current in _ENDED or shipment.delivery_issue is not None:
        ended_by_issue = shipment.delivery_issue is not None and current is ShipmentStatus.EXCEPTION
        if new is current and (not ended_by_issue or detail == shipment.delivery_issue):
            return None
        what = f"{status.value}/{detail}" if detail else status.value
        end = shipment.delivery_issue if ended_by_issue else current.value
        return f"shipment {shipment.shipment_id} is {end}: {what} cannot apply any more"
    if new is current or new is ShipmentStatus.EXCEPTION or current is ShipmentStatus.EXCEPTION:
        return None
    if SHIPMENT_PROGRESS[new] < SHIPMENT_PROGRESS[current]:
        return f"shipment {shipment.shipment_id} is {current.value}: it never moves back to {status.value}"
    return None


def _units(lines: list[ReceivedLine]) -> dict[tuple[str, str], int]:
    units: dict[tuple[str, str], int] = {}
    for line in lines:
        key = (line.sku, line.condition.value)
        units[key] = units.get(key, 0) + line.quantity
    return units


def parcel_back_refusal(shipment: ShipmentView | None, lines: list[ReceivedLine]) -> str | None:
    """Why a receipt of a returned parcel cannot apply, or None. Only a parcel returned to sender
    comes back; it comes back once (the same receipt again is a repeat, another one is refused),
    and with no more of a SKU than it carried."""
    if shipment is None:
        return "no such parcel on this order"
    if shipment.status is not ShipmentStatus.RETURNED_TO_SENDER:
        return f"shipment {shipment.shipment_id} is {shipment.status.value}, not returned_to_sender"
    if shipment.received_back:
        if _units(shipment.received_back) == _units(lines):
            return None
        return f"shipment {shipment.shipment_id} was already received back with other lines"
    carried: dict[str, int] = {}
    for parcel_line in shipment.lines:
        carried[parcel_line.sku] = carried.get(parcel_line.sku, 0) + parcel_line.quantity
    back: dict[str, int] = {}
    for line in lines:
        back[line.sku] = back.get(line.sku, 0) + line.quantity
    for sku, quantity in back.items():
        if quantity > carried.get(sku, 0):
            return f"shipment {shipment.shipment_id} carried {carried.get(sku, 0)} of {sku}, not {quantity}"
    return None


def parcel_back_lines(lines: list[ReceivedLine]) -> list[ReceivedLine]:
    """The receipt's lines, one per (sku, condition): each is one idempotent stock step."""
    return [
        ReceivedLine.model_validate({"sku": sku, "quantity": quantity, "condition": condition})
        for (sku, condition), quantity in sorted(_units(lines).items())
    ]
