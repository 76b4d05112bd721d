"""After-sales feedback and the complaints queue (R11; docs/api.md "Feedback and complaints").

Customers rate an order (`review`) or complain (`complaint`). A review needs the order delivered
(any parcel delivered, or the order delivered, returning or closed); a complaint is welcome at
any time after submission. A complaint opens an item in the ops complaints queue until ops
resolve it; the customer's next review of that order then rates the after-sales service.
Complaints are capped (settings `complaints_open_per_order`, `complaints_per_customer_per_day`,
counted by store.feedback): beyond, 429 /problems/too-many-complaints.
"""

import hashlib
import json
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, forbid_other_customers, require
from api.deps import SessionsDep, SettingsDep
from api.problems import ProblemError
from domain.enums import OrderStatus, Role, ShipmentStatus
from domain.models import OrderView, Problem, Strict
from store import feedback as store
from store import projection

router = APIRouter()
ClientRole = Annotated[Principal, Depends(require(Role.CLIENT))]
OpsRole = Annotated[Principal, Depends(require(Role.OPS))]

# Order statuses in which the customer has (some of) the goods: a review makes sense.
REVIEWABLE = frozenset({OrderStatus.PARTIALLY_DELIVERED, OrderStatus.DELIVERED, OrderStatus.RETURNING, OrderStatus.CLOSED})


class FeedbackKind(StrEnum):
    REVIEW = "review"
    COMPLAINT = "complaint"


class ComplaintStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class FeedbackBody(Strict):
    rating: Annotated[int, Field(ge=1, le=5, strict=True, description="1 (worst) to 5 (best)")]
    comment: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None, description="free text; required for a complaint"
    )
    kind: FeedbackKind = FeedbackKind.REVIEW


class FeedbackOut(BaseModel):
    feedback_id: str
    order_id: str
    kind: FeedbackKind
    rating: int
    comment: str | None
    created_at: datetime
    complaint_id: str | None = Field(
        description="the complaint this opened; on a review, the resolved complaint whose handling it rates"
    )


class ComplaintOut(BaseModel):
    complaint_id: str
    order_id: str
    customer_id: str
    status: ComplaintStatus
    rating: int
    comment: str | None
    feedback_id: str = Field(description="the complaint as the customer sent it")
    opened_at: datetime
    age_seconds: int = Field(description="seconds from opening to now (open) or to resolution (resolved)")
    resolved_at: datetime | None
    resolved_by: str | None = Field(description="the ops key's name that resolved it")
    note: str | None = Field(description="how ops resolved it")
    service_rating: int | None = Field(description="the customer's rating of the after-sales service, once given")


class ComplaintQueue(BaseModel):
    items: list[ComplaintOut]


class ResolveBody(Strict):
    note: Annotated[str, Field(min_length=1, max_length=2000, description="how the complaint was resolved")]


def _out(fb: store.Feedback) -> FeedbackOut:
    return FeedbackOut(
        feedback_id=fb.feedback_id,
        order_id=fb.order_id,
        kind=FeedbackKind(fb.kind),
        rating=fb.rating,
        comment=fb.comment,
        created_at=fb.created_at,
        complaint_id=fb.complaint_id,
    )


def complaint_out(complaint: store.Complaint, now: datetime) -> ComplaintOut:
    end = complaint.resolved_at or now
    return ComplaintOut(
        complaint_id=complaint.complaint_id,
        order_id=complaint.order_id,
        customer_id=complaint.customer_id,
        status=ComplaintStatus(complaint.status),
        rating=complaint.rating,
        comment=complaint.comment,
        feedback_id=complaint.feedback_id,
        opened_at=complaint.opened_at,
        age_seconds=max(0, int((end - complaint.opened_at).total_seconds())),
        resolved_at=complaint.resolved_at,
        resolved_by=complaint.resolved_by,
        note=complaint.note,
        service_rating=complaint.service_rating,
    )


