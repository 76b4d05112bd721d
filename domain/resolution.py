"""Resolving what went wrong by hand (the ops actions `refund` and `reship`). Pure.

What each applies to, and what its params ask for as the order stands: the workflow's ops_action
validator turns a ValueError from here into a 409 (the action does not apply), the API checks
the params' shape first (422). A parcel the carrier could not deliver (returned to the sender,
lost, damaged) and that the order has not resolved yet (no outcome) takes a reship or a refund.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from domain.claims import claim_on, open_claim, open_claims
from domain.cod import is_cod, uncollected
from domain.enums import CarrierIssue, ClaimKind, PaymentStatus, ShipmentStatus
from domain.models import Address, ClaimView, LineRefund, OrderView, ParcelLine, ShipmentView
from domain.refunds import ZERO, asked_for, cap_line_refunds, total_of


class NotApplicable(ValueError):
    """The action does not apply with these params to the order as it stands."""


_UNDELIVERABLE_ISSUES = (CarrierIssue.LOST.value, CarrierIssue.DAMAGED.value)


def undeliverable(parcel: ShipmentView) -> bool:
    """The parcel will not reach the customer as sent, and nothing was done about it yet."""
    if parcel.outcome is not None or parcel.status is ShipmentStatus.CANCELLED:
        return False
    return (
        parcel.status is ShipmentStatus.RETURNED_TO_SENDER or parcel.delivery_issue in _UNDELIVERABLE_ISSUES
    )


def refundable(order: OrderView) -> Decimal:
    """What is captured and not yet refunded (0.00 before capture, after a void). Cash on delivery
    captures parcel by parcel: what its deliveries captured (domain/cod.py)."""
    if order.payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
        return ZERO
    paid = order.payment.captured if is_cod(order) else order.totals.grand_total
    left = paid - order.totals.refunded
    return left if left > 0 else ZERO


def stalled(parcel: ShipmentView) -> bool:
    """The carrier has the parcel and has gone quiet past its SLA (the parcel waits on a person):
    nothing was done about it yet."""
    return (
        parcel.handed_over
        and parcel.outcome is None
        and parcel.status not in (ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED)
        and parcel.attention_reason is not None
    )


def resolving_itself(parcel: ShipmentView) -> bool:
    """The carrier reported the parcel lost or damaged and the order has not settled it yet: the
    order sends it again, or refunds it when there is no stock (workflows/order/fulfilment.py), by
    itself. An ops refund or reship of it now would resolve it twice (make fuzz, seed 20261201,
    order 633: a reship by the order and a refund by ops, the ledger refunding more than the order
    says)."""
    return undeliverable(parcel) and parcel.delivery_issue in _UNDELIVERABLE_ISSUES


def named_parcel(order: OrderView, params: dict[str, Any]) -> str | None:
    """The parcel a refund or reship names: params.shipment_id, or the parcel of the open claim
    params.claim_id; None when it names neither."""
    shipment_id = params.get("shipment_id")
    if shipment_id is None and params.get("claim_id") is not None:
        claim = open_claim(order, params["claim_id"])
        shipment_id = claim.shipment_id if claim is not None else None
    return shipment_id if isinstance(shipment_id, str) else None


def check_not_resolving_itself(order: OrderView, params: dict[str, Any]) -> None:
    """A refund or reship naming a parcel (`named_parcel`) that the order is resolving by itself
    does not apply: after it, it is resolved. The ops validator asks it first, so that its refusal
    says why (validators do not run on replay)."""
    shipment_id = named_parcel(order, params)
    for parcel in order.shipments:
        if parcel.shipment_id == shipment_id and resolving_itself(parcel):
            raise NotApplicable(
                f"the order is resolving parcel {shipment_id} itself (the carrier reported it "
                f"{parcel.delivery_issue}: it is sent again, or refunded when there is no stock)"
            )


def resolvable(parcel: ShipmentView) -> bool:
    """A parcel ops may settle with `reship` or `refund` (params.shipment_id): it will not arrive
    as sent (undeliverable), or the carrier went quiet on it past its SLA (stalled)."""
    return undeliverable(parcel) or stalled(parcel)


def voidable(order: OrderView) -> bool:
    """Cash on delivery: a parcel not delivered that a refund would resolve (returned to sender,
    lost, damaged, stalled with the carrier, or under a not_received claim): the refund voids its
    share instead. Without it a cod order whose carrier went silent would wait with only `note`:
    nothing is captured to refund, and the parcel is not undeliverable."""
    if not is_cod(order):
        return False
    if any(resolvable(parcel) for parcel in order.shipments):
        return True
    return any(uncollected(order, _claimed_parcel(order, claim)) for claim in open_claims(order))


def _claimed_parcel(order: OrderView, claim: ClaimView | None) -> ShipmentView | None:
    """The parcel a not_received claim is about, when it was not delivered."""
    if claim is None or claim.kind is not ClaimKind.NOT_RECEIVED:
        return None
    for parcel in order.shipments:
        if parcel.shipment_id == claim.shipment_id and parcel.outcome is None:
            return parcel if parcel.status is not ShipmentStatus.DELIVERED else None
    return None


def voided_parcel(order: OrderView, params: dict[str, Any]) -> ShipmentView | None:
    """Cash on delivery: the undelivered parcel whose share a refund with these params voids
    (params.shipment_id, or the parcel of a not_received claim); None otherwise."""
    if not is_cod(order):
        return None
    parcel = None
    if params.get("shipment_id") is not None:
        parcel = _parcel(order, params["shipment_id"])
    elif params.get("claim_id") is not None:
        parcel = _claimed_parcel(order, open_claim(order, params["claim_id"]))
    return parcel if uncollected(order, parcel) else None


def _parcel(order: OrderView, shipment_id: object) -> ShipmentView:
    for parcel in order.shipments:
        if parcel.shipment_id == shipment_id:
            return parcel
    raise NotApplicable(f"the order has no parcel {shipment_id}")


def _lines(raw: object, allowed: dict[str, int], what: str) -> list[ParcelLine]:
    """`[{"sku", "quantity"}]` within `allowed` (sku -> most units)."""
    if not isinstance(raw, list) or not raw:
        raise NotApplicable("params.lines must be a non-empty list of {sku, quantity}")
    wanted: dict[str, int] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise NotApplicable("params.lines must be a non-empty list of {sku, quantity}")
        sku, quantity = item.get("sku"), item.get("quantity")
        if (
            not isinstance(sku, str)
            or not isinstance(quantity, int)
            or isinstance(quantity, bool)
            or quantity < 1
        ):
            raise NotApplicable("each of params.lines needs a sku and a quantity of at least 1")
        wanted[sku] = wanted.get(sku, 0) + quantity
    for sku, quantity in wanted.items():
        if quantity > allowed.get(sku, 0):
            raise NotApplicable(f"{what} holds {allowed.get(sku, 0)} of {sku}, not {quantity}")
    return [ParcelLine(sku=sku, quantity=quantity) for sku, quantity in wanted.items()]


def parse_amount(raw: object) -> Decimal:
    """A positive decimal string with at most two places."""
    if not isinstance(raw, str):
        raise NotApplicable("params.amount must be a decimal string")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise NotApplicable("params.amount must be a decimal string") from None
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise NotApplicable("params.amount must be a positive amount with at most two decimals")
    return amount.quantize(Decimal("0.01"))


def claim_named(order: OrderView, params: dict[str, Any]) -> ClaimView | None:
    """The open claim params.claim_id names (None when none is named)."""
    if params.get("claim_id") is None:
        return None
    claim = open_claim(order, params["claim_id"])
    if claim is None:
        raise NotApplicable(f"no open claim {params['claim_id']} on the order")
    return claim


def refund_request(order: OrderView, params: dict[str, Any]) -> tuple[Decimal, ShipmentView | None]:
    """How much an ops refund pays back, and the parcel it resolves (params.shipment_id, optional:
    its lines are the default amount). ValueError when it does not apply: nothing left to refund,
    more than is left, a parcel that is not resolvable (undeliverable, or stalled with the
    carrier). The update's validator asks `check_refund`, which also refuses lines of which
    nothing is left to refund."""
    amount, parcel, lines = _asked(order, params)
    if voided_parcel(order, params) is not None:
        return amount, parcel  # cash on delivery never collected for it: its share is voided
    # For lines, what the cap per line leaves of them (Payment.refund pays no more).
    to_pay = amount if lines is None else total_of(_capped(order, lines))
    left = refundable(order)
    if to_pay > left:
        raise NotApplicable(f"{to_pay} is more than is left to refund ({left} of the capture)")
    return amount, parcel


def check_refund(order: OrderView, params: dict[str, Any]) -> None:
    """An ops refund's validation: `refund_request`, and a refund for lines (params.lines alone,
    resolving no parcel and no claim) of which nothing is left to refund is refused, rather than
    paying 0.00. Only the validator asks it (validators do not run on replay)."""
    refund_request(order, params)
    lines = refund_lines(order, params)
    if lines is None or params.get("shipment_id") is not None or params.get("claim_id") is not None:
        return
    if total_of(_capped(order, lines)) <= 0:
        raise NotApplicable(
            "nothing is left to refund of those lines (refunded so far: "
            + ", ".join(f"{line.sku} {refunded_of(order, line.sku)}" for line in lines)
            + ")"
        )


def _capped(order: OrderView, lines: list[LineRefund]) -> list[LineRefund]:
    return cap_line_refunds(order.lines, order.line_prices, order.refunded_lines, lines)


def refund_lines(order: OrderView, params: dict[str, Any]) -> list[LineRefund] | None:
    """What an ops refund asks per SKU, before the cap per line (domain.refunds.cap_line_refunds):
    for params.lines, the parcel's or the claim's lines; None for an amount (a goodwill refund,
    for no line: only the capture caps it)."""
    return _asked(order, params)[2]


def refunded_of(order: OrderView, sku: str) -> Decimal:
    """What refunds for lines paid back of `sku` so far."""
    return sum((line.amount for line in order.refunded_lines if line.sku == sku), ZERO)


def _asked(
    order: OrderView, params: dict[str, Any]
) -> tuple[Decimal, ShipmentView | None, list[LineRefund] | None]:
    parcel = None
    if params.get("shipment_id") is not None:
        parcel = _parcel(order, params["shipment_id"])
        if not resolvable(parcel):
            raise NotApplicable(
                f"parcel {parcel.shipment_id} is not one to refund (it was delivered or resolved)"
            )
    lines: list[LineRefund] | None = None
    if params.get("amount") is not None:
        return parse_amount(params["amount"]), parcel, None
    if params.get("lines") is not None:
        sold = {line.sku: line.quantity for line in order.lines}
        lines = asked_for(order.lines, _lines(params["lines"], sold, "the order"), order.line_prices)
    elif parcel is not None:
        lines = asked_for(order.lines, parcel.lines, order.line_prices)
    elif (claim := claim_named(order, params)) is not None:
        lines = asked_for(order.lines, claim.lines, order.line_prices)
    else:
        raise NotApplicable("refund needs params.amount or params.lines")
    return total_of(lines), parcel, lines


def reship_request(
    order: OrderView, params: dict[str, Any]
) -> tuple[ShipmentView, list[ParcelLine], Address | None]:
    """The parcel a reship replaces, the lines it sends again (default: all of the parcel's) and
    where to (None: the order's address). ValueError when it does not apply."""
    claim = claim_named(order, params)
    parcel = _parcel(order, params.get("shipment_id") or (claim.shipment_id if claim else None))
    if claim is not None and claim.shipment_id != parcel.shipment_id:
        raise NotApplicable(f"claim {claim.claim_id} is about parcel {claim.shipment_id}")
    if not resolvable(parcel) and claim_on(order, parcel.shipment_id) is None:
        raise NotApplicable(
            f"parcel {parcel.shipment_id} is {parcel.status.value}"
            + (f" ({parcel.outcome})" if parcel.outcome else "")
            + ": only a parcel returned to the sender, lost or damaged and not yet resolved is reshipped"
        )
    lines = claim.lines if claim is not None else parcel.lines
    if params.get("lines") is not None:
        lines = _lines(params["lines"], {line.sku: line.quantity for line in parcel.lines}, "the parcel")
    address = Address.model_validate(params["address"]) if params.get("address") is not None else None
    return parcel, lines, address
