"""LedgerGateway: test tokens (docs/api.md) and idempotency by key, on a real PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.payments import TransientPaymentError
from adapters.payments.ledger import LedgerGateway
from domain.enums import PaymentStatus
from domain.errors import InvalidOrder, PaymentDeclined
from store.models import PaymentRow

SF = sessionmaker[Session]
D = Decimal


def ledger_rows(sf: SF, **where: str) -> int:
    query = select(func.count()).select_from(PaymentRow)
    for column, value in where.items():
        query = query.where(getattr(PaymentRow, column) == value)
    with sf() as s:
        return int(s.scalar(query) or 0)


@pytest.mark.parametrize(
    "method,token", [("card", "tok_visa"), ("wallet", "tok_wallet"), ("cod", None)]
)
def test_approving_tokens_authorize(
    session_factory: SF, method: str, token: str | None
) -> None:
    result = LedgerGateway(session_factory).authorize(
        "k1", "ORD-1", D("210.00"), "CNY", method, token
    )
    assert result.status is PaymentStatus.AUTHORIZED
    assert result.amount == D("210.00")
    assert result.payment_id.startswith("pay_")
    assert result.idempotency_key == "k1"


@pytest.mark.parametrize("token", ["tok_decline", "tok_unknown", None])
def test_other_tokens_decline_and_are_recorded(
    session_factory: SF, token: str | None
) -> None:
    gateway = LedgerGateway(session_factory)
    with pytest.raises(PaymentDeclined):
        gateway.authorize("k1", "ORD-1", D("10.00"), "CNY", "card", token)
    with pytest.raises(
        PaymentDeclined
    ):  # a repeat gives the same answer, without a new row
        gateway.authorize("k1", "ORD-1", D("10.00"), "CNY", "card", token)
    assert ledger_rows(session_factory, idempotency_key="k1", status="declined") == 1


def test_flaky_token_fails_twice_then_approves(session_factory: SF) -> None:
    gateway = LedgerGateway(session_factory)
    for _ in range(2):
        with pytest.raises(TransientPaymentError):
            gateway.authorize("k1", "ORD-1", D("10.00"), "CNY", "card", "tok_flaky")
    assert ledger_rows(session_factory) == 0
    first = gateway.authorize("k1", "ORD-1", D("10.00"), "CNY", "card", "tok_flaky")
    assert first.status is PaymentStatus.AUTHORIZED
    assert (
        gateway.authorize("k1", "ORD-1", D("10.00"), "CNY", "card", "tok_flaky")
        == first
    )
    # Attempts count per key: another key starts flaky again.
    with pytest.raises(TransientPaymentError):
        gateway.authorize("k2", "ORD-2", D("10.00"), "CNY", "card", "tok_flaky")


def test_same_key_twice_writes_one_row(session_factory: SF) -> None:
    gateway = LedgerGateway(session_factory)
    first = gateway.authorize("k1", "ORD-1", D("10.00"), "CNY", "card", "tok_visa")
    assert (
        gateway.authorize("k1", "ORD-1", D("10.00"), "CNY", "card", "tok_visa") == first
    )
    assert ledger_rows(session_factory, idempotency_key="k1") == 1


def test_concurrent_repeats_of_one_key_agree(session_factory: SF) -> None:
    gateway = LedgerGateway(session_factory)
    auth = gateway.authorize("auth", "ORD-1", D("100.00"), "CNY", "card", "tok_visa")
    with ThreadPoolExecutor(max_workers=8) as pool:
        auths = list(
            pool.map(
                lambda _: gateway.authorize(
                    "k", "ORD-2", D("5.00"), "CNY", "card", "tok_visa"
                ),
                range(8),
            )
        )
        captures = list(
            pool.map(
                lambda _: gateway.capture("cap", auth.payment_id, D("100.00")), range(8)
            )
        )
    assert len({a.payment_id for a in auths}) == 1
    assert all(c == captures[0] for c in captures)
    assert ledger_rows(session_factory, idempotency_key="k") == 1
    assert ledger_rows(session_factory, idempotency_key="cap") == 1


def test_capture_then_refunds_never_exceed_capture(session_factory: SF) -> None:
    gateway = LedgerGateway(session_factory)
    auth = gateway.authorize("a", "ORD-1", D("100.00"), "CNY", "card", "tok_visa")
    with pytest.raises(InvalidOrder):
        gateway.refund("r0", auth.payment_id, D("1.00"))  # nothing captured yet
    with pytest.raises(InvalidOrder):
        gateway.capture("c-too-much", auth.payment_id, D("100.01"))
    capture = gateway.capture("c", auth.payment_id, D("90.00"))
    assert (capture.status, capture.amount) == (PaymentStatus.CAPTURED, D("90.00"))
    assert gateway.capture("c", auth.payment_id, D("90.00")) == capture

    partial = gateway.refund("r1", auth.payment_id, D("40.00"))
    assert partial.status is PaymentStatus.PARTIALLY_REFUNDED
    assert (
        gateway.refund("r1", auth.payment_id, D("40.00")) == partial
    )  # a repeat refunds nothing more
    with pytest.raises(InvalidOrder):
        gateway.refund("r2", auth.payment_id, D("50.01"))
    rest = gateway.refund("r3", auth.payment_id, D("50.00"))
    assert rest.status is PaymentStatus.REFUNDED
    with pytest.raises(InvalidOrder):
        gateway.refund("r4", auth.payment_id, D("0.01"))
    with session_factory() as s:
        refunded = s.scalar(
            select(func.sum(PaymentRow.amount)).where(PaymentRow.operation == "refund")
        )
    assert refunded == D("90.00")


def test_void_only_before_capture(session_factory: SF) -> None:
    gateway = LedgerGateway(session_factory)
    held = gateway.authorize("a1", "ORD-1", D("10.00"), "CNY", "card", "tok_visa")
    voided = gateway.void("v1", held.payment_id)
    assert voided.status is PaymentStatus.VOIDED
    assert gateway.void("v1", held.payment_id) == voided
    with pytest.raises(InvalidOrder):
        gateway.capture("c1", held.payment_id, D("10.00"))

    taken = gateway.authorize("a2", "ORD-2", D("10.00"), "CNY", "card", "tok_visa")
    gateway.capture("c2", taken.payment_id, D("10.00"))
    with pytest.raises(InvalidOrder):
        gateway.void("v2", taken.payment_id)
    with pytest.raises(InvalidOrder):
        gateway.void("v3", "pay_unknown")


def test_cod_captures_parcel_by_parcel_up_to_the_promise_and_voids_a_share(
    session_factory: SF,
) -> None:
    gateway = LedgerGateway(session_factory)
    auth = gateway.authorize("a", "ORD-C", D("161.00"), "CNY", "cod", None)
    first = gateway.capture("c-P1", auth.payment_id, D("111.00"))
    assert first.status is PaymentStatus.CAPTURED
    assert gateway.capture("c-P1", auth.payment_id, D("111.00")) == first  # a repeat: no new row
    voided = gateway.void("v-P2", auth.payment_id, D("50.00"))  # the second parcel came back
    assert voided.status is PaymentStatus.VOIDED and voided.amount == D("50.00")
    with pytest.raises(InvalidOrder):
        gateway.capture("c-P3", auth.payment_id, D("50.01"))  # beyond the promise
    gateway.capture("c-P3", auth.payment_id, D("50.00"))  # a reship collected it after all
    with pytest.raises(InvalidOrder):
        gateway.void("v-all", auth.payment_id)  # nothing is left to void
    with pytest.raises(InvalidOrder):
        gateway.refund("r1", auth.payment_id, D("161.01"))
    assert gateway.refund("r1", auth.payment_id, D("161.00")).status is PaymentStatus.REFUNDED
    assert ledger_rows(session_factory, payment_id=auth.payment_id, operation="capture") == 2


def test_a_share_is_voided_only_of_cash_on_delivery(session_factory: SF) -> None:
    gateway = LedgerGateway(session_factory)
    card = gateway.authorize("a", "ORD-1", D("10.00"), "CNY", "card", "tok_visa")
    with pytest.raises(InvalidOrder):
        gateway.void("v", card.payment_id, D("5.00"))
    cod = gateway.authorize("b", "ORD-2", D("10.00"), "CNY", "cod", None)
    assert gateway.void("w", cod.payment_id).amount == D("10.00")  # no amount: the whole promise
