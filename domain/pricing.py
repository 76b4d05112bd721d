"""What the customer pays: item subtotal plus a shipping fee by delivery speed."""

from decimal import ROUND_HALF_UP, Decimal

from domain.enums import ShippingSpeed
from domain.models import OrderLine, Totals

CENT = Decimal("0.01")

# Customer-facing shipping fees (our carrier cost is a separate matter: see domain.carriers).
SHIPPING_FEE: dict[ShippingSpeed, Decimal] = {
    ShippingSpeed.STANDARD: Decimal("12.00"),
    ShippingSpeed.EXPRESS: Decimal("25.00"),
    ShippingSpeed.OVERNIGHT: Decimal("45.00"),
}
FREE_STANDARD_SHIPPING_FROM = Decimal("299.00")


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def items_total(lines: list[OrderLine]) -> Decimal:
    return money(sum((line.unit_price * line.quantity for line in lines), Decimal(0)))


def shipping_fee(items: Decimal, speed: ShippingSpeed) -> Decimal:
    if speed is ShippingSpeed.STANDARD and items >= FREE_STANDARD_SHIPPING_FROM:
        return money(0)
    return SHIPPING_FEE[speed]


def order_totals(lines: list[OrderLine], speed: ShippingSpeed) -> Totals:
    items = items_total(lines)
    shipping = shipping_fee(items, speed)
    return Totals(items=items, shipping=shipping, refunded=money(0), grand_total=money(items + shipping))
