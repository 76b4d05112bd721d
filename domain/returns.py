"""Return policy (R10): what may be returned, what is approved without a person, what is refunded.

Pure: delivered lines, earlier returns and a request in; a decision out.
"""

from collections import Counter
from decimal import Decimal

from domain.enums import ItemCondition, ReturnReason, ReturnResolution, ReturnStatus, ShipmentStatus
from domain.models import Address, LineRefund, OrderView, ParcelLine, ReceivedLine, ReturnLine, ReturnView
from domain.refunds import paid_for, share_of

# Returns worth more than this, or beyond this many on one order, wait for an ops decision.
AUTO_APPROVE_UP_TO = Decimal("2000.00")
AUTO_APPROVE_RETURNS_PER_ORDER = 2


def returnable(order: OrderView) -> Counter[str]:
    """Units per SKU that were delivered and are not already in a (non-rejected) return. A claim's
    return (resolution `claim`) holds its units even once rejected (expired): the claim already
    made them good, so they are not returned again for a refund."""
    delivered: Counter[str] = Counter()
    for shipment in order.shipments:
        if shipment.status is ShipmentStatus.DELIVERED:
            for line in shipment.lines:
                delivered[line.sku] += line.quantity
    for earlier in order.returns:
        if earlier.status is not ReturnStatus.REJECTED or earlier.resolution is ReturnResolution.CLAIM:
            for line in earlier.lines:
                delivered[line.sku] -= line.quantity
    return delivered


def return_problems(order: OrderView, lines: list[ParcelLine]) -> list[str]:
    if not lines:
        return ["a return needs at least one line"]
    available = returnable(order)
    problems = []
    for line in lines:
        if line.quantity < 1:
            problems.append(f"{line.sku}: quantity must be at least 1")
        elif available[line.sku] < line.quantity:
            problems.append(f"{line.sku}: {available[line.sku]} delivered unit(s) can still be returned")
    return problems


def return_lines(order: OrderView, lines: list[ParcelLine]) -> list[ReturnLine]:
    """Price each returned line as sold (`paid`: what the customer paid for those units, after
    discounts), and send it back to the warehouse it shipped from."""
    prices = {line.sku: line.unit_price for line in order.lines}
    origin = shipped_from(order)
    return [
        ReturnLine(
            sku=line.sku,
            quantity=line.quantity,
            unit_price=prices[line.sku],
            warehouse=origin[line.sku],
            paid=paid_for(order.lines, order.line_prices, line.sku, line.quantity) if order.line_prices else None,
        )
        for line in lines
    ]


def shipped_from(order: OrderView) -> dict[str, str]:
    """The warehouse each delivered SKU of the order shipped from: where a return of it goes."""
    return {
        line.sku: shipment.warehouse
        for shipment in order.shipments
        if shipment.status is ShipmentStatus.DELIVERED
        for line in shipment.lines
    }


def dock_warehouse(order: OrderView, view: ReturnView) -> str | None:
    """The warehouse whose returns dock a return's label is addressed to: the one its first line
    shipped from (ReturnWorkflow._return_label), or None when no delivered parcel carried it."""
    if not view.lines:
        return None
    return shipped_from(order).get(view.lines[0].sku)


def line_value(line: ReturnLine) -> Decimal:
    """What the returned units cost the customer."""
    return line.paid if line.paid is not None else line.unit_price * line.quantity


def auto_approves(lines: list[ReturnLine], reason: ReturnReason, earlier_returns: int) -> bool:
    value = sum((line_value(line) for line in lines), Decimal(0))
    return (
        value <= AUTO_APPROVE_UP_TO
        and reason is not ReturnReason.OTHER
        and earlier_returns < AUTO_APPROVE_RETURNS_PER_ORDER
    )


def refund_due(lines: list[ReturnLine], received: list[ReceivedLine], reason: ReturnReason) -> Decimal:
    """Units received are refunded at the price paid (a discounted line's `paid`, pro rata, never
    more than it). A unit that arrives damaged is refunded only when the damage is ours (the reason
    is our fault); otherwise the customer broke it."""
    return sum((line.amount for line in refund_due_lines(lines, received, reason)), Decimal("0.00")).quantize(
        Decimal("0.01")
    )


def refund_due_lines(lines: list[ReturnLine], received: list[ReceivedLine], reason: ReturnReason) -> list[LineRefund]:
    """`refund_due` per SKU: the units refunded and what they are refunded (they add up to it)."""
    by_sku = {line.sku: line for line in lines}
    refunded: dict[str, int] = {}  # units of each SKU refunded so far, so the shares add up
    due: dict[str, LineRefund] = {}
    for line in received:
        asked = by_sku.get(line.sku)
        if asked is None:
            continue
        if not (line.condition is ItemCondition.RESELLABLE or reason.our_fault):
            continue
        before = refunded.get(line.sku, 0)
        if asked.paid is None:  # as before issue 17, so returns under way refund what they did
            units = min(line.quantity, asked.quantity)
            amount = asked.unit_price * units
        else:
            units = min(line.quantity, asked.quantity - before)
            if units <= 0:
                continue
            amount = share_of(asked.paid, asked.quantity, before + units) - share_of(asked.paid, asked.quantity, before)
        refunded[line.sku] = before + units
        known = due.setdefault(line.sku, LineRefund(sku=line.sku))
        known.quantity += units
        known.amount += amount
    return list(due.values())


# Where returns are received: one returns dock per warehouse region (province code, postal code).
_RETURNS_DOCK = {
    "east": ("ZJ", "Hangzhou", "310000"),
    "west": ("SC", "Chengdu", "610000"),
    "north": ("BJ", "Beijing", "100000"),
    "south": ("GD", "Guangzhou", "510000"),
}


def returns_dock(warehouse: str, region: str) -> Address:
    province, city, postal_code = _RETURNS_DOCK.get(region, _RETURNS_DOCK["east"])
    return Address(
        name=f"{warehouse} returns",
        line1="Returns dock",
        city=city,
        region=province,
        postal_code=postal_code,
        country="CN",
    )
