"""Talking to the system the way its users do: storefront, warehouse and carrier."""

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import CLIENT, OPS, WAREHOUSE, eventually

CARRIER_SECRETS = {"swift": "dev-swift-secret", "economy": "dev-economy-secret"}


async def new_sku(api: httpx.AsyncClient, stock: dict[str, int], price: str = "99.00", **thresholds: int) -> str:
    """A SKU of the test's own, so tests never share stock."""
    sku = f"SKU-T-{secrets.token_hex(4).upper()}"
    response = await api.put(
        f"/catalog/{sku}", headers=OPS, json={"name": f"test item {sku}", "price": price, "weight_grams": 400}
    )
    assert response.status_code == 201, response.text
    for warehouse, on_hand in stock.items():
        response = await api.put(
            f"/inventory/{sku}/{warehouse}", headers=OPS, json={"on_hand": on_hand, **thresholds}
        )
        assert response.status_code == 200, response.text
    return sku


def order_body(sku: str, quantity: int = 1, price: str = "99.00", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": f"T-{secrets.token_hex(6)}",
        "channel": "web",
        # A customer of its own per order, so the velocity rule never holds unrelated tests.
        "customer": {"id": f"cust-{secrets.token_hex(4)}", "email": "li.lei@example.com", "phone": "+8613800000000", "name": "Li Lei"},
        "lines": [{"sku": sku, "quantity": quantity, "unit_price": price}],
        "currency": "CNY",
        "shipping_address": {
            "name": "Li Lei", "line1": "1 Road", "line2": None, "city": "Hangzhou",
            "region": "ZJ", "postal_code": "310000", "country": "CN", "phone": "+8613800000000",
        },
        "shipping_speed": "standard",
        "priority": "normal",
        "payment": {"method": "card", "token": "tok_visa"},
    }
    body.update(overrides)
    return body


# The helpers that read an order read it as ops do, whole (hold codes, attention reasons, quotes):
# tests use them as their oracle. What a client key reads is tests/integration/test_access_leaks.py's.
async def get_order(api: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    response = await api.get(f"/orders/{order_id}", headers=OPS)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for_status(api: httpx.AsyncClient, order_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await api.get(f"/orders/{order_id}", headers=OPS)
        if response.status_code == 200 and response.json()["status"] == status:
            return response.json()
        return None

    return await eventually(check, timeout)


async def wait_for_shipment(
    api: httpx.AsyncClient, order_id: str, status: str, index: int = 0
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await api.get(f"/orders/{order_id}", headers=OPS)
        if response.status_code != 200:
            return None
        shipments = response.json()["shipments"]
        if len(shipments) > index and shipments[index]["status"] == status:
            return shipments[index]
        return None

    return await eventually(check)


async def confirm_pick(api: httpx.AsyncClient, shipment_id: str) -> None:
    response = await api.post(
        f"/warehouse/shipments/{shipment_id}/picked", headers=WAREHOUSE, json={"picker": "wang"}
    )
    assert response.status_code == 202, response.text


def signed(carrier: str, payload: dict[str, Any], secret: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    key = (secret or CARRIER_SECRETS[carrier]).encode()
    signature = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    return body, {"X-Signature": signature, "Content-Type": "application/json"}


async def carrier_event(
    api: httpx.AsyncClient, carrier: str, tracking_number: str, status: str, detail: str | None = None
) -> httpx.Response:
    body, headers = signed(
        carrier,
        {"tracking_number": tracking_number, "status": status, "detail": detail, "at": datetime.now(UTC).isoformat()},
    )
    return await api.post(f"/webhooks/carriers/{carrier}", content=body, headers=headers)


async def submit(api: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await api.post("/orders", headers={**CLIENT, **headers}, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def stock_of(api: httpx.AsyncClient, sku: str, warehouse: str = "WH-EAST") -> dict[str, Any]:
    response = await api.get(f"/inventory/{sku}", headers=OPS)
    assert response.status_code == 200, response.text
    return next(level for level in response.json()["warehouses"] if level["warehouse"] == warehouse)


async def ship_to_carrier(api: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    """Warehouse picks, label is bought: returns the shipment at label_created."""
    shipment = await wait_for_shipment(api, order_id, "picking")
    await confirm_pick(api, shipment["shipment_id"])
    return await wait_for_shipment(api, order_id, "label_created")


async def order_once(
    api: httpx.AsyncClient, order_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The order once `ready(order)` holds. A parcel's own steps show at once; what the order
    makes of them (its status, attention, outcomes) follows when the order has taken them in."""

    async def check() -> dict[str, Any] | None:
        current = await get_order(api, order_id)
        return current if ready(current) else None

    result: dict[str, Any] = await eventually(check)
    return result


async def flagged(api: httpx.AsyncClient, order_id: str) -> dict[str, Any] | None:
    """The order once it needs attention (for `eventually`), else None."""
    current = await get_order(api, order_id)
    return current if current["needs_attention"] else None


async def cleared(api: httpx.AsyncClient, order_id: str) -> dict[str, Any] | None:
    """The order once it no longer needs attention, else None."""
    current = await get_order(api, order_id)
    return current if not current["needs_attention"] else None
