"""The cycle count plan and hold rule (domain/counts.py), exact on a hand-made set of items."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.counts import (
    CountClass,
    CountItem,
    CountPolicy,
    applied_on_approval,
    classify,
    due,
    needs_approval,
    plan,
)

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
A, B, C = CountClass.A, CountClass.B, CountClass.C


def item(sku: str, value: int, picks: int = 0, warehouse: str = "W1", last: datetime | None = None) -> CountItem:
    return CountItem(sku=sku, warehouse=warehouse, value=Decimal(value), picks=picks, last_counted_at=last)


# W1 ships 1000 in all: A while the value before an item is under 800, B under 950.
W1 = [
    item("S1", 500, picks=2),  # before 0: A
    item("S2", 300),  # before 500: A (it crosses 80 %)
    item("S3", 100),  # before 800: B
    item("S4", 40),  # before 900: B
    item("S5", 30, picks=1),  # ties S7 on value; fewer picks, so after it: before 970: C
    item("S7", 30, picks=3),  # before 940: B
    item("S6", 0),  # nothing shipped: C
]


def test_abc_by_value_with_velocity_breaking_ties() -> None:
    classes = classify(W1, CountPolicy())
    assert {sku: cls for (sku, _w), cls in classes.items()} == {
        "S1": A, "S2": A, "S3": B, "S4": B, "S7": B, "S5": C, "S6": C,
    }


def test_a_tie_on_value_and_picks_goes_by_sku() -> None:
    items = [item("S1", 900), item("S9", 50, picks=1), item("S8", 50, picks=1)]
    classes = classify(items, CountPolicy())
    # S1 before 0: A; S8 (by SKU) before 900: B; S9 before 950: C.
    assert [classes[(s, "W1")] for s in ("S1", "S8", "S9")] == [A, B, C]


def test_classes_are_ranked_per_warehouse() -> None:
    items = [*W1, item("S1", 10, warehouse="W2"), item("S2", 1, warehouse="W2")]
    classes = classify(items, CountPolicy())
    # At W2 alone, S1 makes 91 % of the value: A; S2 starts at 91 %: B.
    assert classes[("S1", "W2")] == A and classes[("S2", "W2")] == B
    assert classes[("S1", "W1")] == A


def test_the_top_seller_is_a_even_when_it_is_almost_everything() -> None:
    classes = classify([item("BIG", 990), item("SMALL", 10)], CountPolicy())
    assert classes == {("BIG", "W1"): A, ("SMALL", "W1"): C}


def test_fast_movers_move_up_one_class() -> None:
    policy = CountPolicy(fast_mover_picks=30)
    items = [item("S1", 900), item("B1", 60, picks=30), item("C1", 40, picks=30), item("C2", 0, picks=45)]
    classes = classify(items, policy)
    # By value: S1 A, B1 B (before 900), C1 C (before 960), C2 C (no value); each fast mover up one.
    assert [classes[(s, "W1")] for s in ("S1", "B1", "C1", "C2")] == [A, A, B, B]
    off = classify(items, CountPolicy(fast_mover_picks=0))
    assert [off[(s, "W1")] for s in ("S1", "B1", "C1", "C2")] == [A, B, C, C]


def test_nothing_shipped_anywhere_is_all_c() -> None:
    assert set(classify([item("X", 0), item("Y", 0)], CountPolicy()).values()) == {C}


def test_the_class_shares_are_configurable() -> None:
    classes = classify(W1, CountPolicy(a_percent=Decimal(50), b_percent=Decimal(40)))
    # A under 500: S1; B under 900: S2, S3 (before 800); C from 900 on.
    assert {sku: cls for (sku, _w), cls in classes.items()} == {
        "S1": A, "S2": B, "S3": B, "S4": C, "S7": C, "S5": C, "S6": C,
    }


def test_due_list_oldest_first_never_counted_first() -> None:
    items = [
        item("S1", 500, last=NOW - timedelta(days=31)),  # A, every 30 days: due since yesterday
        item("S2", 300, last=NOW - timedelta(days=29)),  # A: due tomorrow, not listed
        item("S3", 100, last=NOW - timedelta(days=100)),  # B, every 90 days: due since 10 days
        item("S4", 40, last=NOW - timedelta(days=90)),  # B: due since now exactly, listed
        item("S5", 30, picks=1, last=NOW - timedelta(days=170)),  # C, every 180 days: not yet
        item("S7", 30, picks=3),  # never counted: due
        item("S6", 0),  # never counted: due
    ]
    listed = due(items, CountPolicy(), NOW)
    assert [(p.sku, p.cls, p.due_since) for p in listed] == [
        ("S6", C, None),
        ("S7", B, None),
        ("S3", B, NOW - timedelta(days=10)),
        ("S1", A, NOW - timedelta(days=1)),
        ("S4", B, NOW),
    ]
    everything = plan(items, CountPolicy())
    assert len(everything) == 7
    assert {p.sku: p.due_since for p in everything}["S2"] == NOW + timedelta(days=1)
    assert {p.sku: p.due_since for p in everything}["S5"] == NOW + timedelta(days=10)


def test_intervals_are_configurable() -> None:
    policy = CountPolicy(every_a=timedelta(days=7))
    listed = due([item("S1", 1, last=NOW - timedelta(days=8))], policy, NOW)
    assert [(p.cls, p.due_since) for p in listed] == [(A, NOW - timedelta(days=1))]


@pytest.mark.parametrize(
    ("book", "counted", "held"),
    [
        (55, 47, False),  # 8 units: not more than 10
        (100, 85, True),  # 15 units and 15 %
        (100, 115, True),  # over, as under
        (100, 110, False),  # 10 units: not more than 10
        (200, 220, False),  # 20 units but exactly 10 %: not more
        (200, 221, True),
        (1000, 980, False),  # 20 units but 2 %
        (0, 11, True),  # stock found where the book had none
        (0, 10, False),
        (40, 40, False),  # no discrepancy
        (12, 0, True),  # all gone
    ],
)
def test_hold_rule_both_thresholds(book: int, counted: int, held: bool) -> None:
    assert needs_approval(book, counted, CountPolicy()) is held


def test_hold_rule_on_one_threshold_alone() -> None:
    percent_only = CountPolicy(hold_units=0, hold_percent=Decimal(10))
    assert needs_approval(5, 6, percent_only) is True  # 1 unit, 20 %
    assert needs_approval(100, 110, percent_only) is False
    units_only = CountPolicy(hold_units=3, hold_percent=Decimal(0))
    assert needs_approval(1000, 1004, units_only) is True
    assert needs_approval(1000, 1003, units_only) is False


def test_approval_applies_the_discrepancy_to_the_stock_of_then() -> None:
    # Counted 70 against a book of 100 (-30); 20 shipped since, the book is 80: 50 remain.
    assert applied_on_approval(80, -30) == 50
    assert applied_on_approval(0, 12) == 12
