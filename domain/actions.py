"""Which ops actions an order takes now, and which parcel an action aimed at parcels applies to.

Pure: the order as it stands, what the run loop waits for, whether compensations have begun.
The workflow's ops_action validator refuses anything not listed here, and the order's
`available_actions` (shown to ops) is this list.
"""

from domain.claims import open_claims
from domain.enums import OpsActionKind, OrderStatus, ShipmentStatus
from domain.lifecycle import cancel_refusal
from domain.models import OrderView, ReturnView, ShipmentView
from domain.resolution import refundable, resolvable, resolving_itself, voidable

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


def parked_return(order: OrderView, rma_id: object = None) -> ReturnView | None:
    """The first return (or the one named) whose step is parked for ops' retry, or None."""
    for view in order.returns:
        if view.parked and (rma_id is None or view.rma_id == rma_id):
            return view
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
    if parked_return(order) is not None:
        actions.add(OpsActionKind.RETRY)
    # Resolving by hand: a refund while something captured is left, a reship for a parcel that
    # will not arrive and was not resolved, unless the order is resolving it itself (a lost or
    # damaged parcel: domain/resolution.py).
    if refundable(order) > 0 or voidable(order):  # cash on delivery: voids an undelivered parcel's share
        actions.add(OpsActionKind.REFUND)
    if any(resolvable(p) and not resolving_itself(p) for p in order.shipments) or open_claims(order):
        actions.add(OpsActionKind.RESHIP)
    if open_claims(order):
        actions.add(OpsActionKind.REJECT_CLAIM)
    actions |= hold_and_move_actions(order)
    return sorted(actions, key=list(OpsActionKind).index)


# --- ops hold, release and move (workflows/order/parcel_control.py) ---------------------------

# Before these the order is still in intake: its `hold` (if any) is verification's.
_INTAKE = (OrderStatus.RECEIVED, OrderStatus.VERIFYING, OrderStatus.ON_HOLD)
# Statuses an order may have before its parcels are known. `fulfilling` is among them because
# `available_actions` is computed at each event and `fulfilment.started` is recorded just before
# the parcels are added: all of them are pending then.
_BEFORE_PARCELS = (
    OrderStatus.ALLOCATING,
    OrderStatus.BACKORDERED,
    OrderStatus.PAYMENT_PENDING,
    OrderStatus.FULFILLING,
)
# A parcel in these has not been picked (the order hears of a parcel's pick only with its label,
# so to the order a picking parcel is still pending): it may still ship from another warehouse.
MOVABLE = (ShipmentStatus.PENDING, ShipmentStatus.PICKING)
_PARCEL_ENDS = (ShipmentStatus.CANCELLED, ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED_TO_SENDER)


def on_ops_hold(order: OrderView) -> bool:
    """Ops hold the order (`hold`); a verification hold has no `by`."""
    return order.hold is not None and order.hold.by is not None


def waiting_for_carrier(parcel: ShipmentView) -> bool:
    """The parcel is not yet in the carrier's hands (and not cancelled): a hold still stops it."""
    return not parcel.handed_over and parcel.status not in _PARCEL_ENDS


def hold_refusal(order: OrderView) -> str | None:
    """Why an ops hold cannot be placed now, or None. It can from allocation on (before fulfilment
    no parcel starts picking until release) while some parcel is not yet with the carrier."""
    if order.status.terminal:
        return f"the order is {order.status.value}"
    if order.status in _INTAKE:
        return f"the order is {order.status.value}: still in intake"
    if order.hold is not None:
        return "the order is already on hold"
    if order.shipments and not any(waiting_for_carrier(p) for p in order.shipments):
        return "every parcel is already with the carrier"
    if not order.shipments and order.status not in _BEFORE_PARCELS:
        return f"the order is {order.status.value}: nothing left to hold"
    return None


def move_refusal(order: OrderView, shipment_id: object, warehouse: object) -> str | None:
    """Why this parcel cannot move to `warehouse` (as far as the order knows), or None. Whether
    the warehouse is active and has the stock is the inventory's to say (`move_reservation`)."""
    if not isinstance(shipment_id, str) or not isinstance(warehouse, str) or not warehouse:
        return "move needs params.shipment_id and params.warehouse"
    parcel = next((p for p in order.shipments if p.shipment_id == shipment_id), None)
    if parcel is None:
        return f"the order has no parcel {shipment_id}"
    if parcel.status not in MOVABLE:
        return f"parcel {shipment_id} is {parcel.status.value}: only a parcel not yet picked moves"
    if parcel.warehouse == warehouse:
        return f"parcel {shipment_id} already ships from {warehouse}"
    # Reservations are keyed by (key, sku, warehouse): two live parcels under one key at one
    # warehouse would share their stock rows (and ship each other's units).
    if any(
        p.warehouse == warehouse and p.reservation_key == parcel.reservation_key and waiting_for_carrier(p)
        for p in order.shipments
    ):
        return f"another parcel of this order already ships from {warehouse}"
    return None


def hold_and_move_actions(order: OrderView) -> set[OpsActionKind]:
    """hold (`hold_refusal`), release (on an ops hold), move (some parcel not yet picked)."""
    actions: set[OpsActionKind] = set()
    if hold_refusal(order) is None:
        actions.add(OpsActionKind.HOLD)
    if on_ops_hold(order):
        actions.add(OpsActionKind.RELEASE)
    if any(p.status in MOVABLE for p in order.shipments) or (
        order.status is OrderStatus.FULFILLING and not order.shipments
    ):
        actions.add(OpsActionKind.MOVE)
    return actions
