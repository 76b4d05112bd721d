"""Webhook-style intake from shops: POST /channels/{channel}/orders.

`{channel}` names the payload format (domain/channels): `storefront` and `social` post their own
order JSON, `marketplace` posts CSV text (header plus the rows of one order). The payload is
mapped to an OrderRequest and started through POST /orders' own submit, so there is one way an
order starts. Problems are named in the channel's own terms (`line_items[0].price`,
`row 3, sku`).

Repeats: a channel order is its own idempotency key (`channel:<format>:<channel order id>`), so
the same order posted again answers 200 with the same order, and a changed payload under the same
id is 409. A channel order already submitted by another key of the same claim scope is 409
duplicate-channel-order (orders.claim_scope: keys that see every order share the shop's scope, a
key bound to customers has its own, so it neither learns the shop's order ids nor blocks them).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from api.admission import SubmissionSlot
from api.auth import Principal, require
from api.client_views import KeyRolesDep
from api.deps import ClientDep, SessionsDep, SettingsDep
from api.hygiene import parse_json_body
from api.problems import ProblemError, invalid_request
from api.routers import orders
from domain.channels import ChannelFormat, ChannelFormatError, MappedOrder, map_order
from domain.enums import Role
from domain.models import OrderView, Problem

router = APIRouter(tags=["channels"])
ClientRole = Annotated[Principal, Depends(require(Role.CLIENT))]

async def _payload(fmt: ChannelFormat, request: Request) -> Any:
    raw = await request.body()
    if not fmt.is_csv:
        return parse_json_body(raw)  # 422 for non-UTF-8, non-JSON and too deeply nested bodies
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_request([Problem(field="body", message="is not UTF-8 text")]) from None


def channel_idempotency_key(fmt: ChannelFormat, channel_order_id: str) -> str:
    return f"channel:{fmt.value}:{channel_order_id}"


@router.post(
    "/channels/{channel}/orders",
    status_code=201,
    response_model=OrderView,
    responses={
        200: {"model": OrderView, "description": "a repeat of a channel order already taken"},
        409: {"description": "the channel order id was taken with other content, or by another key"},
        422: {"description": "problems named in the channel's terms"},
    },
    openapi_extra={"requestBody": {"content": {"application/json": {}, "text/csv": {}}}},
)
async def intake(
    channel: ChannelFormat,
    request: Request,
    response: Response,
    principal: ClientRole,
    _slot: SubmissionSlot,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    roles: KeyRolesDep,
) -> OrderView:
    """Map a shop's order (storefront JSON, marketplace CSV, social-shop JSON) and start it.
    201 with the order; 200 for a repeat; 422 naming every bad field in the shop's terms."""
    payload = await _payload(channel, request)
    try:
        mapped: MappedOrder = await run_in_threadpool(map_order, channel, payload)
    except ChannelFormatError as error:
        raise invalid_request(error.problems) from None
    channel_order_id = mapped.request.channel_order_id or ""  # every format requires one
    try:
        return await orders.submit(
            request=mapped.request,
            response=response,
            principal=principal,
            _slot=_slot,  # this route holds the submission's admission slot (api/admission.py)
            client=client,
            sessions=sessions,
            settings=settings,
            roles=roles,
            idempotency_key=channel_idempotency_key(channel, channel_order_id),
        )
    except ProblemError as problem:
        if problem.status == 422 and problem.errors:
            raise invalid_request(mapped.in_source_terms(problem.errors)) from None
        raise
