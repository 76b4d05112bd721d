"""Access control over the whole route table: keys, roles, customer binding and rate limits."""

import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from api.auth import FAILED_KEY_BURST, RoleGuard
from api.throttle import FailureLimiter
from config.settings import DEV_API_KEYS, Settings
from domain.enums import Role
from tests.conftest import CLIENT, OPS, TASK_QUEUE, WAREHOUSE
from tests.integration.helpers import new_sku, order_body

OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}
SIGNED_PREFIX = "/webhooks/"  # carrier webhooks authenticate by X-Signature, not by key
HASHED_KEY = f"hashed-{secrets.token_hex(8)}"
CUST_A, CUST_B = f"cust-a-{secrets.token_hex(4)}", f"cust-b-{secrets.token_hex(4)}"
BOUND = {"X-API-Key": "shop-a-key-of-24-characters"}
HASHED = {"X-API-Key": HASHED_KEY}


def access_settings(**overrides: Any) -> Settings:
    keys = (
        f"{DEV_API_KEYS},shop-a:client:shop-a-key-of-24-characters:{CUST_A}|{CUST_B},"
        f"hashed-ops:ops:sha256${hashlib.sha256(HASHED_KEY.encode()).hexdigest()}"
    )
    return Settings(task_queue=TASK_QUEUE, api_keys=keys, **{"rate_limit_per_second": 0, **overrides})


@pytest_asyncio.fixture(scope="module")
async def app(client: Client, sessions: sessionmaker[Session], worker: None) -> FastAPI:
    app = create_app(access_settings(), client=client, sessions=sessions)
    # The route walks present a wrong key to every guarded route from one address: far more than
    # the unknown-key throttle allows (its own test, below, runs on an app with the defaults).
    app.state.failed_key_limiter = FailureLimiter(burst=100_000, retry_seconds=1, max_entries=10)
    return app


@pytest_asyncio.fixture(scope="module")
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orderflow.test", timeout=60) as h:
        yield h


def _guards(dependant: Dependant) -> Iterator[RoleGuard]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, RoleGuard):
            yield sub.call
        yield from _guards(sub)


def route_table(app: FastAPI) -> list[tuple[str, str, frozenset[Role] | None]]:
    """(method, url with dummy path parameters, roles admitted or None when no key is needed)."""
    table = []
    # FastAPI keeps included routers as such in app.routes; iter_route_contexts flattens them with
    # their effective path and dependencies (router-level ones included).
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        dependant: Dependant = route.dependant
        guards = list(_guards(dependant))
        roles = frozenset.intersection(*(g.allowed_roles for g in guards)) if guards else None
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: f"walk-{m.group(1)}-1", route.path or "")
        for method in sorted(route.methods or ()):
            table.append((method, url, roles))
    return table


def test_every_route_but_the_open_and_signed_ones_needs_a_role(app: FastAPI) -> None:
    table = route_table(app)
    assert len(table) > 20
    unguarded = {url for _method, url, roles in table if roles is None}
    assert {u for u in unguarded if not u.startswith(SIGNED_PREFIX)} == OPEN_PATHS


async def test_every_api_route_is_in_the_served_openapi_document(app: FastAPI, http: httpx.AsyncClient) -> None:
    """Inventory (OWASP API9): no route answers that the document does not describe, so the fuzzing
    over the document reaches every operation. Only the console's HTML pages stay out of it, on purpose
    (browser pages, not an API), and they are named here."""
    documented = {
        (method.upper(), path)
        for path, operations in (await http.get("/openapi.json")).json()["paths"].items()
        for method in operations
    }
    served, hidden = set(), set()
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        for method in route.methods or ():
            (served if route.original_route.include_in_schema else hidden).add((method, route.path))
    assert served <= documented, sorted(served - documented)
    assert {path for _method, path in hidden if not path.startswith("/ops/ui")} == set(), sorted(hidden)


async def test_no_operation_takes_an_address_to_fetch(http: httpx.AsyncClient) -> None:
    """Server-side request forgery (OWASP API7) needs a caller-supplied address that we then fetch.
    The outside addresses we call (SMTP, notification webhooks, the Temporal frontend) come from
    settings only: no parameter or body field of any operation is a URL or names a host to call."""
    document = (await http.get("/openapi.json")).json()
    suspicious = re.compile(r"url|uri|href|callback|webhook_to|host", re.IGNORECASE)
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("format") in {"uri", "url", "iri", "hostname", "idn-hostname"}:
                found.append(where)
            for name in node.get("properties") or {}:
                if suspicious.search(name):
                    found.append(f"{where}.{name}")
            for key, child in node.items():
                walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}[{index}]")

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if suspicious.search(parameter["name"]):
                    found.append(f"{method} {path} parameter {parameter['name']}")
            walk(operation.get("requestBody", {}), f"{method} {path} body")
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        if "Problem" not in name and "Error" not in name:  # answers only: `type` is a URI reference
            walk(schema, name)
    assert found == [], found


async def test_docs_and_openapi_are_open(http: httpx.AsyncClient) -> None:
    for url in ("/docs", "/openapi.json"):
        assert (await http.get(url)).status_code == 200, url


KEYS: dict[str, tuple[dict[str, str], Role | None]] = {
    "none": ({}, None),
    "client": (CLIENT, Role.CLIENT),
    "bound-client": (BOUND, Role.CLIENT),
    "warehouse": (WAREHOUSE, Role.WAREHOUSE),
    "ops": (OPS, Role.OPS),
    "hashed-ops": (HASHED, Role.OPS),
}


