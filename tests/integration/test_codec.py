"""Personal data stays out of Temporal's history (issue 6, item 8), and the codec server lets the
Temporal UI (and only ops, and only from the UI's origin) read it back."""

import asyncio
import base64
import json
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
import uvicorn
from google.protobuf import json_format
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from api.app import create_app
from runtime.codec import ENCODING
from runtime.settings import Settings
from runtime.temporal import temporal_cli_path
from tests.conftest import CLIENT, OPS, TEST_DATA_CONVERTER, WAREHOUSE, eventually
from tests.integration.helpers import (
    confirm_pick,
    flagged,
    new_sku,
    order_body,
    submit,
    wait_for_shipment,
)

UI_ORIGIN = "http://localhost:8233"  # the dev UI at the default OMS_TEMPORAL_UI_PORT
REFUSAL = "does not deliver to postal code"  # the label refusal's message quotes the address


def personal_order(sku: str) -> dict[str, Any]:
    """An order whose personal data appears nowhere else, with a postal code no carrier serves, so
    that the label purchase fails with a message quoting the address."""
    tag = secrets.token_hex(4)
    body = order_body(sku)
    body["customer"].update(email=f"mei.{tag}@example.com", phone=f"+86139{int(tag, 16) % 10**8:08d}", name=f"Han Mei {tag}")
    body["shipping_address"].update(
        name=body["customer"]["name"], line1=f"{tag} Wensan Road", line2=f"Flat {tag}", phone=body["customer"]["phone"],
        postal_code="000000",
    )
    return body


def personal_strings(body: dict[str, Any]) -> list[str]:
    customer, address = body["customer"], body["shipping_address"]
    return [customer["email"], customer["phone"], customer["name"], address["line1"], address["line2"]]


def raw_bytes(history: WorkflowHistory) -> bytes:
    """The history as the server stores and serves it: payload bytes are not base64 here."""
    return History(events=history.events).SerializeToString()


async def test_raw_history_holds_no_personal_data_not_even_in_a_failure_message(
    api: httpx.AsyncClient, client: Client
) -> None:
    sku = await new_sku(api, {"WH-EAST": 3})
    body = personal_order(sku)
    order = await submit(api, body)
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    await confirm_pick(api, shipment["shipment_id"])
    await eventually(lambda: flagged(api, order["order_id"]))  # the label was refused: a failure is in history
    amended = dict(body["shipping_address"], line1=body["shipping_address"]["line1"] + " North", postal_code="310000")
    patched = await api.patch(f"/orders/{order['order_id']}/shipping-address", headers=CLIENT, json=amended)
    assert patched.status_code == 200, patched.text

    # A client without our codec sees what Temporal stores (and what its UI shows without a codec server).
    plain = Client(client.service_client, namespace=client.namespace, data_converter=pydantic_data_converter)
    histories = [
        await plain.get_workflow_handle(order["workflow_id"]).fetch_history(),
        await plain.get_workflow_handle(f"shipment-{shipment['shipment_id']}").fetch_history(),
    ]
    secrets_ = [*personal_strings(body), amended["line1"], REFUSAL]
    for history in histories:
        stored, as_json = raw_bytes(history), history.to_json()
        leaks = [s for s in secrets_ if s.encode() in stored or s in as_json]
        assert not leaks, f"{history.workflow_id}: {leaks} readable in history"

    # The failure is there, its message encoded; our codec reads it back, address and all.
    failed = [e for e in histories[1].events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED]
    assert failed, "the refused label purchase left no failure in the shipment's history"
    failure = failed[0].activity_task_failed_event_attributes.failure
    assert failure.message == "Encoded failure" and failure.HasField("encoded_attributes")
    error = await TEST_DATA_CONVERTER.decode_failure(failure)
    assert isinstance(error, ApplicationError) and REFUSAL in error.message and "000000" in error.message

    # And the personal data is really inside the encrypted payloads (the search above could find it).
    started = histories[0].events[0].workflow_execution_started_event_attributes.input.payloads
    assert all(p.metadata["encoding"] == ENCODING for p in started)
    decoded = b"".join(p.data for p in await TEST_DATA_CONVERTER.payload_codec.decode(started))  # type: ignore[union-attr]
    assert body["customer"]["email"].encode() in decoded and body["shipping_address"]["line1"].encode() in decoded


def wire(payloads: list[Payload]) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def unwire(document: dict[str, Any]) -> list[Payload]:
    return list(json_format.ParseDict(document, Payloads()).payloads)


