"""store.feedback on a real PostgreSQL: reviews, complaints, the complaints queue and the figures
the reports read (average rating, complaint counts)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.enums import OrderStatus
from domain.models import Customer
from store import feedback as fb
from store.models import NotificationOutboxRow
from store.projection import record_transition
from tests.store.test_store_projection import entry, order


def add(sf: sessionmaker[Session], order_id: str = "O-1", **overrides: Any) -> tuple[fb.Feedback, bool]:
    values: dict[str, Any] = {
        "order_id": order_id,
        "customer_id": "cust-1",
        "kind": "review",
        "rating": 5,
        "comment": "great",
        "actor": "dev-client",
        "order_reviewable": True,
    }
    values.update(overrides)
    return fb.add_feedback(sf, **values)


def test_review_is_recorded_once_per_order(session_factory: sessionmaker[Session]) -> None:
    review, created = add(session_factory, rating=4)
    assert created
    assert review.feedback_id.startswith("FB-")
    assert (review.order_id, review.kind, review.rating, review.comment, review.complaint_id) == (
        "O-1", "review", 4, "great", None,
    )
    assert review.created_at.tzinfo is not None
    assert fb.get_feedback(session_factory, review.feedback_id) == review

    with pytest.raises(fb.AlreadyReviewed):
        add(session_factory, rating=1)
    assert fb.feedback_of_order(session_factory, "O-1") == [review]


def test_review_before_delivery_is_refused(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(fb.ReviewNotAllowed):
        add(session_factory, order_reviewable=False)
    assert fb.feedback_of_order(session_factory, "O-1") == []


def test_complaint_opens_a_queue_item_oldest_first(session_factory: sessionmaker[Session]) -> None:
    first, _ = add(session_factory, "O-1", kind="complaint", rating=1, comment="late", order_reviewable=False)
    second, _ = add(session_factory, "O-2", kind="complaint", rating=2, comment="broken")
    assert first.complaint_id is not None and first.complaint_id.startswith("CMP-")

    queue = fb.list_complaints(session_factory)
    assert [c.complaint_id for c in queue] == [first.complaint_id, second.complaint_id]
    item = queue[0]
    assert (item.order_id, item.customer_id, item.status, item.rating, item.comment, item.feedback_id) == (
        "O-1", "cust-1", "open", 1, "late", first.feedback_id,
    )
    assert item.resolved_at is None and item.resolved_by is None and item.note is None
    assert fb.list_complaints(session_factory, status="resolved") == []
    assert [c.complaint_id for c in fb.list_complaints(session_factory, order_id="O-2")] == [second.complaint_id]
    assert fb.complaint_counts(session_factory) == {"open": 2, "resolved": 0}


def test_resolving_records_the_actor_once(session_factory: sessionmaker[Session]) -> None:
    complaint, _ = add(session_factory, kind="complaint", rating=1, comment="late")
    assert complaint.complaint_id is not None

    resolved = fb.resolve_complaint(session_factory, complaint.complaint_id, actor="dev-ops", note="refunded shipping")
    assert (resolved.status, resolved.resolved_by, resolved.note) == ("resolved", "dev-ops", "refunded shipping")
    assert resolved.resolved_at is not None and resolved.resolved_at >= resolved.opened_at

    with pytest.raises(fb.ComplaintAlreadyResolved) as again:
        fb.resolve_complaint(session_factory, complaint.complaint_id, actor="someone", note="again")
    assert again.value.complaint.resolved_by == "dev-ops"
    with pytest.raises(fb.ComplaintNotFound):
        fb.resolve_complaint(session_factory, "CMP-NOPE", actor="dev-ops", note="x")

    assert fb.list_complaints(session_factory) == []
    assert [c.complaint_id for c in fb.list_complaints(session_factory, status="resolved")] == [
        complaint.complaint_id
    ]
    assert fb.complaint_counts(session_factory) == {"open": 0, "resolved": 1}


def outbox(sf: sessionmaker[Session]) -> list[NotificationOutboxRow]:
    with sf() as s:
        return list(s.scalars(select(NotificationOutboxRow).order_by(NotificationOutboxRow.id)))


def known_order(sf: sessionmaker[Session], order_id: str, customer: Customer) -> None:
    """The order's projection row, where resolving reads the customer's address and language."""
    view = order(order_id).model_copy(update={"customer": customer})
    record_transition(sf, view, entry(OrderStatus.RECEIVED, "order.received"), 1)


def test_resolving_queues_one_pending_message_to_the_customer(session_factory: sessionmaker[Session]) -> None:
    known_order(session_factory, "O-1", Customer(id="cust-1", email="li@example.com", name="Li Lei", language="zh"))
    complaint, _ = add(session_factory, kind="complaint", rating=1, comment="late")
    assert complaint.complaint_id is not None
    cid = complaint.complaint_id
    assert outbox(session_factory) == []  # opening a complaint tells no one

    fb.resolve_complaint(session_factory, cid, actor="dev-ops", note="运费已退还")
    [message] = outbox(session_factory)
    assert (message.kind, message.order_id, message.recipient, message.status, message.language) == (
        "complaint_resolved", "O-1", "li@example.com", "pending", "zh",
    )
    assert message.dedupe_key == f"notify:O-1:complaint_resolved:{cid}"
    assert message.subject == "订单 O-1 的投诉已处理"
    assert cid in message.body and "运费已退还" in message.body and "Li Lei" in message.body

    # A second resolution is refused and writes nothing more.
    with pytest.raises(fb.ComplaintAlreadyResolved):
        fb.resolve_complaint(session_factory, cid, actor="someone", note="again")
    assert [m.dedupe_key for m in outbox(session_factory)] == [message.dedupe_key]


def test_each_resolved_complaint_is_its_own_message_in_the_customers_language(
    session_factory: sessionmaker[Session],
) -> None:
    known_order(session_factory, "O-1", Customer(id="cust-1", email="ann@example.com", name="Ann", language="en"))
    first, _ = add(session_factory, kind="complaint", rating=1, comment="late")
    second, _ = add(session_factory, kind="complaint", rating=2, comment="dented box")
    assert first.complaint_id is not None and second.complaint_id is not None

    fb.resolve_complaint(session_factory, first.complaint_id, actor="dev-ops", note="refunded shipping")
    fb.resolve_complaint(session_factory, second.complaint_id, actor="dev-ops", note="sent a new box")
    messages = outbox(session_factory)
    assert [m.dedupe_key for m in messages] == [
        f"notify:O-1:complaint_resolved:{first.complaint_id}",
        f"notify:O-1:complaint_resolved:{second.complaint_id}",
    ]
    assert {m.subject for m in messages} == {"Your complaint about order O-1 is resolved"}
    assert "refunded shipping" in messages[0].body and "sent a new box" in messages[1].body
    assert [(m.recipient, m.language) for m in messages] == [("ann@example.com", "en")] * 2


def test_review_after_resolution_rates_the_after_sales_service(session_factory: sessionmaker[Session]) -> None:
    plain, _ = add(session_factory, rating=2)  # the order was reviewed already
    complaint, _ = add(session_factory, kind="complaint", rating=1, comment="scratched")
    assert complaint.complaint_id is not None

    # Unresolved: a second review is still refused.
    with pytest.raises(fb.AlreadyReviewed):
        add(session_factory, rating=4)

    fb.resolve_complaint(session_factory, complaint.complaint_id, actor="dev-ops", note="replaced")
    service, created = add(session_factory, rating=5, comment="quick replacement", order_reviewable=False)
    assert created and service.complaint_id == complaint.complaint_id
    rated = fb.get_complaint(session_factory, complaint.complaint_id)
    assert rated is not None and rated.service_rating == 5
    with pytest.raises(fb.AlreadyReviewed):
        add(session_factory, rating=3)
    assert [f.feedback_id for f in fb.feedback_of_order(session_factory, "O-1")] == [
        plain.feedback_id, complaint.feedback_id, service.feedback_id,
    ]


def test_idempotency_key_returns_the_first_feedback(session_factory: sessionmaker[Session]) -> None:
    first, created = add(session_factory, idempotency_key="c:k1", request_hash="h1")
    again, repeated = add(session_factory, idempotency_key="c:k1", request_hash="h1")
    assert created and not repeated and again == first
    with pytest.raises(fb.IdempotencyConflict):
        add(session_factory, idempotency_key="c:k1", request_hash="h2", rating=1)

    complaint, _ = add(session_factory, kind="complaint", comment="x", idempotency_key="c:k2", request_hash="h3")
    same, repeated = add(session_factory, kind="complaint", comment="x", idempotency_key="c:k2", request_hash="h3")
    assert not repeated and same == complaint
    assert fb.complaint_counts(session_factory) == {"open": 1, "resolved": 0}


def test_average_rating_and_bounds(session_factory: sessionmaker[Session]) -> None:
    assert fb.average_rating(session_factory) is None
    add(session_factory, "O-1", rating=5)
    add(session_factory, "O-2", rating=2)
    add(session_factory, "O-3", kind="complaint", rating=1, comment="bad")

    assert fb.average_rating(session_factory) == pytest.approx(3.5)
    assert fb.average_rating(session_factory, kind=None) == pytest.approx(8 / 3)
    assert fb.average_rating(session_factory, kind="complaint") == pytest.approx(1.0)
    now = datetime.now(UTC)
    assert fb.average_rating(session_factory, since=now - timedelta(hours=1), until=now + timedelta(hours=1)) == (
        pytest.approx(3.5)
    )
    assert fb.average_rating(session_factory, since=now + timedelta(hours=1)) is None
    assert fb.average_rating(session_factory, until=now - timedelta(hours=1)) is None


def test_bad_values_never_reach_the_database(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError):
        add(session_factory, rating=0)
    with pytest.raises(ValueError):
        add(session_factory, kind="praise")
    assert fb.feedback_of_order(session_factory, "O-1") == []


def test_complaint_caps_count_open_per_order_and_per_customer_in_24_hours(
    session_factory: sessionmaker[Session],
) -> None:
    """The per-customer cap frees when its limit-th newest complaint is 24 hours old, also when a
    lowered limit leaves more than `limit` complaints in the window."""
    for order_id in ("C-1", "C-2", "C-3"):
        add(session_factory, order_id, customer_id="cust-c", kind="complaint", comment="x")
    made = [f for o in ("C-1", "C-2", "C-3") for f in fb.feedback_of_order(session_factory, o)]
    loose = fb.ComplaintLimits(open_per_order=1, per_customer_per_day=10)
    with pytest.raises(fb.TooManyComplaints) as order_cap:
        add(session_factory, "C-1", customer_id="cust-c", kind="complaint", comment="y", complaint_limits=loose)
    assert (order_cap.value.scope, order_cap.value.limit, order_cap.value.retry_at) == ("order", 1, None)

    lowered = fb.ComplaintLimits(open_per_order=5, per_customer_per_day=2)
    with pytest.raises(fb.TooManyComplaints) as customer_cap:
        add(session_factory, "C-4", customer_id="cust-c", kind="complaint", comment="y", complaint_limits=lowered)
    second_newest = sorted(f.created_at for f in made)[-2]
    assert customer_cap.value.scope == "customer"
    assert customer_cap.value.retry_at == second_newest + timedelta(hours=24)
    assert customer_cap.value.retry_after is not None
    assert timedelta(hours=23) < customer_cap.value.retry_after <= timedelta(hours=24)
    assert fb.feedback_of_order(session_factory, "C-4") == []
    # Another customer is not held back by cust-c's complaints, and reviews are never capped.
    add(session_factory, "C-5", customer_id="cust-d", kind="complaint", comment="z", complaint_limits=lowered)
    add(session_factory, "C-1", customer_id="cust-c", kind="review", complaint_limits=lowered)
