"""Pure rules: pricing, carrier choice, verification, lifecycle aggregation, ids."""

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain import ids
from domain.carriers import RATE_CARDS, choose_quote
from domain.enums import OrderStatus, Priority, ShipmentStatus, ShippingSpeed
from domain.lifecycle import fulfilment_status, order_news
from domain.models import CatalogItem, OrderLine, OrderRequest, ShipmentView
from domain.pricing import price_order
from domain.verification import verify_order

TODAY = date(2026, 11, 26)


def quotes_for(speed: ShippingSpeed, zone: int = 1, grams: int = 800):  # type: ignore[no-untyped-def]
    return [q for card in RATE_CARDS.values() if (q := card.quote(speed, zone, grams, TODAY))]


def test_standard_takes_cheapest_and_express_takes_fastest() -> None:
    assert choose_quote(quotes_for(ShippingSpeed.STANDARD), ShippingSpeed.STANDARD, Priority.NORMAL).carrier == "economy"  # type: ignore[union-attr]
    assert choose_quote(quotes_for(ShippingSpeed.EXPRESS), ShippingSpeed.EXPRESS, Priority.NORMAL).carrier == "swift"  # type: ignore[union-attr]
    assert choose_quote(quotes_for(ShippingSpeed.OVERNIGHT), ShippingSpeed.OVERNIGHT, Priority.NORMAL).carrier == "swift"  # type: ignore[union-attr]
    expedited = choose_quote(quotes_for(ShippingSpeed.STANDARD), ShippingSpeed.STANDARD, Priority.EXPEDITED)
    assert expedited is not None and expedited.carrier == "swift"


@given(zone=st.integers(1, 4), grams=st.integers(1, 30_000), speed=st.sampled_from(list(ShippingSpeed)))
def test_chosen_quote_keeps_the_promise_when_any_can(zone: int, grams: int, speed: ShippingSpeed) -> None:
    quotes = quotes_for(speed, zone, grams)
    chosen = choose_quote(quotes, speed, Priority.NORMAL)
    keeping = [q for q in quotes if q.transit_days <= {"standard": 5, "express": 2, "overnight": 1}[speed.value]]
    assert (chosen is None) == (not keeping)
    if chosen is not None and speed is ShippingSpeed.STANDARD:
        assert chosen.price == min(q.price for q in keeping)


def test_rates_are_deterministic() -> None:
    assert quotes_for(ShippingSpeed.EXPRESS, 2, 1200) == quotes_for(ShippingSpeed.EXPRESS, 2, 1200)


@given(quantities=st.lists(st.integers(1, 999), min_size=1, max_size=5), cents=st.integers(1, 1_000_000))
def test_totals_add_up(quantities: list[int], cents: int) -> None:
    price = Decimal(cents) / 100
    lines = [OrderLine(sku=f"S{i}", quantity=q, unit_price=price) for i, q in enumerate(quantities)]
    totals = price_order(lines, ShippingSpeed.STANDARD).totals
    assert totals.items == price * sum(quantities)
    assert totals.grand_total == totals.items + totals.shipping
    assert totals.shipping == (Decimal("0.00") if totals.items >= 299 else Decimal("12.00"))


def _request(**overrides) -> OrderRequest:  # type: ignore[no-untyped-def]
    body = {
        "channel": "web",
        "customer": {"id": "c", "email": "a@example.com", "name": "A"},
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "10.00"}],
        "currency": "CNY",
        "shipping_address": {"name": "A", "line1": "1", "city": "HZ", "region": "ZJ", "postal_code": "310000", "country": "CN"},
        "payment": {"method": "card", "token": "tok_visa"},
    }
    body.update(overrides)
    return OrderRequest.model_validate(body)


def test_verification_names_each_problem() -> None:
    catalog = {"A": CatalogItem(sku="A", name="A", price=Decimal("10.00"))}
    assert verify_order(_request(), catalog) == []
    tampered = _request(lines=[{"sku": "A", "quantity": 1, "unit_price": "1.00"}, {"sku": "Z", "quantity": 1, "unit_price": "1.00"}])
    assert [p.field for p in verify_order(tampered, catalog)] == ["lines[0].unit_price", "lines[1].sku"]
    inactive = {"A": CatalogItem(sku="A", name="A", price=Decimal("10.00"), active=False)}
    assert [p.field for p in verify_order(_request(), inactive)] == ["lines[0].sku"]


def _shipment(status: ShipmentStatus, handed_over: bool = False) -> ShipmentView:
    return ShipmentView(
        shipment_id="s", order_id="o", warehouse="W", status=status,
        handed_over_at=datetime(2026, 1, 1, tzinfo=UTC) if handed_over else None,
    )


def test_order_status_follows_its_parcels() -> None:
    picking, moving = _shipment(ShipmentStatus.PICKING), _shipment(ShipmentStatus.IN_TRANSIT, True)
    delivered = _shipment(ShipmentStatus.DELIVERED, True)
    assert fulfilment_status([picking]) is OrderStatus.FULFILLING
    assert fulfilment_status([picking, moving]) is OrderStatus.PARTIALLY_SHIPPED
    assert fulfilment_status([moving, moving]) is OrderStatus.SHIPPED
    assert fulfilment_status([delivered, moving]) is OrderStatus.PARTIALLY_DELIVERED
    assert fulfilment_status([delivered, _shipment(ShipmentStatus.CANCELLED)]) is OrderStatus.DELIVERED
    refused_label = _shipment(ShipmentStatus.EXCEPTION)
    assert fulfilment_status([refused_label]) is OrderStatus.FULFILLING


def test_a_parcel_tells_its_order_only_what_the_order_acts_on() -> None:
    """Picking, packing, out for delivery and a delay change nothing the order acts on; a label
    (address lock), the hand-over (cancel lock, shipped), an exception and attention do."""
    at = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    parcel = ShipmentView(shipment_id="O-1-P1", order_id="O-1", warehouse="WH-EAST")
    start = order_news(parcel)
    quiet = [
        {"status": ShipmentStatus.PICKING},
        {"status": ShipmentStatus.PACKED, "last_event": "picked by ann"},
        {"promised_by": date(2026, 12, 1)},
        {"version": 9},
    ]
    for change in quiet:
        assert order_news(parcel.model_copy(update=change)) == start, change
    labelled = parcel.model_copy(update={"status": ShipmentStatus.LABEL_CREATED, "label_id": "L-1"})
    moving = labelled.model_copy(update={"status": ShipmentStatus.IN_TRANSIT, "handed_over_at": at})
    news = [
        labelled,
        moving,
        moving.model_copy(update={"status": ShipmentStatus.EXCEPTION}),
        parcel.model_copy(update={"attention_reason": "picking over its SLA of 1 day"}),
    ]
    assert len({order_news(p) for p in [parcel, *news]}) == 5, "each of these is news"
    out_for_delivery = moving.model_copy(update={"status": ShipmentStatus.OUT_FOR_DELIVERY})
    assert order_news(out_for_delivery) == order_news(moving)


def test_generated_order_ids_are_well_formed_and_distinct() -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    generated = {ids.new_order_id(now) for _ in range(1000)}
    assert len(generated) == 1000
    assert all(i.startswith("ORD-20261126-") and len(i) == 19 for i in generated)
