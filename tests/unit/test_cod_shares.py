"""Cash on delivery's shares (domain/cod.py): each parcel its lines, the first also the rest; the
shares add up to the grand total to the cent and are never negative."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.cod import cod_status, shares
from domain.enums import PaymentStatus

cents = st.integers(min_value=0, max_value=10**7).map(lambda c: Decimal(c) / 100)


def test_the_first_parcel_carries_the_shipping() -> None:
    assert shares(Decimal("161.00"), [Decimal("99.00"), Decimal("50.00")]) == [Decimal("111.00"), Decimal("50.00")]


def test_a_discount_beyond_the_shipping_comes_off_the_parcels_in_turn() -> None:
    assert shares(Decimal("40.00"), [Decimal("30.00"), Decimal("50.00")]) == [Decimal("0.00"), Decimal("40.00")]


@given(st.lists(cents, min_size=1, max_size=6), cents)
def test_shares_add_up_to_the_total_and_are_never_negative(values: list[Decimal], total: Decimal) -> None:
    split = shares(total, values)
    assert len(split) == len(values)
    assert all(share >= 0 for share in split)
    assert sum(split, Decimal("0.00")) == max(total, Decimal("0.00"))


def test_status_follows_what_was_captured_and_what_is_still_promised() -> None:
    assert cod_status(Decimal(0), Decimal(0), promised=True) is PaymentStatus.AUTHORIZED
    assert cod_status(Decimal(0), Decimal(0), promised=False) is PaymentStatus.VOIDED
    assert cod_status(Decimal(50), Decimal(0), promised=True) is PaymentStatus.CAPTURED
    assert cod_status(Decimal(50), Decimal(10), promised=False) is PaymentStatus.PARTIALLY_REFUNDED
    assert cod_status(Decimal(50), Decimal(50), promised=False) is PaymentStatus.REFUNDED
