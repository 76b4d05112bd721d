"""Input hygiene over the real stack: control characters, bad encodings, oversized and deeply
nested input, in every place a request carries text (path, query, headers, JSON and CSV bodies).

Each test here reproduces an input that once answered 500 (or hung): the answer is now a 4xx
problem document that names what was wrong, and nothing starts or changes.
"""

import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from api.app import create_app
from api.routers.webhooks import signature_of
from config.codec import ENCODING, KEY_ID_METADATA
from config.settings import Settings
from domain import ids
from tests.conftest import CLIENT, OPS, WAREHOUSE
from tests.data.marketplace_orders import marketplace_csv
from tests.integration.helpers import CARRIER_SECRETS, new_sku, order_body

PROBLEM_JSON = "application/problem+json"


@pytest_asyncio.fixture(scope="module")
async def http(
    settings: Settings, client: Client, sessions: sessionmaker[Session], worker: None
) -> AsyncIterator[httpx.AsyncClient]:
    # No per-key rate limit: this module sends many quick requests with one key.
    app = create_app(settings.model_copy(update={"rate_limit_per_second": 0}), client=client, sessions=sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orderflow.test", timeout=30) as api:
        yield api


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"] and body["detail"]
    return body


def _fields(problem: dict[str, Any]) -> list[str]:
    return [error["field"] for error in problem.get("errors", [])]


async def _assert_no_workflow(client: Client, order_id: str) -> None:
    with pytest.raises(RPCError):
        await client.get_workflow_handle(ids.order_workflow_id(order_id)).describe()


# --- path, query and header parameters -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "parameter"),
    [
        ("/orders/A%00B", CLIENT, "order_id"),
        ("/orders/A%00B/timeline", CLIENT, "order_id"),
        ("/catalog/SKU%00", OPS, "sku"),
        ("/inventory/SKU%1B%5B2J", OPS, "sku"),
        ("/ops/complaints/C%00", OPS, "complaint_id"),
    ],
)
async def test_a_control_character_in_a_path_parameter_is_422_naming_it(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], parameter: str
) -> None:
    problem = _problem(await http.get(path, headers=headers), 422)
    assert _fields(problem) == [parameter], problem


@pytest.mark.parametrize(
    ("path", "headers", "parameter"),
    [
        ("/returns/" + "%E2%80%AE" * 5_000 + "/received", WAREHOUSE, "rma_id"),  # found by the hostile run
        ("/returns/" + "%F0%9F%98%80" * 65 + "/received", WAREHOUSE, "rma_id"),  # 65 emoji: 260 bytes
        ("/orders/" + "A" * 2_000, CLIENT, "order_id"),
    ],
)
async def test_a_path_parameter_too_long_to_be_an_id_is_422_naming_it(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], parameter: str
) -> None:
    # A 5,000-character return id became part of a workflow id longer than Temporal allows: a 500.
    method = "POST" if path.endswith("/received") else "GET"
    body = {"lines": [{"sku": "SKU-MUG", "quantity": 1, "condition": "resellable"}]}
    problem = _problem(await http.request(method, path, headers=headers, json=body if method == "POST" else None), 422)
    assert _fields(problem) == [parameter], problem


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/orders", {"customer_id": "cust\x00"}),
        ("/orders", {"cursor": "abc\x00"}),
        ("/ops/complaints", {"order_id": "T-\x07"}),
    ],
)
async def test_a_control_character_in_a_query_parameter_is_422_naming_it(
    http: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    problem = _problem(await http.get(path, headers=OPS, params=params), 422)
    assert _fields(problem) == list(params), problem


async def test_a_control_character_in_a_header_parameter_is_422_naming_it(
    http: httpx.AsyncClient, client: Client
) -> None:
    body = order_body("SKU-NONE")
    response = await http.post("/orders", headers={**CLIENT, "Idempotency-Key": "key\x00"}, json=body)
    problem = _problem(response, 422)
    assert "idempotency-key" in _fields(problem), problem
    await _assert_no_workflow(client, body["order_id"])


@pytest.mark.parametrize("signature", ["sha256=\xe9\xe9", "\xff" * 71])
async def test_a_non_ascii_signature_is_401(http: httpx.AsyncClient, signature: str) -> None:
    # HTTP carries header bytes; Starlette reads them as latin-1, and hmac.compare_digest refuses
    # non-ASCII text with a TypeError (a 500 before).
    body = b'{"tracking_number": "X", "status": "in_transit", "at": "2026-01-01T00:00:00Z"}'
    response = await http.post(
        "/webhooks/carriers/swift",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": signature.encode("latin-1")},  # type: ignore[dict-item]
    )
    _problem(response, 401)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"tracking_number": "SW\x001", "status": "in_transit", "at": "2026-01-01T00:00:00Z"}, "tracking_number"),
        ({"tracking_number": "SW1", "status": "in_transit", "detail": "\x1b[2J", "at": "2026-01-01T00:00:00Z"}, "detail"),
    ],
)
async def test_a_control_character_in_a_signed_carrier_event_is_422(
    http: httpx.AsyncClient, event: dict[str, Any], field: str
) -> None:
    # Signed, so past the signature check: the NUL reached PostgreSQL's lookup of the parcel (a 500).
    body = json.dumps(event).encode()
    response = await http.post(
        "/webhooks/carriers/swift",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": signature_of(CARRIER_SECRETS["swift"], body)},
    )
    problem = _problem(response, 422)
    assert _fields(problem) == [field], problem


