"""domain/backorder.py: what is missing, what each choice makes of the lines, and the question in
the `backordered` message (orders backordered before the choice read as they always did)."""

from datetime import UTC, datetime
from decimal import Decimal

from domain.backorder import (
    backorder_ask,
    choice_problems,
    choices_text,
    missing_lines,
    substituted_lines,
    whole_lines,
)
from domain.enums import BackorderChoiceKind
from domain.models import BackorderChoice, CatalogItem, MissingLine, OrderInput, OrderLine, StockLevel
from domain.notifications import order_notification
from tests.workflows.driver import order_request
from workflows.order.state import OrderState

UNTIL = datetime(2026, 12, 16, 8, 0, tzinfo=UTC)


def line(sku: str, quantity: int, price: str = "99.00") -> OrderLine:
    return OrderLine(sku=sku, quantity=quantity, unit_price=Decimal(price))


def level(sku: str, warehouse: str, on_hand: int) -> StockLevel:
    return StockLevel(sku=sku, warehouse=warehouse, on_hand=on_hand, reserved=0)


def item(sku: str, *substitutes: str) -> CatalogItem:
    return CatalogItem(sku=sku, name=sku, price=Decimal("99.00"), substitutes=list(substitutes))


def test_a_line_ships_whole_from_one_warehouse_so_split_stock_is_missing() -> None:
    lines = [line("A", 3), line("B", 1), line("C", 2)]
    levels = [level("A", "WH-EAST", 2), level("A", "WH-WEST", 2), level("B", "WH-EAST", 1)]
    assert missing_lines(lines, levels) == [MissingLine(sku="A", quantity=1), MissingLine(sku="C", quantity=2)]
    assert whole_lines(lines, levels) == [line("B", 1)]


def test_substitute_is_offered_only_when_every_missing_line_has_one() -> None:
    lines = [line("A", 1), line("C", 1)]
    some = backorder_ask(lines, [], {"A": item("A", "A2"), "C": item("C")}, UNTIL)
    assert some.substitutes == {"A": ["A2"]}
    assert BackorderChoiceKind.SUBSTITUTE not in some.choices
    every = backorder_ask(lines, [], {"A": item("A", "A2"), "C": item("C", "C2", "C3")}, UNTIL)
    assert every.choices[-1] is BackorderChoiceKind.SUBSTITUTE
    assert choice_problems(every, BackorderChoice(choice="substitute", substitutes={"A": "A2", "C": "C3"})) == []
    assert [p.field for p in choice_problems(some, BackorderChoice(choice="substitute", substitutes={"A": "A2"}))] == [
        "choice",
        "substitutes.C",
    ]


def test_the_missing_units_become_the_substitutes_at_the_lines_own_prices() -> None:
    lines = [line("A", 2, "80.00"), line("B", 1), line("A", 1, "90.00")]
    missing = [MissingLine(sku="A", quantity=2)]
    assert substituted_lines(lines, missing, {"A": "Z"}) == [
        line("A", 1, "80.00"),
        line("B", 1),
        line("Z", 1, "80.00"),
        line("Z", 1, "90.00"),
    ]


def test_the_backordered_message_carries_the_question_only_when_asked() -> None:
    request = order_request(("A", 2, "99.00"))
    view = OrderState(OrderInput(order_id="O-1", request=request, request_hash="h", received_at=UNTIL)).order
    plain = order_notification(view, "backordered")
    assert plain.body.endswith("到货后我们会立即发货。"), "orders backordered before the patch: the old text"
    ask = backorder_ask(view.lines, [], {"A": item("A", "A2")}, UNTIL)

    asked = order_notification(view, "backordered", choices=choices_text(ask, "en"))

    assert asked.body.startswith(plain.body)
    for part in ("A x2", "substitute", "A: A2", "2026-12-16 08:00"):
        assert part in asked.body
