"""The pure rules of order edits (domain/edits.py): what may change when, the new lines and their
prices, the parcels an edit rebuilds and what they ship, and the 422s naming each bad line."""

from decimal import Decimal

from domain.edits import edit_plan, edit_problems, edited_lines, lines_edit_refusal, requested_quantities
from domain.enums import OrderStatus, PaymentStatus, ShipmentStatus
from domain.models import CatalogItem, EditLine, OrderLine, ParcelLine, PaymentView
from tests.unit.test_order_rules import LINES, _order, _parcel

PAID = PaymentView(method="card", amount=Decimal("57.50"), status=PaymentStatus.CAPTURED)


def _lines(*pairs: tuple[str, int]) -> list[EditLine]:
    return [EditLine(sku=sku, quantity=quantity) for sku, quantity in pairs]


def test_kept_lines_keep_their_price_and_new_skus_come_at_the_catalog_price() -> None:
    order = _order()
    requested = requested_quantities(_lines(("B", 3), ("C", 1)))  # A left out: cancelled
    lines = edited_lines(order, requested, {"C": Decimal("7.25")})
    assert lines == [
        OrderLine(sku="B", quantity=3, unit_price=Decimal("25.50")),
        OrderLine(sku="C", quantity=1, unit_price=Decimal("7.25")),
    ]


def test_a_picked_parcel_holding_a_changed_line_is_too_late_but_not_an_unchanged_one() -> None:
    packed = _parcel("s1", ShipmentStatus.PACKED, lines=[ParcelLine(sku="A", quantity=2)])
    waiting = _parcel("s2", ShipmentStatus.PICKING, lines=[ParcelLine(sku="B", quantity=1)])
    order = _order(payment=PAID, shipments=[packed, waiting])
    assert lines_edit_refusal(order, {"A": 2, "B": 4}) is None, "only B changes: its parcel is not picked"
    refusal = lines_edit_refusal(order, {"A": 1, "B": 1})
    assert refusal == "parcel s1 holding A is already picked (packed)"


def test_where_the_lines_may_change() -> None:
    assert lines_edit_refusal(_order(OrderStatus.ON_HOLD), {"A": 1}) is None
    assert "payment_pending" in (lines_edit_refusal(_order(OrderStatus.PAYMENT_PENDING), {"A": 1}) or "")
    assert lines_edit_refusal(_order(OrderStatus.CLOSED), {"A": 1}) == "the order is closed"
    assert "no lines left" in (lines_edit_refusal(_order(payment=PAID), {"A": 0}) or "")
    reshipped = _parcel("s2", lines=[ParcelLine(sku="A", quantity=2)], reservation_key="o1#reship1")
    assert "replacement parcel s2" in (lines_edit_refusal(_order(payment=PAID, shipments=[reshipped]), {"A": 1}) or "")


def test_the_plan_rebuilds_the_unpicked_parcels_of_changed_lines_with_the_change() -> None:
    east = _parcel("s1", lines=[ParcelLine(sku="A", quantity=2)])
    west = _parcel("s2", lines=[ParcelLine(sku="B", quantity=1)], warehouse="WH-WEST")
    order = _order(payment=PAID, shipments=[east, west])
    lines = [
        OrderLine(sku="A", quantity=5, unit_price=Decimal("10.00")),
        LINES[1],
        OrderLine(sku="C", quantity=1, unit_price=Decimal("3.00")),
    ]
    plan = edit_plan(order, lines)
    assert plan.changed == ["A", "C"]
    assert [p.shipment_id for p in plan.rebuild] == ["s1"], "B's parcel stays as it is"
    assert [(line.sku, line.quantity) for line in plan.reserve] == [("A", 5), ("C", 1)]


def test_the_422s_name_each_bad_line() -> None:
    order = _order()
    catalog = {
        "OFF": CatalogItem(sku="OFF", name="off", price=Decimal("1.00"), active=False),
        "USD": CatalogItem(sku="USD", name="usd", price=Decimal("1.00"), currency="USD"),
    }
    problems = edit_problems(order, _lines(("A", 1), ("NOPE", 1), ("OFF", 1), ("USD", 1), ("A", 2)), catalog)
    assert [p.field for p in problems] == ["lines[4].sku", "lines[1].sku", "lines[2].sku", "lines[3].sku"]
    assert [p.field for p in edit_problems(order, _lines(("A", 0), ("NOPE", 0)), {})] == ["lines"]


def test_cash_on_delivery_collected_at_delivery_is_refused_with_a_clear_reason() -> None:
    waiting = _parcel("s1", ShipmentStatus.PICKING, lines=[ParcelLine(sku="A", quantity=2)])
    promised = PaymentView(method="cod", amount=Decimal("57.50"), status=PaymentStatus.AUTHORIZED)
    order = _order(payment=promised, shipments=[waiting])
    assert lines_edit_refusal(order, {"A": 1, "B": 1}) == "cash on delivery: edits are not supported yet"
    part = promised.model_copy(update={"status": PaymentStatus.CAPTURED, "captured": Decimal("20.00")})
    assert lines_edit_refusal(_order(payment=part, shipments=[waiting]), {"A": 1, "B": 1}) == (
        "cash on delivery: edits are not supported yet"
    ), "one parcel's share collected, the rest still promised"
    # On hold nothing is promised yet: the lines change (the authorization comes later, for the new total).
    assert lines_edit_refusal(_order(OrderStatus.ON_HOLD, payment=promised), {"A": 1}) is None
    # Captured whole at order time (a cod order from before cod-capture-on-delivery-20261202): as any.
    whole = promised.model_copy(update={"status": PaymentStatus.CAPTURED, "captured": Decimal("57.50")})
    assert lines_edit_refusal(_order(payment=whole, shipments=[waiting]), {"A": 1, "B": 1}) is None
