"""How news from the order's parcels and returns merges into the order. Pure.

A parcel (ShipmentWorkflow) and a return (ReturnWorkflow) send their view with a version bumped
on every change; signals and results may arrive late or twice, so a view replaces the order's
copy only when it is newer. What the news means for the order (its status, its attention) is
decided here too.
"""

from collections.abc import Callable
from typing import TypeVar

from domain.enums import OrderStatus, ShipmentStatus
from domain.lifecycle import FULFILMENT_STATUSES, fulfilment_status
from domain.models import OrderView, ReturnView, ShipmentView

View = TypeVar("View", ShipmentView, ReturnView)


def _merge_newer(known: list[View], view: View, same: Callable[[View], bool]) -> bool:
    """Put `view` in `known` in place of the one it is `same` as (appended if new); False when it
    is no newer than what is known (late or repeated news), which changes nothing."""
    for index, current in enumerate(known):
        if same(current):
            if view.version <= current.version:
                return False
            known[index] = view
            return True
    known.append(view)
    return True


def merge_shipment(order: OrderView, shipment: ShipmentView) -> bool:
    """Put the parcel's view into the order (replacing an older one, or appended if new); False
    when it is late or repeated news, which changes nothing. What the order decided about the
    parcel (its outcome, the units received back) is the order's own and survives the parcel's
    later news: a parcel reshipped while the carrier still has it keeps reporting."""
    for known in order.shipments:
        if known.shipment_id == shipment.shipment_id and known.version < shipment.version:
            shipment = shipment.model_copy(
                update={
                    "outcome": shipment.outcome or known.outcome,
                    "received_back": shipment.received_back or known.received_back,
                }
            )
    return _merge_newer(order.shipments, shipment, lambda known: known.shipment_id == shipment.shipment_id)


def parcel_trouble(order: OrderView, shipment: ShipmentView) -> str | None:
    """Why the parcel needs a person, or None. A failed delivery attempt is the carrier's to
    retry; a parcel back at the sender, or one with a reason of its own (SLA, parked step, refused
    label), needs a person, until the order has resolved it (an outcome: reshipped, refunded)."""
    resolved = shipment.outcome is not None or any(
        s.shipment_id == shipment.shipment_id and s.outcome is not None for s in order.shipments
    )
    troubled = bool(shipment.attention_reason) or shipment.status is ShipmentStatus.RETURNED_TO_SENDER
    if troubled and not resolved:
        return f"parcel {shipment.shipment_id}: {shipment.attention_reason or shipment.last_event}"
    return None


def status_after_parcel_news(order: OrderView) -> OrderStatus:
    """While the order is being fulfilled, its status follows from its parcels; before (never
    reached) or after (returning, closed, cancelled) parcels' news leaves it as it is."""
    if order.status in FULFILMENT_STATUSES:
        return fulfilment_status(order.shipments)
    return order.status


def merge_return(order: OrderView, view: ReturnView) -> bool:
    """Put the return's view into the order; False when it is late or repeated news."""
    return _merge_newer(order.returns, view, lambda known: known.rma_id == view.rma_id)


def return_trouble(view: ReturnView) -> str | None:
    """A return the policy left to ops needs a person until they decide; so does one with a
    reason of its own (a step parked out of retries, the receipt past its SLA)."""
    if view.awaiting_approval:
        return f"return {view.rma_id} waits for approval"
    if view.attention_reason:
        return f"return {view.rma_id}: {view.attention_reason}"
    return None
