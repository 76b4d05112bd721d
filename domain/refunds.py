"""How much the order refunds, and what the payment then says (R8, R10).

Pure: amounts and totals in, amounts and a payment status out. The workflow calls the gateway
with what these return.
"""

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

from domain.enums import PaymentStatus
from domain.models import LinePrice, LineRefund, OrderLine, ParcelLine, ReturnView, Totals

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


# --- the cap per line (issue 17.6) -------------------------------------------------------------
#
# Each refund for lines (a return, an ops refund by lines, a parcel that will not arrive, a short
# pick, an exchange refunded for want of stock) says per SKU what it asks (`asked_for`); the order
# keeps per SKU what such refunds paid (OrderView.refunded_lines). `cap_line_refunds` cuts each ask
# to what is left of what was paid for the SKU, so separate refunds never pay the same units twice;
# the capture cap (`refund_cap`) then applies to the whole refund, and `allot` says which lines
# what was paid went to. A goodwill refund (an amount alone) is for no line: only the capture caps it.


def line_paid(order_lines: Sequence[OrderLine], line_prices: Sequence[LinePrice], sku: str) -> Decimal:
    """What all units of `sku` cost the customer: its line's `paid`, or unit price x quantity for an
    order priced before issue 17 (no line prices); 0.00 for a SKU the order does not have."""
    prices = [line.paid for line in line_prices if line.sku == sku]
    if prices:
        return sum(prices, ZERO)
    return sum((line.unit_price * line.quantity for line in order_lines if line.sku == sku), ZERO)


def _units(order_lines: Sequence[OrderLine], sku: str) -> int:
    return sum(line.quantity for line in order_lines if line.sku == sku)


def asked_for(
    order_lines: Sequence[OrderLine], lines: Sequence[ParcelLine], line_prices: Sequence[LinePrice] = ()
) -> list[LineRefund]:
    """A refund of these units per SKU, at what was paid for them: each line priced as
    `parcel_refund` prices it (so the amounts add up to it exactly), merged by SKU."""
    asked: dict[str, LineRefund] = {}
    for line in lines:
        amount = paid_for(order_lines, line_prices, line.sku, line.quantity)
        known = asked.get(line.sku)
        if known is None:
            asked[line.sku] = LineRefund(sku=line.sku, quantity=line.quantity, amount=amount)
        else:
            known.quantity += line.quantity
            known.amount += amount
    return list(asked.values())


def total_of(lines: Sequence[LineRefund]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def cap_line_refunds(
    order_lines: Sequence[OrderLine],
    line_prices: Sequence[LinePrice],
    refunded: Sequence[LineRefund],
    asked: Sequence[LineRefund],
) -> list[LineRefund]:
    """Each ask cut to what is left of its SKU: what was paid for the SKU (`line_paid`) less what
    refunds for lines paid back of it already (`refunded`), never below 0.00; its units to those
    not yet refunded (never below 0, and 0 when nothing is paid). In the order asked."""
    left = {line.sku: line_paid(order_lines, line_prices, line.sku) for line in asked}
    units = {line.sku: _units(order_lines, line.sku) for line in asked}
    for line in refunded:
        if line.sku in left:
            left[line.sku] -= line.amount
            units[line.sku] -= line.quantity
    capped = []
    for line in asked:
        amount = max(ZERO, min(line.amount, left[line.sku]))
        quantity = max(0, min(line.quantity, units[line.sku])) if amount > 0 else 0
        left[line.sku] -= amount
        units[line.sku] -= quantity
        capped.append(LineRefund(sku=line.sku, quantity=quantity, amount=amount))
    return capped


def allot(amount: Decimal, lines: Sequence[LineRefund]) -> list[LineRefund]:
    """What of `amount` (what a refund paid back, after the capture cap) went to each line: the
    lines in order, each up to what it asked; what is left over was for no line (shipping)."""
    allotted = []
    for line in lines:
        share = max(ZERO, min(line.amount, amount))
        amount -= share
        allotted.append(LineRefund(sku=line.sku, quantity=line.quantity if share > 0 else 0, amount=share))
    return allotted


def add_line_refunds(refunded: Sequence[LineRefund], paid: Sequence[LineRefund]) -> list[LineRefund]:
    """`refunded` with what a refund paid for lines added, per SKU (in the order first refunded);
    a line paid nothing adds nothing."""
    merged = {line.sku: line.model_copy() for line in refunded}
    for line in paid:
        if line.amount <= 0 and line.quantity <= 0:
            continue
        known = merged.get(line.sku)
        if known is None:
            merged[line.sku] = line.model_copy()
        else:
            known.quantity += line.quantity
            known.amount += line.amount
    return list(merged.values())


def return_refund(view: ReturnView, shipping: Decimal, shipping_refunded: bool) -> tuple[Decimal, bool]:
    """What an inspected return is refunded before the cap, and whether shipping has then been
    refunded: when the return is our fault the shipping the customer paid comes back too, once
    per order."""
    amount = view.refund_due
    if view.reason is not None and view.reason.our_fault and not shipping_refunded:
        return amount + shipping, True
    return amount, shipping_refunded