def reviewable(order: OrderView) -> bool:
    """The customer has had something delivered: the order, or at least one parcel."""
    return order.status in REVIEWABLE or any(s.status is ShipmentStatus.DELIVERED for s in order.shipments)


def _feedback_hash(order_id: str, body: FeedbackBody) -> str:
    content = {"order_id": order_id, **body.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _too_many_complaints(order_id: str, customer_id: str, capped: store.TooManyComplaints) -> ProblemError:
    """The 429 of a complaint past a cap: which cap, its limit, and when another one is possible."""
    extra = {"scope": capped.scope, "limit": capped.limit}
    if capped.retry_at is None or capped.retry_after is None:
        # An order's open complaints: a slot frees when ops resolve one, at no time we can name.
        return ProblemError(
            429,
            f"order {order_id} has {capped.limit} open complaints, the most one order may have; "
            "another can be opened once one of them is resolved",
            type_="/problems/too-many-complaints",
            extra=extra,
        )
    seconds = max(1, math.ceil(capped.retry_after.total_seconds()))
    retry_at = capped.retry_at.astimezone(UTC).isoformat()
    return ProblemError(
        429,
        f"customer {customer_id} opened {capped.limit} complaints in the last 24 hours, the most allowed; "
        f"the next one can be opened from {retry_at} (in {seconds} s)",
        type_="/problems/too-many-complaints",
        extra={**extra, "retry_at": retry_at},
        headers={"Retry-After": str(seconds)},
    )


def _record(
    sessions: SessionsDep,
    order_id: str,
    body: FeedbackBody,
    principal: Principal,
    idempotency_key: str | None,
    limits: store.ComplaintLimits,
) -> tuple[store.Feedback, bool]:
    order = projection.get_order(sessions, order_id)
    if order is None:
        raise ProblemError(404, f"no order {order_id}")
    forbid_other_customers(principal, order.customer.id, order_id)
    if body.kind is FeedbackKind.COMPLAINT and not (body.comment or "").strip():
        raise ProblemError(
            422,
            "1 invalid field(s)",
            type_="/problems/invalid-request",
            errors=[Problem(field="comment", message="a complaint needs a comment saying what went wrong")],
        )
    try:
        return store.add_feedback(
            sessions,
            order_id=order_id,
            customer_id=order.customer.id,
            kind=body.kind.value,
            rating=body.rating,
            comment=body.comment,
            actor=principal.name,
            order_reviewable=reviewable(order),
            idempotency_key=f"{principal.name}:{idempotency_key}" if idempotency_key is not None else None,
            request_hash=_feedback_hash(order_id, body),
            complaint_limits=limits,
        )
    except store.TooManyComplaints as capped:
        raise _too_many_complaints(order_id, order.customer.id, capped) from None
    except store.ReviewNotAllowed:
        raise ProblemError(
            409,
            f"order {order_id} is {order.status.value}: it can be reviewed once a parcel is delivered "
            "(a complaint is possible now)",
            type_="/problems/review-not-allowed",
        ) from None
    except store.AlreadyReviewed as refused:
        raise ProblemError(409, str(refused), type_="/problems/already-reviewed") from None
    except store.IdempotencyConflict as refused:
        raise ProblemError(409, str(refused), type_="/problems/idempotency-conflict") from None


@router.post(
    "/orders/{order_id}/feedback",
    tags=["orders"],
    status_code=201,
    response_model=FeedbackOut,
    responses={
        200: {"model": FeedbackOut, "description": "an idempotent repeat (same Idempotency-Key and body)"},
        404: {"description": "unknown order"},
        409: {"description": "review before delivery, second review, or an idempotency key reused"},
        429: {"description": "a complaint past a cap: the order's open complaints, or the customer's in 24 hours"},
    },
)
async def post_feedback(
    order_id: str,
    body: FeedbackBody,
    response: Response,
    principal: ClientRole,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> FeedbackOut:
    """Rate the order (`review`, once something was delivered) or complain about it (`complaint`,
    any time; opens an item in the ops complaints queue). After a complaint is resolved, the next
    review rates the after-sales service (its `complaint_id` names the complaint). Complaints are
    capped: so many open at once on one order (`OMS_COMPLAINTS_OPEN_PER_ORDER`), so many per
    customer in any 24 hours (`OMS_COMPLAINTS_PER_CUSTOMER_PER_DAY`); beyond, 429
    `/problems/too-many-complaints` (with `Retry-After` when the 24-hour cap is the one reached)."""
    limits = store.ComplaintLimits(settings.complaints_open_per_order, settings.complaints_per_customer_per_day)
    fb, created = await run_in_threadpool(_record, sessions, order_id, body, principal, idempotency_key, limits)
    response.status_code = 201 if created else 200
    return _out(fb)


@router.get("/orders/{order_id}/feedback", tags=["orders"], response_model=list[FeedbackOut])
def get_order_feedback(order_id: str, principal: ClientRole, sessions: SessionsDep) -> list[FeedbackOut]:
    """Every review and complaint of the order, oldest first."""
    order = projection.get_order(sessions, order_id)
    if order is None:
        raise ProblemError(404, f"no order {order_id}")
    forbid_other_customers(principal, order.customer.id, order_id)
    return [_out(fb) for fb in store.feedback_of_order(sessions, order_id)]


@router.get("/ops/complaints", tags=["operations"], response_model=ComplaintQueue)
def ops_complaints(
    _: OpsRole,
    sessions: SessionsDep,
    status: ComplaintStatus = ComplaintStatus.OPEN,
    order_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ComplaintQueue:
    """The complaints queue, oldest first (open ones unless `status=resolved`)."""
    complaints = store.list_complaints(sessions, status=status.value, order_id=order_id, limit=limit)
    now = datetime.now(UTC)
    return ComplaintQueue(items=[complaint_out(c, now) for c in complaints])


@router.get(
    "/ops/complaints/{complaint_id}",
    tags=["operations"],
    response_model=ComplaintOut,
    responses={404: {"description": "unknown complaint"}},
)
def ops_complaint(complaint_id: str, _: OpsRole, sessions: SessionsDep) -> ComplaintOut:
    complaint = store.get_complaint(sessions, complaint_id)
    if complaint is None:
        raise ProblemError(404, f"no complaint {complaint_id}")
    return complaint_out(complaint, datetime.now(UTC))


@router.post(
    "/ops/complaints/{complaint_id}/resolve",
    tags=["operations"],
    response_model=ComplaintOut,
    responses={404: {"description": "unknown complaint"}, 409: {"description": "resolved already"}},
)
def resolve(complaint_id: str, body: ResolveBody, principal: OpsRole, sessions: SessionsDep) -> ComplaintOut:
    """Resolve an open complaint, recording the ops key's name and the note; 409 when resolved already."""
    return resolve_complaint(sessions, complaint_id, body, principal.name)


def resolve_complaint(
    sessions: sessionmaker[Session], complaint_id: str, body: ResolveBody, actor: str
) -> ComplaintOut:
    """The one path of resolving a complaint, for the API and the ops console. Raises ProblemError
    (404 unknown, 409 resolved already)."""
    try:
        complaint = store.resolve_complaint(sessions, complaint_id, actor=actor, note=body.note)
    except store.ComplaintNotFound:
        raise ProblemError(404, f"no complaint {complaint_id}") from None
    except store.ComplaintAlreadyResolved as done:
        resolved_at = done.complaint.resolved_at.isoformat() if done.complaint.resolved_at else "?"
        raise ProblemError(
            409,
            f"complaint {complaint_id} was resolved by {done.complaint.resolved_by} at {resolved_at}",
            type_="/problems/complaint-already-resolved",
        ) from None
    return complaint_out(complaint, datetime.now(UTC))
