"""After-sales feedback and the complaints queue (R11).

Customers rate an order (`review`) or complain about it (`complaint`). A complaint opens an item
in the ops complaints queue, oldest first, until ops resolve it. Resolving it queues one
`complaint_resolved` message to the customer, with the note, in the same transaction (the worker's
sweep delivers it: adapters.notifications.pending). After a complaint is resolved the
customer's next review of that order rates the after-sales service: it is linked to the complaint
(`complaint_id`) and shown on it as `service_rating`.

Rules kept here (the API decides only whether the order itself may be reviewed yet):
- one plain review per order (a second one is `AlreadyReviewed`);
- one service rating per resolved complaint;
- an `Idempotency-Key` names one feedback: a repeat with the same request returns it, a repeat
  with another request is an `IdempotencyConflict`;
- complaints are capped (`ComplaintLimits`, from the settings): so many open at once on one order,
  so many per customer in any 24 hours over all their orders; beyond, `TooManyComplaints`. Reviews
  need no cap: one per order, and one per resolved complaint.

The caps are counted here, in PostgreSQL, because several API processes take complaints. Two
complaints of one customer at once must not both take the last slot, so a complaint first takes a
transaction-level advisory lock on its customer (one customer's complaints queue behind each other;
an order has one customer, so this serialises both counts) and counts after it, in READ COMMITTED:
each count sees the complaints committed by whoever held the lock before.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import structlog
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from domain.models import STORED_DATA, Customer
from domain.notifications import complaint_resolved_notification
from store.models import ComplaintRow, FeedbackRow, OrderRow
from store.pending_notifications import queue_notification

SessionFactory = sessionmaker[Session]
_log = structlog.get_logger(__name__)

REVIEW: Final = "review"
COMPLAINT: Final = "complaint"
OPEN: Final = "open"
RESOLVED: Final = "resolved"
KINDS: Final = (REVIEW, COMPLAINT)
COMPLAINT_STATUSES: Final = (OPEN, RESOLVED)
# The window of the per-customer cap: any 24 hours (rolling, so no burst around midnight).
COMPLAINT_WINDOW: Final = timedelta(hours=24)
# The advisory lock class of complaint submission (the key is the customer id), as two int4 keys
# like adapters.notifications.delivery's: the class keeps the two kinds of lock apart.
_COMPLAINT_LOCK_CLASS: Final = "complaint-submission"


@dataclass(frozen=True)
class ComplaintLimits:
    """How many complaints may be open at once on one order, and opened per customer in any 24 hours."""

    open_per_order: int
    per_customer_per_day: int


@dataclass(frozen=True)
class Feedback:
    feedback_id: str
    order_id: str
    customer_id: str
    kind: str
    rating: int
    comment: str | None
    actor: str
    complaint_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Complaint:
    complaint_id: str
    order_id: str
    customer_id: str
    status: str
    rating: int
    comment: str | None
    feedback_id: str
    opened_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None
    # The rating of the customer's review after resolution (the after-sales service), if any.
    service_rating: int | None


class FeedbackRefused(Exception):
    """Feedback that the rules do not accept now (the API answers 409)."""


class ReviewNotAllowed(FeedbackRefused):
    """A review of an order that is not delivered and has no resolved complaint to rate."""


class AlreadyReviewed(FeedbackRefused):
    """The order has its review already (and no resolved complaint waits for a rating)."""


class IdempotencyConflict(FeedbackRefused):
    """The Idempotency-Key named another request before."""


class TooManyComplaints(Exception):
    """A complaint beyond a cap (the API answers 429). `scope` says which cap: the order's open
    complaints (a slot frees when ops resolve one: `retry_at` and `retry_after` None) or the
    customer's complaints of the last 24 hours (a slot frees at `retry_at`, which is `retry_after`
    from now, both by the database's clock)."""

    def __init__(
        self,
        scope: Literal["order", "customer"],
        limit: int,
        retry_at: datetime | None = None,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(f"complaint cap of the {scope} reached ({limit})")
        self.scope = scope
        self.limit = limit
        self.retry_at = retry_at
        self.retry_after = retry_after


class ComplaintNotFound(LookupError):
    pass


class ComplaintAlreadyResolved(Exception):
    def __init__(self, complaint: Complaint) -> None:
        super().__init__(f"complaint {complaint.complaint_id} was resolved by {complaint.resolved_by}")
        self.complaint = complaint


def new_feedback_id() -> str:
    return f"FB-{secrets.token_hex(6).upper()}"


def new_complaint_id() -> str:
    return f"CMP-{secrets.token_hex(6).upper()}"


def _feedback(row: FeedbackRow) -> Feedback:
    return Feedback(
        feedback_id=row.feedback_id,
        order_id=row.order_id,
        customer_id=row.customer_id,
        kind=row.kind,
        rating=row.rating,
        comment=row.comment,
        actor=row.actor,
        complaint_id=row.complaint_id,
        created_at=row.created_at,
    )


def _by_idempotency_key(s: Session, key: str, request_hash: str | None) -> Feedback | None:
    row = s.scalar(select(FeedbackRow).where(FeedbackRow.idempotency_key == key))
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise IdempotencyConflict("this idempotency key was used before with a different request body")
    return _feedback(row)


def _unrated_resolved_complaint(s: Session, order_id: str) -> str | None:
    """The order's most recently resolved complaint that has no service rating yet (locked)."""
    rated = exists().where(
        FeedbackRow.complaint_id == ComplaintRow.complaint_id, FeedbackRow.kind == REVIEW
    )
    return s.scalar(
        select(ComplaintRow.complaint_id)
        .where(ComplaintRow.order_id == order_id, ComplaintRow.status == RESOLVED, ~rated)
        .order_by(ComplaintRow.resolved_at.desc(), ComplaintRow.complaint_id.desc())
        .limit(1)
        .with_for_update(of=ComplaintRow)
    )


def _check_complaint_limits(s: Session, order_id: str, customer_id: str, limits: ComplaintLimits) -> None:
    """Raise TooManyComplaints when one more complaint would pass a cap. The caller holds the
    customer's advisory lock, so nothing of this customer commits between these counts and the insert."""
    open_on_order = s.scalar(
        select(func.count()).where(ComplaintRow.order_id == order_id, ComplaintRow.status == OPEN)
    )
    if (open_on_order or 0) >= limits.open_per_order:
        raise TooManyComplaints("order", limits.open_per_order)
    # The customer's newest `limit` complaints: when the oldest of them is inside the window, the
    # window holds `limit` already, and a slot frees when that one leaves it.
    newest = (
        select(FeedbackRow.created_at)
        .where(FeedbackRow.customer_id == customer_id, FeedbackRow.kind == COMPLAINT)
        .where(FeedbackRow.created_at > func.now() - COMPLAINT_WINDOW)
        .order_by(FeedbackRow.created_at.desc())
        .limit(limits.per_customer_per_day)
        .subquery()
    )
    count, oldest, now = s.execute(select(func.count(), func.min(newest.c.created_at), func.clock_timestamp())).one()
    if count >= limits.per_customer_per_day:
        retry_at = oldest + COMPLAINT_WINDOW
        raise TooManyComplaints("customer", limits.per_customer_per_day, retry_at, retry_at - now)


def add_feedback(
    sf: SessionFactory,
    *,
    order_id: str,
    customer_id: str,
    kind: str,
    rating: int,
    comment: str | None,
    actor: str,
    order_reviewable: bool,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    complaint_limits: ComplaintLimits | None = None,
) -> tuple[Feedback, bool]:
    """Record feedback; a complaint opens a queue item. Returns (feedback, created): created is
    False for an idempotent repeat. `order_reviewable` says whether the order is far enough along
    (delivered) for a plain review. Raises a `FeedbackRefused` when the rules refuse it, and
    `TooManyComplaints` when a complaint passes `complaint_limits` (None: no caps). An idempotent
    repeat of a complaint is returned even when the caps have been reached since (it opens nothing)."""
    if kind not in KINDS:
        raise ValueError(f"unknown feedback kind {kind!r}")
    if not 1 <= rating <= 5:
        raise ValueError(f"rating {rating} is not within 1-5")
    try:
        with sf.begin() as s:
            if kind == COMPLAINT and complaint_limits is not None:
                # First the lock, then every read: a request that waited for it sees what the
                # holder committed (its complaint, or the same Idempotency-Key).
                s.execute(
                    select(func.pg_advisory_xact_lock(func.hashtext(_COMPLAINT_LOCK_CLASS), func.hashtext(customer_id)))
                )
            if idempotency_key is not None:
                repeat = _by_idempotency_key(s, idempotency_key, request_hash)
                if repeat is not None:
                    return repeat, False
            complaint_id: str | None = None
            if kind == COMPLAINT:
                if complaint_limits is not None:
                    _check_complaint_limits(s, order_id, customer_id, complaint_limits)
                complaint_id = new_complaint_id()
                s.add(ComplaintRow(complaint_id=complaint_id, order_id=order_id, status=OPEN))
                s.flush()
            else:
                complaint_id = _unrated_resolved_complaint(s, order_id)
                if complaint_id is None and not order_reviewable:
                    raise ReviewNotAllowed(
                        f"order {order_id} can be reviewed once a parcel is delivered"
                    )
            row = FeedbackRow(
                feedback_id=new_feedback_id(),
                order_id=order_id,
                customer_id=customer_id,
                kind=kind,
                rating=rating,
                comment=comment,
                actor=actor,
                complaint_id=complaint_id,
                idempotency_key=idempotency_key,
                request_hash=request_hash if idempotency_key is not None else None,
            )
            s.add(row)
            s.flush()
            s.refresh(row)
            return _feedback(row), True
    except IntegrityError:
        # A concurrent request won the same idempotency key, plain review or service rating.
        if idempotency_key is not None:
            with sf() as s:
                repeat = _by_idempotency_key(s, idempotency_key, request_hash)
            if repeat is not None:
                return repeat, False
        if kind == REVIEW:
            raise AlreadyReviewed(f"order {order_id} has been reviewed already") from None
        raise


def get_feedback(sf: SessionFactory, feedback_id: str) -> Feedback | None:
    with sf() as s:
        row = s.get(FeedbackRow, feedback_id)
        return _feedback(row) if row is not None else None


def feedback_of_order(sf: SessionFactory, order_id: str) -> list[Feedback]:
    """Every feedback on an order, oldest first."""
    with sf() as s:
        rows = s.scalars(
            select(FeedbackRow)
            .where(FeedbackRow.order_id == order_id)
            .order_by(FeedbackRow.created_at, FeedbackRow.feedback_id)
        ).all()
        return [_feedback(row) for row in rows]


_Said = aliased(FeedbackRow, name="said")
_Rated = aliased(FeedbackRow, name="rated")
_COMPLAINT_QUERY = (
    select(ComplaintRow, _Said, _Rated.rating)
    .join(_Said, and_(_Said.complaint_id == ComplaintRow.complaint_id, _Said.kind == COMPLAINT))
    .outerjoin(_Rated, and_(_Rated.complaint_id == ComplaintRow.complaint_id, _Rated.kind == REVIEW))
)


def _complaint(row: ComplaintRow, said: FeedbackRow, service_rating: int | None) -> Complaint:
    return Complaint(
        complaint_id=row.complaint_id,
        order_id=row.order_id,
        customer_id=said.customer_id,
        status=row.status,
        rating=said.rating,
        comment=said.comment,
        feedback_id=said.feedback_id,
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        note=row.resolution_note,
        service_rating=service_rating,
    )


def get_complaint(sf: SessionFactory, complaint_id: str) -> Complaint | None:
    with sf() as s:
        found = s.execute(_COMPLAINT_QUERY.where(ComplaintRow.complaint_id == complaint_id)).first()
        return _complaint(*found) if found is not None else None


def list_complaints(
    sf: SessionFactory, *, status: str | None = OPEN, order_id: str | None = None, limit: int = 100
) -> list[Complaint]:
    """The complaints queue, oldest first; `status` None lists both open and resolved."""
    query = _COMPLAINT_QUERY
    if status is not None:
        query = query.where(ComplaintRow.status == status)
    if order_id is not None:
        query = query.where(ComplaintRow.order_id == order_id)
    query = query.order_by(ComplaintRow.opened_at, ComplaintRow.complaint_id).limit(max(1, min(limit, 500)))
    with sf() as s:
        return [_complaint(*found) for found in s.execute(query).all()]


def _tell_the_customer(s: Session, order_id: str, complaint_id: str, note: str) -> None:
    """Record the customer's `complaint_resolved` message, pending, in the resolving transaction:
    it commits with the resolution or not at all, and only the one transaction that moved the
    complaint from open gets here, so there is one message per complaint. The worker's sweep
    (adapters.notifications.pending) delivers it; the address and language are the customer's on
    the order's projection row, as the order's own notifications use."""
    customer = s.scalar(select(OrderRow.document["customer"]).where(OrderRow.order_id == order_id))
    if customer is None:
        # Complaints are only taken on known orders (the API reads the order first).
        _log.warning("complaint.customer_unknown", order_id=order_id, complaint_id=complaint_id)
        return
    queue_notification(
        s,
        complaint_resolved_notification(
            order_id, complaint_id, Customer.model_validate(customer, context=STORED_DATA), note
        ),
    )


def resolve_complaint(sf: SessionFactory, complaint_id: str, *, actor: str, note: str) -> Complaint:
    """Close an open complaint, recording who resolved it and how, and queue the customer's
    notification (with the note) in the same transaction.
    Raises ComplaintNotFound, or ComplaintAlreadyResolved (carrying the complaint as it is)."""
    with sf.begin() as s:
        resolved = s.scalar(
            update(ComplaintRow)
            .where(ComplaintRow.complaint_id == complaint_id, ComplaintRow.status == OPEN)
            .values(status=RESOLVED, resolved_at=func.clock_timestamp(), resolved_by=actor, resolution_note=note)
            .returning(ComplaintRow.order_id)
            .execution_options(synchronize_session=False)
        )
        if resolved is not None:
            _tell_the_customer(s, resolved, complaint_id, note)
    complaint = get_complaint(sf, complaint_id)
    if complaint is None:
        raise ComplaintNotFound(complaint_id)
    if resolved is None:
        raise ComplaintAlreadyResolved(complaint)
    return complaint


def average_rating(
    sf: SessionFactory,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    kind: str | None = REVIEW,
) -> float | None:
    """The mean rating of feedback created in [since, until) (None: no bound), of `kind`
    (reviews by default, which include after-sales service ratings; None: every kind).
    None when there is no such feedback."""
    query = select(func.avg(FeedbackRow.rating))
    if kind is not None:
        query = query.where(FeedbackRow.kind == kind)
    if since is not None:
        query = query.where(FeedbackRow.created_at >= since)
    if until is not None:
        query = query.where(FeedbackRow.created_at < until)
    with sf() as s:
        mean = s.scalar(query)
    return float(mean) if mean is not None else None


def complaint_counts(sf: SessionFactory) -> dict[str, int]:
    """Complaints by status: always both `open` and `resolved`."""
    with sf() as s:
        rows = s.execute(select(ComplaintRow.status, func.count()).group_by(ComplaintRow.status)).all()
    counts = dict.fromkeys(COMPLAINT_STATUSES, 0)
    for status, count in rows:
        counts[status] = int(count)
    return counts
