"""A projection write PostgreSQL refuses for its data does not retry forever (issue 16): the order
is parked for ops with the reason, on a sanitized row, and the submission answers."""

import secrets
from datetime import UTC, datetime

import httpx
from temporalio.client import Client

from api.temporal_calls import request_hash, submit_order
from config.settings import Settings
from domain.models import STORED_DATA, OrderInput, OrderRequest
from tests.conftest import OPS, eventually
from tests.integration.helpers import get_order, new_sku, order_body


async def test_a_nul_in_the_customers_name_parks_the_order_for_ops(
    api: httpx.AsyncClient, client: Client, settings: Settings
) -> None:
    order_id = f"ORD-NUL-{secrets.token_hex(4).upper()}"
    body = order_body(await new_sku(api, {"WH-EAST": 5}))
    body["customer"]["name"] = "Li\x00Wei"
    # Past the API's validation (CleanText), as a channel import or an old history would be.
    request = OrderRequest.model_validate({**body, "order_id": order_id}, context=STORED_DATA)
    inp = OrderInput(
        order_id=order_id,
        request=request,
        request_hash=request_hash(request),
        received_at=datetime.now(UTC),
        policy=settings.order_policy(),
    )

    answered = await submit_order(client, settings.task_queue, inp)  # before: never answered
    assert answered.order.order_id == order_id

    async def parked() -> dict | None:
        queue = await api.get("/ops/orders", headers=OPS)
        assert queue.status_code == 200, queue.text
        return next((o for o in queue.json()["items"] if o["order_id"] == order_id), None)

    listed = await eventually(parked)
    assert "projection refused" in listed["reason"]
    assert "UntranslatableCharacter" in listed["reason"]  # PostgreSQL's refusal of the NUL
    shown = await get_order(api, order_id)
    assert shown["needs_attention"] is True
    assert shown["customer"]["name"] == "Li\\x00Wei"  # escaped for ops to read