# --- request bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("place", "field"),
    [
        (("customer", "name"), "customer.name"),
        (("shipping_address", "line1"), "shipping_address.line1"),
        (("notes",), "notes"),
        (("customer", "email"), "customer.email"),
    ],
)
async def test_a_nul_in_an_order_is_422_at_once(
    http: httpx.AsyncClient, client: Client, place: tuple[str, ...], field: str
) -> None:
    # A NUL once reached the projection write, which PostgreSQL refuses; the activity retried it
    # for ever and POST /orders hung. Refused at the door now, naming the field, before any workflow.
    sku = await new_sku(http, {"WH-EAST": 5})
    body = order_body(sku, notes="leave at the door")
    target = body
    for key in place[:-1]:
        target = target[key]
    target[place[-1]] = "Li\x00Lei@example.com" if place[-1] == "email" else "Li\x00Lei"
    started = time.monotonic()
    response = await http.post("/orders", headers=CLIENT, json=body)
    elapsed = time.monotonic() - started
    problem = _problem(response, 422)
    assert _fields(problem) == [field], problem
    assert "U+0000" in problem["errors"][0]["message"]
    assert elapsed < 5, f"took {elapsed:.1f}s"
    await _assert_no_workflow(client, body["order_id"])


async def test_free_text_keeps_its_line_breaks_and_tabs(http: httpx.AsyncClient) -> None:
    sku = await new_sku(http, {"WH-EAST": 5})
    body = order_body(sku, notes="ring twice\r\n\tthen wait")  # CRLF: taken as a newline
    response = await http.post("/orders", headers=CLIENT, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["order_id"] == body["order_id"]


@pytest.mark.parametrize("character", ["\t", "\n", "\x7f", "\x9b", "\ud800"])
async def test_one_line_text_refuses_tabs_line_breaks_del_c1_and_lone_surrogates(
    http: httpx.AsyncClient, character: str
) -> None:
    body = order_body("SKU-NONE")
    body["shipping_address"]["city"] = f"Hang{character}zhou"
    # json.dumps escapes a lone surrogate as \ud800, which Python's JSON parser accepts.
    raw = json.dumps(body)
    response = await http.post("/orders", headers={**CLIENT, "Content-Type": "application/json"}, content=raw)
    problem = _problem(response, 422)
    assert "shipping_address.city" in _fields(problem), problem


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "field"),
    [
        ("PUT", "/catalog/SKU-HYG-1", OPS, {"name": "mug\x00", "price": "1.00"}, "name"),
        ("PUT", "/warehouses/WH-HYG", OPS, {"name": "x", "region": "ZJ\x01"}, "region"),
        ("POST", "/orders/T-NONE/cancel", CLIENT, {"reason": "changed\x00mind"}, "reason"),
        ("POST", "/orders/T-NONE/feedback", CLIENT, {"rating": 1, "comment": "bad\x00"}, "comment"),
        ("POST", "/ops/orders/T-NONE/actions", OPS, {"action": "note", "note": "x\x1b[31m"}, "note"),
        ("POST", "/ops/orders/T-NONE/actions", OPS, {"action": "reroute", "params": {"carrier": "a\x00"}}, "params"),
        ("POST", "/warehouse/receipts", WAREHOUSE, {"sku": "S", "warehouse": "WH\x00", "quantity": 1}, "warehouse"),
    ],
)
async def test_a_control_character_in_any_request_body_is_422_naming_the_field(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    problem = _problem(await http.request(method, path, headers=headers, json=body), 422)
    assert field in _fields(problem), problem


async def test_an_invalid_utf8_body_is_a_4xx_problem(http: httpx.AsyncClient) -> None:
    raw = json.dumps(order_body("SKU-NONE")).encode().replace(b"Li Lei", b"Li \xff\xfe")
    for path in ("/orders", "/channels/storefront/orders", "/channels/marketplace/orders"):
        response = await http.post(path, headers={**CLIENT, "Content-Type": "application/json"}, content=raw)
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)


# --- channel intake ------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["storefront", "social"])
async def test_deeply_nested_channel_json_is_422(http: httpx.AsyncClient, channel: str) -> None:
    # Python's JSON parser recursed until RecursionError (a 500 before).
    for raw in ("[" * 100_000, '{"id": ' + '{"a": ' * 20_000 + "1" + "}" * 20_000 + "}"):
        response = await http.post(
            f"/channels/{channel}/orders", headers={**CLIENT, "Content-Type": "application/json"}, content=raw
        )
        problem = _problem(response, 422)
        assert _fields(problem) == ["body"], problem


