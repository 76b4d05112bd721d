"""How much the order refunds, and what the payment then says (R8, R10).

Pure: amounts and totals in, amounts and a payment status out. The workflow calls the gateway
with what these return.
"""

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

from domain.enums import PaymentStatus
from domain.models import LinePrice, OrderLine, ParcelLine, ReturnView, Totals

ZERO = Decimal("0.00")


def refund_cap(amount: Decimal, totals: Totals, captured: Decimal | None = None) -> Decimal:
    """What may be refunded of `amount`: never more than is left of the capture (0.00 when nothing
    is left). Parcels and returns refund in parts; together they never pass the grand total, or
    `captured` when only part of it was captured (cash on delivery, domain/cod.py)."""
    paid = totals.grand_total if captured is None else captured
    capped = min(amount, paid - totals.refunded)
    return capped if capped > 0 else ZERO


def payment_after_refund(totals: Totals, captured: Decimal | None = None) -> PaymentStatus:
    """The payment's status once `totals.refunded` has been paid back (of `captured`, when only
    part of the grand total was captured)."""
    paid = totals.grand_total if captured is None else captured
    return PaymentStatus.REFUNDED if totals.refunded >= paid else PaymentStatus.PARTIALLY_REFUNDED


def unit_price(lines: Sequence[OrderLine], sku: str) -> Decimal:
    """The price the order sold `sku` at."""
    return next(line.unit_price for line in lines if line.sku == sku)


def priced(order_lines: list[OrderLine], lines: list[ParcelLine]) -> list[OrderLine]:
    """Parcel lines (a replacement, an exchange) priced as the order sold them."""
    return [
        OrderLine(sku=line.sku, quantity=line.quantity, unit_price=unit_price(order_lines, line.sku))
        for line in lines
    ]


def value_of(lines: list[OrderLine]) -> Decimal:
    return sum((line.unit_price * line.quantity for line in lines), ZERO)


def share_of(paid: Decimal, quantity: int, units: int) -> Decimal:
    """What `units` of a line of `quantity` units that cost `paid` in all are worth: pro rata,
    rounded down to the cent, all of `paid` for all units. Rounded down, so refunds of a line in
    parts never add up to more than was paid for it; never more than `paid`."""
    if units >= quantity:
        return paid
    if units <= 0 or quantity <= 0:
        return ZERO
    return (paid * units / quantity).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def paid_for(
    order_lines: Sequence[OrderLine], line_prices: Sequence[LinePrice], sku: str, units: int
) -> Decimal:
    """What the customer paid for `units` of `sku`: their share of the line's `paid`
    (domain.pricing.price_order), or the unit price for an order priced before issue 17 (no
    line prices). Never the list price of a discounted line, never more than the line's paid."""
    for line in line_prices:
        if line.sku == sku:
            return share_of(line.paid, line.quantity, units)
    return unit_price(order_lines, sku) * units


def parcel_refund(
    order_lines: Sequence[OrderLine], parcel_lines: Sequence[ParcelLine], line_prices: Sequence[LinePrice] = ()
) -> Decimal:
    """A parcel that will not arrive is refunded at what was paid for its lines (paid_for)."""
    return sum((paid_for(order_lines, line_prices, line.sku, line.quantity) for line in parcel_lines), ZERO)


def return_refund(view: ReturnView, shipping: Decimal, shipping_refunded: bool) -> tuple[Decimal, bool]:
    """What an inspected return is refunded before the cap, and whether shipping has then been
    refunded: when the return is our fault the shipping the customer paid comes back too, once
    per order."""
    amount = view.refund_due
    if view.reason is not None and view.reason.our_fault and not shipping_refunded:
        return amount + shipping, True
    return amount, shipping_refunded
