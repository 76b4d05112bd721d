"""Rate cards of the built-in carriers and the choice between their quotes (R8).

Deterministic: the same parcel, route and speed always get the same price and transit time.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from domain.enums import Priority, ShippingSpeed
from domain.models import RateQuote
from domain.pricing import money

UNDELIVERABLE_POSTAL_CODES = frozenset({"000000"})

# How many days each speed promises the customer.
PROMISED_DAYS: dict[ShippingSpeed, int] = {
    ShippingSpeed.STANDARD: 5,
    ShippingSpeed.EXPRESS: 2,
    ShippingSpeed.OVERNIGHT: 1,
}


@dataclass(frozen=True)
class Service:
    base: Decimal
    per_half_kilo: Decimal
    days: int  # transit days in zone 1; each further zone adds `days_per_zone`
    days_per_zone: int


@dataclass(frozen=True)
class RateCard:
    carrier: str
    services: dict[ShippingSpeed, Service]

    def quote(self, speed: ShippingSpeed, zone: int, weight_grams: int, today: date) -> RateQuote | None:
        service = self.services.get(speed)
        if service is None:
            return None
        half_kilos = max(1, -(-weight_grams // 500))
        price = money(service.base * zone + service.per_half_kilo * half_kilos * zone)
        days = service.days + service.days_per_zone * (zone - 1)
        return RateQuote(
            carrier=self.carrier,
            service=speed,
            price=price,
            transit_days=days,
            promised_by=today + timedelta(days=days),
        )


RATE_CARDS: dict[str, RateCard] = {
    # Fast and dear.
    "swift": RateCard(
        "swift",
        {
            ShippingSpeed.STANDARD: Service(Decimal("9.00"), Decimal("3.00"), 2, 0),
            ShippingSpeed.EXPRESS: Service(Decimal("16.00"), Decimal("4.00"), 1, 0),
            ShippingSpeed.OVERNIGHT: Service(Decimal("28.00"), Decimal("6.00"), 1, 0),
        },
    ),
    # Slow and cheap; no overnight service.
    "economy": RateCard(
        "economy",
        {
            ShippingSpeed.STANDARD: Service(Decimal("5.00"), Decimal("1.50"), 3, 1),
            ShippingSpeed.EXPRESS: Service(Decimal("10.00"), Decimal("2.50"), 2, 0),
        },
    ),
}


def choose_quote(quotes: list[RateQuote], speed: ShippingSpeed, priority: Priority) -> RateQuote | None:
    """Standard orders take the cheapest quote that keeps the promise; express, overnight and
    expedited orders take the fastest (then the cheapest of the fastest)."""
    promise = PROMISED_DAYS[speed]
    keeping = [q for q in quotes if q.transit_days <= promise]
    if not keeping:
        return None
    if speed is ShippingSpeed.STANDARD and priority is Priority.NORMAL:
        return min(keeping, key=lambda q: (q.price, q.transit_days, q.carrier))
    return min(keeping, key=lambda q: (q.transit_days, q.price, q.carrier))
