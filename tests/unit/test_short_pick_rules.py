"""domain/picking.py: what a pick confirmation's lines say about a parcel (issue 17)."""

from domain.models import ParcelLine
from domain.picking import pick_problems, split_pick

PARCEL = [ParcelLine(sku="MUG", quantity=3), ParcelLine(sku="PLATE", quantity=2)]


def _pairs(lines: list[ParcelLine]) -> list[tuple[str, int]]:
    return [(line.sku, line.quantity) for line in lines]


def test_no_lines_means_everything_was_picked() -> None:
    kept, missing = split_pick(PARCEL, None)
    assert _pairs(kept) == [("MUG", 3), ("PLATE", 2)] and missing == []
    assert pick_problems(PARCEL, None) == []


def test_lines_are_exactly_what_was_picked_and_a_line_left_out_is_zero() -> None:
    kept, missing = split_pick(PARCEL, [ParcelLine(sku="MUG", quantity=1)])
    assert _pairs(kept) == [("MUG", 1)]
    assert _pairs(missing) == [("MUG", 2), ("PLATE", 2)]
    kept, missing = split_pick(PARCEL, [ParcelLine(sku="MUG", quantity=0), ParcelLine(sku="PLATE", quantity=0)])
    assert kept == [] and _pairs(missing) == [("MUG", 3), ("PLATE", 2)]


def test_a_pick_never_adds_units() -> None:
    kept, missing = split_pick(PARCEL, [ParcelLine(sku="MUG", quantity=9), ParcelLine(sku="CUP", quantity=1)])
    assert _pairs(kept) == [("MUG", 3)] and _pairs(missing) == [("PLATE", 2)]


def test_problems_name_each_bad_line() -> None:
    picked = [
        ParcelLine(sku="CUP", quantity=1),
        ParcelLine(sku="MUG", quantity=4),
        ParcelLine(sku="PLATE", quantity=2),
        ParcelLine(sku="PLATE", quantity=1),
    ]
    assert [p.field for p in pick_problems(PARCEL, picked)] == ["lines[0].sku", "lines[1].quantity", "lines[3].sku"]
    assert pick_problems(PARCEL, [ParcelLine(sku="MUG", quantity=3)]) == []