@pytest.mark.parametrize("who", list(KEYS))
async def test_walk_the_route_table(who: str, app: FastAPI, http: httpx.AsyncClient) -> None:
    headers, role = KEYS[who]
    wrong: list[str] = []
    for method, url, roles in route_table(app):
        response = await http.request(method, url, headers=headers, json={})
        status = response.status_code
        if roles is None:
            expected_ok = status == 401 if url.startswith(SIGNED_PREFIX) else status not in (401, 403)
        elif role is None:
            expected_ok = status == 401
        elif role in roles:
            expected_ok = status not in (401, 403, 429) and status < 500
        else:
            expected_ok = status == 403
        if not expected_ok:
            wrong.append(f"{method} {url} -> {status} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


async def test_wrong_key_is_401_everywhere_guarded(app: FastAPI, http: httpx.AsyncClient) -> None:
    for method, url, roles in route_table(app):
        if roles is not None:
            response = await http.request(method, url, headers={"X-API-Key": "dev-ops-key "}, json={})
            assert response.status_code == 401, (method, url)
            assert response.headers["WWW-Authenticate"] == "ApiKey"


async def test_a_bound_client_key_sees_only_its_customers(http: httpx.AsyncClient) -> None:
    sku = await new_sku(http, {"WH-EAST": 10})
    mine_body = order_body(sku)
    mine_body["customer"]["id"] = CUST_A
    mine = await http.post("/orders", headers=BOUND, json=mine_body)
    assert mine.status_code == 201, mine.text
    other = await http.post("/orders", headers=CLIENT, json=order_body(sku))
    assert other.status_code == 201, other.text
    mine_id, other_id = mine.json()["order_id"], other.json()["order_id"]

    listed = (await http.get("/orders", headers=BOUND, params={"limit": 200})).json()["items"]
    assert mine_id in {o["order_id"] for o in listed}
    assert {o["customer"]["id"] for o in listed} <= {CUST_A, CUST_B}
    everyone = (await http.get("/orders", headers=CLIENT, params={"limit": 200})).json()["items"]
    assert other_id in {o["order_id"] for o in everyone}
    asking_for_other = await http.get("/orders", headers=BOUND, params={"customer_id": other.json()["customer"]["id"]})
    assert asking_for_other.json()["items"] == []

    assert (await http.get(f"/orders/{mine_id}", headers=BOUND)).status_code == 200
    assert (await http.get(f"/orders/{mine_id}/timeline", headers=BOUND)).status_code == 200
    for method, path, body in [
        ("GET", "", None),
        ("GET", "/timeline", None),
        ("POST", "/cancel", {"reason": "not mine"}),
        ("PATCH", "/shipping-address", mine_body["shipping_address"]),
        ("PATCH", "/lines", {"lines": [{"sku": sku, "quantity": 2}]}),
        ("PATCH", "/contact", {"email": "not.mine@example.com"}),
    ]:
        response = await http.request(method, f"/orders/{other_id}{path}", headers=BOUND, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert (await http.get(f"/orders/{other_id}", headers=CLIENT)).status_code == 200

    foreign = await http.post("/orders", headers=BOUND, json=order_body(sku))
    assert foreign.status_code == 403, foreign.text
    assert foreign.json()["status"] == 403


async def test_rate_limit_answers_429_with_retry_after(client: Client, sessions: sessionmaker[Session]) -> None:
    app = create_app(access_settings(rate_limit_burst=3, rate_limit_per_second=0.001), client=client, sessions=sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test") as h:
        for _ in range(3):
            assert (await h.get("/warehouses", headers=CLIENT)).status_code == 200
        limited = await h.get("/warehouses", headers=CLIENT)
        assert limited.status_code == 429, limited.text
        assert limited.json()["status"] == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert (await h.get("/orders/anything", headers=CLIENT)).status_code == 429
        assert (await h.get("/warehouses", headers=OPS)).status_code == 200, "each key has its own bucket"
        assert (await h.get("/healthz")).status_code == 200


async def test_unknown_keys_from_one_address_are_throttled(
    client: Client, sessions: sessionmaker[Session], worker: None
) -> None:
    """After FAILED_KEY_BURST unknown keys (X-API-Key, or Bearer on /codec) an address gets 429 with
    Retry-After for any key, the right one too; other addresses, and requests without a key, are
    not affected."""
    app = create_app(access_settings(), client=client, sessions=sessions)  # the default throttle

    def caller(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://orderflow.test", timeout=60)

    async with caller("203.0.113.7") as guesser, caller("203.0.113.8") as bearer, caller("203.0.113.9") as other:
        for _ in range(FAILED_KEY_BURST + 5):  # no key at all guesses nothing: not counted
            assert (await guesser.get("/orders")).status_code == 401
        for n in range(FAILED_KEY_BURST):
            wrong = await guesser.get("/orders", headers={"X-API-Key": f"guess-{n}"})
            assert wrong.status_code == 401, (n, wrong.text)
        for headers in ({"X-API-Key": "guess-more"}, OPS):
            limited = await guesser.get("/orders", headers=headers)
            assert limited.status_code == 429, (headers, limited.text)
            assert int(limited.headers["Retry-After"]) >= 1
            assert limited.headers["content-type"] == "application/problem+json"
            assert limited.json()["type"].endswith("/problems/rate-limited")

        document = {"payloads": []}
        for n in range(FAILED_KEY_BURST):
            wrong = await bearer.post("/codec/decode", json=document, headers={"Authorization": f"Bearer guess-{n}"})
            assert wrong.status_code == 401, (n, wrong.text)
        limited = await bearer.post("/codec/decode", json=document, headers={"Authorization": "Bearer dev-ops-key"})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1

        assert (await other.get("/orders", headers=OPS)).status_code == 200, "another address is not held back"
