"""Return policy (R10): what may be returned, what is approved without a person, what is refunded.

Pure: delivered lines, earlier returns and a request in; a decision out.
"""

from collections import Counter
from decimal import Decimal

from domain.enums import ItemCondition, ReturnReason, ReturnResolution, ReturnStatus, ShipmentStatus
from domain.models import Address, OrderView, ParcelLine, ReceivedLine, ReturnLine

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
    """Price each returned line as sold, and send it back to the warehouse it shipped from."""
    prices = {line.sku: line.unit_price for line in order.lines}
    origin = {
        line.sku: shipment.warehouse
        for shipment in order.shipments
        if shipment.status is ShipmentStatus.DELIVERED
        for line in shipment.lines
    }
    return [
        ReturnLine(
            sku=line.sku, quantity=line.quantity, unit_price=prices[line.sku], warehouse=origin[line.sku]
        )
        for line in lines
    ]


def auto_approves(lines: list[ReturnLine], reason: ReturnReason, earlier_returns: int) -> bool:
    value = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    return (
        value <= AUTO_APPROVE_UP_TO
        and reason is not ReturnReason.OTHER
        and earlier_returns < AUTO_APPROVE_RETURNS_PER_ORDER
    )


def refund_due(lines: list[ReturnLine], received: list[ReceivedLine], reason: ReturnReason) -> Decimal:
    """Units received are refunded at the price paid. A unit that arrives damaged is refunded only
    when the damage is ours (the reason is our fault); otherwise the customer broke it."""
    prices = {line.sku: line.unit_price for line in lines}
    asked = {line.sku: line.quantity for line in lines}
    total = Decimal("0.00")
    for line in received:
        units = min(line.quantity, asked.get(line.sku, 0))
        if line.condition is ItemCondition.RESELLABLE or reason.our_fault:
            total += prices.get(line.sku, Decimal(0)) * units
    return total.quantize(Decimal("0.01"))


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