async def test_the_ui_decodes_what_the_workflows_stored(api: httpx.AsyncClient, client: Client) -> None:
    sku = await new_sku(api, {"WH-EAST": 1})
    body = personal_order(sku)
    body["shipping_address"]["postal_code"] = "310000"
    order = await submit(api, body)
    history = await client.get_workflow_handle(order["workflow_id"]).fetch_history()
    stored = list(history.events[0].workflow_execution_started_event_attributes.input.payloads)

    response = await api.post(
        "/codec/decode",
        json=wire(stored),
        headers={"Authorization": "Bearer dev-ops-key", "X-Namespace": "default", "Origin": UI_ORIGIN},
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    [decoded] = unwire(response.json())
    assert decoded.metadata["encoding"] == b"json/plain"
    assert body["customer"]["email"].encode() in decoded.data


async def test_encode_then_decode_round_trips(api: httpx.AsyncClient) -> None:
    original = [Payload(metadata={"encoding": b"json/plain"}, data=b'"+8613900000000"'), Payload()]
    encoded = await api.post("/codec/encode", json=wire(original), headers=OPS)
    assert encoded.status_code == 200, encoded.text
    sealed = unwire(encoded.json())
    assert [p.metadata["encoding"] for p in sealed] == [ENCODING, ENCODING]
    assert b"8613900000000" not in b"".join(p.data for p in sealed)
    decoded = await api.post("/codec/decode", json=encoded.json(), headers={"Authorization": "Bearer dev-ops-key"})
    assert decoded.status_code == 200, decoded.text
    assert unwire(decoded.json()) == original


async def test_only_ops_may_use_the_codec(api: httpx.AsyncClient) -> None:
    document = wire([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    for path in ("/codec/encode", "/codec/decode"):
        for headers, status in [
            ({}, 401),
            ({"Authorization": "Bearer not-a-key"}, 401),
            ({"Authorization": "Basic ZGV2LW9wcy1rZXk6"}, 401),  # only Bearer carries a key
            (CLIENT, 403),
            (WAREHOUSE, 403),
            ({"Authorization": "Bearer dev-client-key"}, 403),
            ({"Authorization": "Bearer dev-warehouse-key"}, 403),
            (OPS, 200),
            ({"Authorization": "Bearer dev-ops-key"}, 200),
        ]:
            response = await api.post(path, json=document, headers=headers)
            assert response.status_code == status, (path, headers, response.text)
            if status != 200:
                assert response.headers["content-type"] == "application/problem+json"


async def test_cors_preflight_is_answered_only_for_the_ui_origin(api: httpx.AsyncClient) -> None:
    def preflight(origin: str, path: str = "/codec/decode") -> Any:
        return api.options(
            path,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
            },
        )

    for origin in (UI_ORIGIN, "http://127.0.0.1:8233"):
        allowed = await preflight(origin)
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["access-control-allow-origin"] == origin
        assert "POST" in allowed.headers["access-control-allow-methods"]
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()

    for origin in ("https://evil.example", "http://localhost:8234", "null"):
        refused = await preflight(origin)
        assert refused.status_code == 400, origin
        assert "access-control-allow-origin" not in refused.headers

    # The rest of the API gets no CORS at all, not even for the UI's origin.
    elsewhere = await preflight(UI_ORIGIN, "/orders")
    assert "access-control-allow-origin" not in elsewhere.headers
    simple = await api.get("/orders", headers={**OPS, "Origin": UI_ORIGIN})
    assert "access-control-allow-origin" not in simple.headers


async def test_bad_codec_requests_are_problems_naming_the_field(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/codec/decode",
        json={"payloads": [{"metadata": {"encoding": "%%%"}, "data": "not base64!"}], "extra": 1},
        headers=OPS,
    )
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"payloads[0].metadata", "payloads[0].data", "extra"} <= fields

    [sealed] = unwire((await api.post("/codec/encode", json=wire([Payload(data=b"x")]), headers=OPS)).json())
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    response = await api.post("/codec/decode", json=wire([tampered]), headers=OPS)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "failed authentication" in response.json()["detail"]



@pytest_asyncio.fixture(scope="module")
async def codec_url(settings: Settings, client: Client, sessions: sessionmaker[Session]) -> AsyncIterator[str]:
    """The API served over real HTTP on a free port, for a real Temporal client to call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, client=client, sessions=sessions), host="127.0.0.1", port=port,
            log_level="warning", access_log=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or serving.done(), timeout=30)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}/codec"
    server.should_exit = True
    await serving


async def temporal_show(client: Client, workflow_id: str, *codec_args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        temporal_cli_path(), "workflow", "show", "--output", "json", "-w", workflow_id,
        "--address", client.service_client.config.target_host, "--namespace", client.namespace, *codec_args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_the_temporal_cli_reads_history_through_the_codec_server(
    api: httpx.AsyncClient, client: Client, codec_url: str
) -> None:
    """Temporal's own codec client (the CLI's, same protocol as the UI's) against our endpoint."""
    sku = await new_sku(api, {"WH-EAST": 1})
    body = personal_order(sku)
    body["shipping_address"]["postal_code"] = "310000"
    order = await submit(api, body)
    email = body["customer"]["email"]

    status, without = await temporal_show(client, order["workflow_id"])
    assert status == 0, without
    [sealed] = json.loads(without)["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING

    status, decoded = await temporal_show(
        client, order["workflow_id"], "--codec-endpoint", codec_url, "--codec-auth", "Bearer dev-ops-key"
    )
    assert status == 0, decoded
    [payload] = json.loads(decoded)["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert email.encode() in base64.b64decode(payload["data"])
