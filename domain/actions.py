"""Which ops actions an order takes now, and which parcel an action aimed at parcels applies to.

Pure: the order as it stands, what the run loop waits for, whether compensations have begun.
The workflow's ops_action validator refuses anything not listed here, and the order's
`available_actions` (shown to ops) is this list.
"""

from domain.enums import OpsActionKind, ShipmentStatus
from domain.lifecycle import cancel_refusal
from domain.models import OrderView, ShipmentView
from domain.resolution import refundable, undeliverable

# Actions aimed at one parcel: forwarded to the parcel that needs them.
PARCEL_ACTIONS = (OpsActionKind.RETRY, OpsActionKind.REROUTE, OpsActionKind.SKIP)


def parcel_for(order: OrderView, kind: OpsActionKind, shipment_id: object = None) -> ShipmentView | None:
    """The first parcel (or the one named) that waits on ops for `kind`, or None.

    Only a parcel with an attention reason that the carrier does not have yet waits: a pick past
    its SLA takes skip (ops confirm the pick), a refused label takes retry or reroute, a parked
    step takes retry."""
    for parcel in order.shipments:
        if shipment_id is not None and parcel.shipment_id != shipment_id:
            continue
        if parcel.attention_reason is None or parcel.handed_over:
            continue
        if kind is OpsActionKind.SKIP and parcel.status is ShipmentStatus.PICKING:
            return parcel
        if kind in (OpsActionKind.RETRY, OpsActionKind.REROUTE) and parcel.status is ShipmentStatus.EXCEPTION:
            return parcel
        if kind is OpsActionKind.RETRY and "parked" in (parcel.attention_reason or ""):
            return parcel
    return None


def available_actions(
    order: OrderView, awaiting: frozenset[OpsActionKind], *, compensating: bool
) -> list[OpsActionKind]:
    """What ops may do to the order now, in OpsActionKind's order: nothing once it is over or
    being cancelled; else a note, what the run loop waits for (`awaiting`), cancel while it is
    still allowed, the parcel actions some parcel waits for, and approve/reject while a return
    waits for a decision."""
    if order.status.terminal or compensating:
        return []
    actions = {OpsActionKind.NOTE} | set(awaiting)
    if cancel_refusal(order) is None:
        actions.add(OpsActionKind.CANCEL)
    for kind in PARCEL_ACTIONS:
        if parcel_for(order, kind) is not None:
            actions.add(kind)
    if any(r.awaiting_approval for r in order.returns):
        actions |= {OpsActionKind.APPROVE, OpsActionKind.REJECT}
    # Resolving by hand: a refund while something captured is left, a reship for a parcel that
    # will not arrive and was not resolved (domain/resolution.py).
    if refundable(order) > 0:
        actions.add(OpsActionKind.REFUND)
    if any(undeliverable(parcel) for parcel in order.shipments):
        actions.add(OpsActionKind.RESHIP)
    return sorted(actions, key=list(OpsActionKind).index)
