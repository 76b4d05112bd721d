"""Customer claims about a parcel (API.md "Customer claims"). Pure.

A claim is about a parcel the carrier has (handed over): not received, damaged, items missing,
the wrong item. One claim at a time per parcel. While a claim is open the order needs attention
and cannot close; ops answer it with a reship or a refund (params.claim_id) or reject it. A wrong
item, once made good (the right one reshipped, or refunded), is taken back by a return the order
opens itself (resolution `claim`: no refund, no exchange on receipt).
"""

from domain.enums import ClaimKind, ClaimStatus, ShipmentStatus
from domain.models import ClaimRequest, ClaimView, OrderView, ParcelLine
from domain.returns import returnable


def open_claims(order: OrderView) -> list[ClaimView]:
    return [claim for claim in order.claims if claim.status is ClaimStatus.OPEN]


def open_claim(order: OrderView, claim_id: object) -> ClaimView | None:
    return next((c for c in open_claims(order) if c.claim_id == claim_id), None)


def claim_on(order: OrderView, shipment_id: str) -> ClaimView | None:
    """The open claim about the parcel, if any."""
    return next((c for c in open_claims(order) if c.shipment_id == shipment_id), None)


def claim_refusal(order: OrderView, request: ClaimRequest) -> str | None:
    """Why the claim cannot be filed now (a 409), or None."""
    if order.status.terminal:
        return f"the order is {order.status.value}"
    parcel = next((s for s in order.shipments if s.shipment_id == request.shipment_id), None)
    if parcel is None:
        return f"the order has no parcel {request.shipment_id}"
    if not parcel.handed_over:
        return f"parcel {parcel.shipment_id} is not in the carrier's hands yet ({parcel.status.value})"
    if parcel.outcome is not None:
        return f"parcel {parcel.shipment_id} was already resolved ({parcel.outcome})"
    existing = claim_on(order, parcel.shipment_id)
    if existing is not None:
        return f"claim {existing.claim_id} is already open for parcel {parcel.shipment_id}"
    held = {line.sku: line.quantity for line in parcel.lines}
    for line in request.lines:
        if line.quantity > held.get(line.sku, 0):
            return f"parcel {parcel.shipment_id} holds {held.get(line.sku, 0)} of {line.sku}, not {line.quantity}"
    return None


def claim_too_early(order: OrderView, request: ClaimRequest) -> str | None:
    """A wrong item is known only once the parcel is delivered: before that, why not (a 409).
    Checked by the file_claim update's validator only, so that claims accepted before this rule
    still replay."""
    if request.kind is not ClaimKind.WRONG_ITEM:
        return None
    parcel = next((s for s in order.shipments if s.shipment_id == request.shipment_id), None)
    if parcel is not None and parcel.status is not ShipmentStatus.DELIVERED:
        return f"parcel {parcel.shipment_id} is not delivered yet ({parcel.status.value}): no wrong item to claim"
    return None


def claim_return_lines(order: OrderView, claim: ClaimView) -> list[ParcelLine]:
    """What the return of a wrong item takes back: the claim's lines, less what is already in a
    return (the customer may have opened one). Empty: nothing left to take back."""
    available = returnable(order)
    lines = []
    for line in claim.lines:
        units = min(line.quantity, available[line.sku])
        if units > 0:
            available[line.sku] -= units
            lines.append(ParcelLine(sku=line.sku, quantity=units))
    return lines


def claim_lines(order: OrderView, request: ClaimRequest) -> list[ParcelLine]:
    """The claim's lines: as asked, or all of the parcel's."""
    if request.lines:
        return request.lines
    parcel = next(s for s in order.shipments if s.shipment_id == request.shipment_id)
    return list(parcel.lines)
