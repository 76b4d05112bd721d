"""Carrier tracking webhooks, authenticated by an HMAC-SHA256 signature of the raw body."""

import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Header, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import ClientDep, SessionsDep, SettingsDep
from api.problems import ProblemError, problems_of
from api.routers.warehouse import Accepted
from api.temporal_calls import report_tracking
from domain.facts import tracking_refusal
from domain.models import CleanText, TrackingEvent
from store import projection, tracking

router = APIRouter(tags=["carriers"])


class CarrierEvent(CleanText, TrackingEvent):
    """A TrackingEvent as a carrier posts it, its texts checked like every input's: a signed event
    with a NUL in its tracking number reached PostgreSQL, which refuses it (a 500)."""


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` put in place: in the OpenAPI document `#/$defs/...`
    would point at the document's root, where nothing is, and no client (schemathesis included)
    could build a body from it."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def signature_of(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@router.post(
    "/webhooks/carriers/{carrier}",
    status_code=202,
    response_model=Accepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(TrackingEvent.model_json_schema())}},
        }
    },
)
async def carrier_event(
    carrier: str,
    request: Request,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    x_signature: str | None = Header(default=None),
) -> Accepted:
    body = await request.body()
    secret = settings.carrier_secret_table().get(carrier)
    # Compared as bytes: compare_digest refuses text with non-ASCII letters (a TypeError, a 500
    # before), and a header's bytes read as latin-1 may hold any of them.
    if secret is None or x_signature is None or not hmac.compare_digest(
        signature_of(secret, body).encode(), x_signature.encode("utf-8", "replace")
    ):
        raise ProblemError(401, "missing or bad X-Signature")
    try:
        event: TrackingEvent = CarrierEvent.model_validate_json(body)
    except ValidationError as error:
        raise ProblemError(
            422, "invalid tracking event", type_="/problems/invalid-request", errors=problems_of(error.errors())
        ) from None
    shipment = await run_in_threadpool(projection.shipment_by_tracking, sessions, event.tracking_number)
    if shipment is None:
        # The label may be a moment old and the parcel's row not yet written: the label purchase
        # recorded the number, and the parcel keeps the event until it is labelled.
        labelled = await run_in_threadpool(tracking.labelled_shipment, sessions, event.tracking_number)
        if labelled is None or labelled[0] != carrier:
            raise ProblemError(404, f"unknown tracking number {event.tracking_number}")
        await run_in_threadpool(tracking.record_tracking_event, sessions, carrier, event)
        if not await report_tracking(client, labelled[1], event):
            raise ProblemError(409, f"tracking event does not apply: shipment {labelled[1]} has ended")
        return Accepted()
    if shipment.carrier != carrier:
        raise ProblemError(404, f"unknown tracking number {event.tracking_number}")
    # A fact the parcel can no longer take (cancelled, ended, behind what it knows) is refused
    # before it is stored: stored, the parcel's tracking poll would find it again.
    # A replay of a report already stored repeats what the parcel knows: 202, nothing changes.
    refusal = tracking_refusal(shipment, event.status, event.detail)
    if refusal is not None and not await run_in_threadpool(tracking.was_recorded, sessions, carrier, event):
        raise ProblemError(409, f"tracking event does not apply: {refusal}")
    # Recorded first: if the signal below is lost, the parcel finds the event when it polls.
    await run_in_threadpool(tracking.record_tracking_event, sessions, carrier, event)
    # A parcel whose workflow has ended (delivered) takes only repeats of its end (idempotent).
    await report_tracking(client, shipment.shipment_id, event)
    return Accepted()
