"""Cancelling while a payment call is in doubt: the gateway timed out, so the order cannot know
whether the authorization or the capture happened. The compensation must undo exactly what did
happen, once: void an authorization that exists, refund a capture that went through, and touch
nothing twice.

The stub gateway fails the call (a retryable error) on every attempt the order's retry budget
allows, with or without the operation having taken effect first; the order parks the step for
ops, and the cancel arrives while it is parked.
"""

from decimal import Decimal

import pytest

from domain import ids
from domain.enums import OpsActionKind, OrderStatus, PaymentStatus
from domain.models import OrderPolicy, OrderView
from tests.workflows.driver import Orders, order_request

ATTEMPTS = 2  # the order's retry budget per step, kept small so the step parks at once
TOTAL = Decimal("111.00")  # 99.00 and 12.00 of standard shipping


async def _parked_on(orders: Orders, step: str) -> OrderView:
    orders.stubs.add_item("LAMP", WH_EAST=3)
    order = await orders.submit(order_request(("LAMP", 1, "99.00")), OrderPolicy(activity_attempts=ATTEMPTS))
    parked = await orders.wait(
        order.order_id, lambda o: o.timeline[-1].event == "step.parked", f"{step} parked"
    )
    assert parked.status is OrderStatus.PAYMENT_PENDING
    assert parked.timeline[-1].detail == {"step": step}
    assert parked.needs_attention and f"{step} failed" in (parked.attention_reason or "")
    assert {OpsActionKind.RETRY, OpsActionKind.CANCEL} <= set(parked.available_actions)
    return parked


@pytest.mark.parametrize("took_effect", [True, False], ids=["authorized-answer-lost", "never-reached"])
async def test_cancel_while_the_authorization_is_in_doubt_voids_it_once(orders: Orders, took_effect: bool) -> None:
    orders.stubs.glitch("authorize_payment", ATTEMPTS, after_effect=took_effect)
    parked = await _parked_on(orders, "payment authorization")

    cancelled = await orders.cancel(parked.order_id)

    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.payment.status is PaymentStatus.VOIDED
    # The order asks again by the same key to learn the authorization, then voids that one.
    ledger = [(row.operation, row.key) for row in orders.stubs.ledger]
    assert ledger == [
        ("authorize", ids.payment_key(parked.order_id, "authorize")),
        ("void", ids.payment_key(parked.order_id, "void")),
    ]
    assert len({row.payment_id for row in orders.stubs.ledger}) == 1
    assert orders.stubs.calls["capture_payment"] == 0 and orders.stubs.calls["refund_payment"] == 0
    assert orders.stubs.calls["release_stock"] == 1
    assert orders.stubs.reserved("WH-EAST", "LAMP") == 0
    assert not cancelled.needs_attention
    await orders.sent(parked.order_id, "cancelled")
    await orders.projected(parked.order_id)


async def test_cancel_while_a_capture_that_went_through_is_in_doubt_refunds_it_once(orders: Orders) -> None:
    orders.stubs.glitch("capture_payment", ATTEMPTS, after_effect=True)
    parked = await _parked_on(orders, "payment capture")
    assert parked.payment.status is PaymentStatus.AUTHORIZED, "the order does not know of the capture"

    cancelled = await orders.cancel(parked.order_id)

    # The void is refused (the payment is captured), so the capture is refunded in full.
    assert orders.stubs.refused == [("void_payment", "InvalidOrder")]
    assert [(row.operation, row.amount) for row in orders.stubs.ledger] == [
        ("authorize", TOTAL),
        ("capture", TOTAL),
        ("refund", TOTAL),
    ]
    assert orders.stubs.ledger[-1].key == ids.payment_key(parked.order_id, "refund-cancel")
    assert cancelled.payment.status is PaymentStatus.REFUNDED
    assert cancelled.totals.refunded == TOTAL
    assert orders.stubs.calls["release_stock"] == 1
    await orders.projected(parked.order_id)


async def test_cancel_while_a_capture_that_never_happened_is_in_doubt_voids_the_authorization(
    orders: Orders,
) -> None:
    orders.stubs.glitch("capture_payment", ATTEMPTS, after_effect=False)
    parked = await _parked_on(orders, "payment capture")

    cancelled = await orders.cancel(parked.order_id)

    assert [row.operation for row in orders.stubs.ledger] == ["authorize", "void"]
    assert orders.stubs.refused == [] and orders.stubs.calls["refund_payment"] == 0
    assert cancelled.payment.status is PaymentStatus.VOIDED
    assert cancelled.totals.refunded == Decimal("0.00")
    await orders.projected(parked.order_id)


async def test_retrying_a_capture_whose_answer_was_lost_charges_once(orders: Orders) -> None:
    orders.stubs.glitch("capture_payment", ATTEMPTS, after_effect=True)
    parked = await _parked_on(orders, "payment capture")

    await orders.ops(parked.order_id, OpsActionKind.RETRY, note="gateway is back")
    going = await orders.wait_status(parked.order_id, OrderStatus.FULFILLING)

    assert going.payment.status is PaymentStatus.CAPTURED
    assert [row.operation for row in orders.stubs.ledger] == ["authorize", "capture"]
    assert orders.stubs.calls["capture_payment"] == ATTEMPTS + 1, "asked again by the same key"
    assert not going.needs_attention
    assert [e.event for e in going.timeline].count("step.retried") == 1