async def test_a_marketplace_cell_over_128_kib_is_422(http: httpx.AsyncClient) -> None:
    # The csv module refuses a field over its field_size_limit (128 KiB) with _csv.Error (a 500 before).
    text, _ = marketplace_csv(1, skus=[("SKU-MUG", "39.00")], prefix=f"MP-{secrets.token_hex(3)}", bad=0)
    header, first = text.splitlines()[:2]
    huge = first.replace("Buyer 2", "B" * (140 * 1024), 1)
    response = await http.post(
        "/channels/marketplace/orders", headers={**CLIENT, "Content-Type": "text/csv"}, content=f"{header}\n{huge}\n"
    )
    problem = _problem(response, 422)
    assert _fields(problem) == ["row 2"], problem


async def test_a_control_character_in_a_channel_payload_is_422_in_its_terms(http: httpx.AsyncClient) -> None:
    text, _ = marketplace_csv(1, skus=[("SKU-MUG", "39.00")], prefix=f"MP-{secrets.token_hex(3)}", bad=0)
    response = await http.post(
        "/channels/marketplace/orders",
        headers={**CLIENT, "Content-Type": "text/csv"},
        content=text.replace("Buyer 2", "Buyer\x001", 1),
    )
    problem = _problem(response, 422)
    assert _fields(problem) == ["row 2, buyer-name"], problem


# --- codec and cursors ---------------------------------------------------------------------------


def _encrypted(data: bytes) -> dict[str, Any]:
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return {"metadata": {"encoding": b64(ENCODING), KEY_ID_METADATA: b64(b"test-1")}, "data": b64(data)}


@pytest.mark.parametrize("data", [b"", b"short", b"\x00" * 12, b"\x00" * 11 + b"x" * 16])
async def test_decoding_a_payload_too_short_for_its_nonce_is_422(http: httpx.AsyncClient, data: bytes) -> None:
    # AES-GCM refuses a nonce under 8 bytes with ValueError (a 500 before).
    response = await http.post("/codec/decode", headers=OPS, json={"payloads": [_encrypted(data)]})
    problem = _problem(response, 422)
    assert problem["type"] == "/problems/undecryptable-payload"


def _cursor(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "document",
    [
        ["0001-01-01T00:00:00+10:00", "T-1"],  # before year 1 in UTC
        ["2020-01-01T00:00:00+00:00", "T-\x00"],  # a NUL PostgreSQL refuses
        ["2020-01-01T00:00:00+00:00", ["T-1"]],
        [12, "T-1"],
        {"a": 1},
    ],
)
async def test_a_forged_cursor_is_422(http: httpx.AsyncClient, document: Any) -> None:
    problem = _problem(await http.get("/orders", headers=OPS, params={"cursor": _cursor(document)}), 422)
    assert _fields(problem) == ["cursor"], problem


@pytest.mark.parametrize("when", ["2020-01-01T00:00:00+21:00", "2999-01-01T00:00:00-23:59", "2020-01-01T00:00:00"])
async def test_a_cursor_time_with_any_offset_pages_on(http: httpx.AsyncClient, when: str) -> None:
    # PostgreSQL refuses offsets beyond +-15:59 that ISO-8601 allows (a 500 before): the time is
    # compared in UTC, so the page after it is answered (a time without offset is UTC).
    response = await http.get("/orders", headers=OPS, params={"cursor": _cursor([when, "T"])})
    assert response.status_code == 200, response.text


async def test_deeply_nested_action_params_are_422(http: httpx.AsyncClient) -> None:
    # 300 levels passed validation, then the payload serializer of the update refused them: a 500.
    sku = await new_sku(http, {"WH-EAST": 5})
    body = order_body(sku)
    assert (await http.post("/orders", headers=CLIENT, json=body)).status_code == 201
    params = '{"a":' * 300 + "1" + "}" * 300
    response = await http.post(
        f"/ops/orders/{body['order_id']}/actions",
        headers={**OPS, "Content-Type": "application/json"},
        content='{"action": "note", "note": "deep", "params": ' + params + "}",
    )
    problem = _problem(response, 422)
    assert _fields(problem) == ["params"], problem


async def test_the_carrier_webhook_body_schema_resolves_in_the_openapi_document(http: httpx.AsyncClient) -> None:
    # Its `#/$defs/...` references pointed at the document's root: schemathesis built no body for it.
    document = (await http.get("/openapi.json")).json()
    schema = document["paths"]["/webhooks/carriers/{carrier}"]["post"]["requestBody"]["content"]["application/json"]
    assert "$defs" not in json.dumps(schema)
    assert schema["schema"]["properties"]["status"]["enum"][0] == "in_transit"


async def test_an_unexpected_error_is_a_problem_document_too(
    settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    # Starlette answered a bug with a bare text/plain 500; the contract is problem+json everywhere.
    app = create_app(settings, client=client, sessions=sessions)

    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://orderflow.test") as api:
        problem = _problem(await api.get("/test-only/boom"), 500)
    assert "secret detail" not in json.dumps(problem)
