"""What the customer pays: item subtotal less the channel's discounts, plus shipping (issue 17).

Pure. `price_order` is the one pricing function: intake prices the order with it, and anything
that changes the lines later (a backorder shipped as available, an order edit) calls it again
with the order's adjustments, so the discounts follow the lines that are left.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from domain.enums import ShippingSpeed
from domain.models import LinePrice, OrderLine, OrderRequest, PriceAdjustment, Problem, Totals

CENT = Decimal("0.01")

# Money travels with at most 12 digits (domain.models.Money): a total must stay below this.
MONEY_LIMIT = Decimal("10000000000.00")

# Customer-facing shipping fees (our carrier cost is a separate matter: see domain.carriers).
SHIPPING_FEE: dict[ShippingSpeed, Decimal] = {
    ShippingSpeed.STANDARD: Decimal("12.00"),
    ShippingSpeed.EXPRESS: Decimal("25.00"),
    ShippingSpeed.OVERNIGHT: Decimal("45.00"),
}
FREE_STANDARD_SHIPPING_FROM = Decimal("299.00")


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def items_total(lines: Sequence[OrderLine]) -> Decimal:
    return money(sum((line.unit_price * line.quantity for line in lines), Decimal(0)))


def shipping_fee(items: Decimal, speed: ShippingSpeed) -> Decimal:
    if speed is ShippingSpeed.STANDARD and items >= FREE_STANDARD_SHIPPING_FROM:
        return money(0)
    return SHIPPING_FEE[speed]


def _cents(amount: Decimal) -> int:
    return int(money(amount) * 100)


def _amount(cents: int) -> Decimal:
    return money(Decimal(cents) / 100)


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split over `weights` pro rata, in whole units, by largest remainder: the parts sum
    to `total` exactly, and no part passes its weight while `total` does not pass their sum.
    Ties go to the earlier weight, so the split is the same every time (workflows replay it)."""
    whole = sum(weights)
    if whole <= 0 or total <= 0:
        return [0 for _ in weights]
    total = min(total, whole)
    parts = [total * weight // whole for weight in weights]
    remainders = [total * weight % whole for weight in weights]
    left = total - sum(parts)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[index] += 1
    return parts


@dataclass(frozen=True)
class Pricing:
    """The order priced: its totals and, per line, what was paid."""

    totals: Totals
    lines: list[LinePrice]


def _scaled(cents: int, kept: int, given: int) -> int:
    """`cents` x kept / given, to the nearest cent (half up), never more than `cents`."""
    if given <= 0 or kept >= given:
        return cents
    return (2 * cents * kept + given) // (2 * given)


def price_order(
    lines: Sequence[OrderLine],
    speed: ShippingSpeed,
    adjustments: Sequence[PriceAdjustment] = (),
    shipping_charge: Decimal | None = None,
    sold: Sequence[OrderLine] | None = None,
) -> Pricing:
    """Price `lines` with the channel's `adjustments` and `shipping_charge`.

    A line adjustment (`sku` set) comes off its line; an order adjustment (`sku` null) is spread
    over the lines pro rata to what each costs after its own adjustments, to the cent (`spread`).
    Discounts apply to items only, never to shipping. Shipping is the channel's charge when it sent
    one, else our fee by speed (`shipping_fee` of the list value).

    `sold`: the lines the adjustments were given for (the submitted lines), when `lines` are what
    is left of them later (a backorder shipped as available, an order edit). Discounts then shrink
    with what was removed and never grow: a line adjustment by the units kept of those sold, an
    order adjustment by the list value kept of the value sold (units beyond those sold, and new
    SKUs, count for nothing), each to the nearest cent. So removing units costs the customer what a
    refund of them would have paid back. An adjustment for a SKU no longer ordered drops out, and a
    discount never passes what is left of its line: the function never prices below zero."""
    sold = lines if sold is None else sold
    gross = [_cents(line.unit_price * line.quantity) for line in lines]
    line_off = [0 for _ in lines]
    index_of = {line.sku: index for index, line in enumerate(lines)}
    sold_units = {line.sku: line.quantity for line in sold}
    now_units = {line.sku: line.quantity for line in lines}
    sold_value = sum(_cents(line.unit_price * line.quantity) for line in sold)
    kept_value = sum(_cents(line.unit_price * min(line.quantity, now_units.get(line.sku, 0))) for line in sold)
    order_off = 0
    for adjustment in adjustments:
        off = -_cents(adjustment.amount)
        if adjustment.sku is None:
            order_off += _scaled(off, kept_value, sold_value)
        elif adjustment.sku in index_of:
            index = index_of[adjustment.sku]
            off = _scaled(off, now_units[adjustment.sku], sold_units.get(adjustment.sku, now_units[adjustment.sku]))
            line_off[index] = min(gross[index], line_off[index] + off)
    net = [g - o for g, o in zip(gross, line_off, strict=True)]
    shares = spread(order_off, net)
    discounts = [o + s for o, s in zip(line_off, shares, strict=True)]
    priced = [
        LinePrice(
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=_amount(off),
            paid=_amount(g - off),
        )
        for line, g, off in zip(lines, gross, discounts, strict=True)
    ]
    items = _amount(sum(gross))
    discount = _amount(sum(discounts))
    # abs: a charge of "-0" is 0.00 (the model refuses a negative one)
    shipping = abs(money(shipping_charge)) if shipping_charge is not None else shipping_fee(items, speed)
    totals = Totals(
        items=items,
        shipping=shipping,
        refunded=money(0),
        discounts=discount,
        grand_total=money(items - discount + shipping),
    )
    return Pricing(totals=totals, lines=priced)


def price_request(request: OrderRequest) -> Pricing:
    """A submission priced as intake prices it."""
    return price_order(request.lines, request.shipping_speed, request.adjustments, request.shipping_charge)


@dataclass(frozen=True)
class PricePolicy:
    """What channel discounts intake accepts: at most `max_discount_percent` of the items' list
    value in all, and, when `codes` is not empty, only those codes (then every adjustment needs
    one). Empty `codes`: any code, or none, is accepted."""

    max_discount_percent: Decimal = Decimal(50)
    codes: frozenset[str] = frozenset()


def adjustment_problems(request: OrderRequest, policy: PricePolicy) -> list[Problem]:
    """Every problem of the request's adjustments, each naming its field: a line adjustment for a
    SKU not in the order, a line (or the order) discounted below zero, a code not known (or none
    when codes are configured), a total discount beyond the policy's percent, and a shipping charge that takes the total past
    what money holds (MONEY_LIMIT: the order could not be priced). Shapes (negative, two decimals,
    a shipping charge of at least 0) are the model's (domain.models.PriceAdjustment)."""
    problems: list[Problem] = []
    values = {line.sku: line.unit_price * line.quantity for line in request.lines}
    off_by_sku: dict[str, Decimal] = {}
    order_off = Decimal(0)
    for index, adjustment in enumerate(request.adjustments):
        path = f"adjustments[{index}]"
        if policy.codes:
            if adjustment.code is None:
                problems.append(Problem(field=f"{path}.code", message="is required: discounts need a known code"))
            elif adjustment.code not in policy.codes:
                problems.append(Problem(field=f"{path}.code", message=f"unknown discount code {adjustment.code!r}"))
        if adjustment.sku is None:
            order_off -= adjustment.amount
            continue
        if adjustment.sku not in values:
            problems.append(Problem(field=f"{path}.sku", message=f"sku {adjustment.sku!r} is not in the order"))
            continue
        off_by_sku[adjustment.sku] = off_by_sku.get(adjustment.sku, Decimal(0)) - adjustment.amount
        if off_by_sku[adjustment.sku] > values[adjustment.sku]:
            problems.append(
                Problem(
                    field=f"{path}.amount",
                    message=f"takes line {adjustment.sku} below zero "
                    f"({off_by_sku[adjustment.sku]} off a line of {money(values[adjustment.sku])})",
                )
            )
    items = sum(values.values(), Decimal(0))
    after_lines = items - sum((min(off, values[sku]) for sku, off in off_by_sku.items()), Decimal(0))
    if order_off > after_lines:
        for index, adjustment in enumerate(request.adjustments):
            if adjustment.sku is None:
                problems.append(
                    Problem(
                        field=f"adjustments[{index}].amount",
                        message=f"takes the order below zero ({order_off} off {money(after_lines)} of items)",
                    )
                )
    total_off = -sum((a.amount for a in request.adjustments if a.sku is None or a.sku in values), Decimal(0))
    if items > 0 and total_off * 100 > items * policy.max_discount_percent:
        limit = (items * policy.max_discount_percent / 100).quantize(CENT, rounding=ROUND_DOWN)
        problems.append(
            Problem(
                field="adjustments",
                message=f"discounts of {money(total_off)} pass the maximum of "
                f"{policy.max_discount_percent}% of the items ({limit})",
            )
        )
    if request.shipping_charge is not None and items + request.shipping_charge >= MONEY_LIMIT:
        problems.append(
            Problem(field="shipping_charge", message=f"takes the order total past {MONEY_LIMIT - CENT}")
        )
    return problems
