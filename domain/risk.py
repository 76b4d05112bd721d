"""Verification risk rules (R2): which orders a person should look at before we take money.

Pure: the order, its totals, the policy and the customer's recent order count in; reasons out.
An order with any reason is held (`on_hold`) until ops approve or reject it, or the hold times out.
"""

from domain.enums import HoldReason
from domain.models import OrderRequest, RiskPolicy, Totals

_REASON_TEXT = {
    HoldReason.HIGH_VALUE: "order total above the review threshold",
    HoldReason.VELOCITY: "many orders from this customer in a short time",
    HoldReason.BLOCKLISTED_CONTACT: "e-mail or phone on the blocklist",
    HoldReason.ADDRESS_INCOMPLETE: "no phone number for the courier to call",
}


def hold_reasons(
    request: OrderRequest, totals: Totals, policy: RiskPolicy, recent_orders: int
) -> list[HoldReason]:
    reasons: list[HoldReason] = []
    if totals.grand_total > policy.hold_above:
        reasons.append(HoldReason.HIGH_VALUE)
    if recent_orders >= policy.velocity_limit:
        reasons.append(HoldReason.VELOCITY)
    contacts = {request.customer.email.lower()}
    for phone in (request.customer.phone, request.shipping_address.phone):
        if phone:
            contacts.add(_digits(phone))
    blocked = {entry.lower() if "@" in entry else _digits(entry) for entry in policy.blocklist}
    if contacts & blocked:
        reasons.append(HoldReason.BLOCKLISTED_CONTACT)
    if not (request.shipping_address.phone or request.customer.phone):
        reasons.append(HoldReason.ADDRESS_INCOMPLETE)
    return reasons


def describe(reasons: list[HoldReason]) -> str:
    return "; ".join(_REASON_TEXT[reason] for reason in reasons)


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())
