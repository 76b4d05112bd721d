"""Personal data stays out of Temporal's history (issue 6, item 8), and the codec server lets the
Temporal UI (and only ops, and only from the UI's origin) read it back."""

import asyncio
import base64
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from api.app import create_app
from api.console.session import _CODEC_SALT, CODEC_COOKIE, COOKIE
from config.codec import ENCODING
from config.settings import Settings
from config.temporal import temporal_cli_path
from tests.conftest import CLIENT, OPS, TEST_DATA_CONVERTER, WAREHOUSE, eventually
from tests.integration.helpers import (
    confirm_pick,
    flagged,
    new_sku,
    order_body,
    submit,
    wait_for_shipment,
)
from tests.serving import served

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
    # (The label purchase is a local activity: its failure is kept in its marker.)
    failed = [
        e.marker_recorded_event_attributes.failure
        for e in histories[1].events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and e.marker_recorded_event_attributes.HasField("failure")
    ]
    assert failed, "the refused label purchase left no failure in the shipment's history"
    failure = failed[0]
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
        # Credentialed CORS (the console's codec pass): the origin named, never `*`.
        assert allowed.headers["access-control-allow-credentials"] == "true"

    for origin in ("https://evil.example", "http://localhost:8234", "null"):
        refused = await preflight(origin)
        assert refused.status_code == 400, origin
        # (Starlette sends its fixed Allow-Credentials even here; without Allow-Origin the browser
        # fails the CORS check before it looks at it.)
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
    async with served(create_app(settings, client=client, sessions=sessions)) as url:
        yield f"{url}/codec"


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


# --- the ops console's sign-in as the Temporal UI's pass to the codec server ----------------------

CONSOLE_SECRET = "test-console-secret"  # fixed, so that a test can forge an expired pass


def make_console_api(settings: Settings, client: Client, sessions: sessionmaker[Session], **changes: Any) -> (
    Callable[[], httpx.AsyncClient]
):
    """A factory of fresh HTTP clients (each with its own cookie jar) on one API app."""
    app = create_app(
        settings.model_copy(update={"console_secret": CONSOLE_SECRET, **changes}), client=client, sessions=sessions
    )
    return lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test")


async def console_form(http: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """Post a console form the way its page does: with the session's CSRF token."""
    page = await http.get("/ops/ui/login", follow_redirects=True)  # signed in: the queue, same token
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return await http.post(f"/ops/ui{path}", data={"csrf_token": token.group(1), **fields})


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers of a response by cookie name (the whole header, attributes included)."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


async def test_a_console_sign_in_lets_the_ui_origin_decode_until_sign_out(
    api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 1})
    body = personal_order(sku)
    body["shipping_address"]["postal_code"] = "310000"
    order = await submit(api, body)
    history = await client.get_workflow_handle(order["workflow_id"]).fetch_history()
    stored = wire(list(history.events[0].workflow_execution_started_event_attributes.input.payloads))
    from_ui = {"Origin": UI_ORIGIN, "X-Namespace": "default"}
    new_client = make_console_api(settings, client, sessions)

    async with new_client() as http:
        refused = await http.post("/codec/decode", json=stored, headers=from_ui)
        assert refused.status_code == 401, "no sign-in, no key: refused"
        assert refused.headers["access-control-allow-origin"] == UI_ORIGIN, "the UI can read the refusal"

        signed_in = await console_form(http, "/login", api_key="dev-ops-key")
        assert signed_in.status_code == 303, signed_in.text
        codec_pass = set_cookies(signed_in)[CODEC_COOKIE].lower()
        for attribute in ("path=/codec", "httponly", "samesite=strict", "max-age=28800"):
            assert attribute in codec_pass, codec_pass
        assert "dev-ops-key" not in codec_pass
        assert "path=/ops/ui" in set_cookies(signed_in)[COOKIE].lower(), "the session cookie stays on /ops/ui"

        decoded = await http.post("/codec/decode", json=stored, headers=from_ui)
        assert decoded.status_code == 200, decoded.text
        assert decoded.headers["access-control-allow-origin"] == UI_ORIGIN
        assert decoded.headers["access-control-allow-credentials"] == "true"
        [payload] = unwire(decoded.json())
        assert body["customer"]["email"].encode() in payload.data
        encoded = await http.post("/codec/encode", json=wire([Payload(data=b"1")]), headers=from_ui)
        assert encoded.status_code == 200, encoded.text

        # The pass works only from the UI's origins: not from another page of the same site, nor
        # from a client that sends no Origin at all.
        for headers in ({"Origin": "http://localhost:3000"}, {}):
            elsewhere = await http.post("/codec/decode", json=stored, headers=headers)
            assert elsewhere.status_code == 403, (headers, elsewhere.text)
            assert elsewhere.headers["content-type"] == "application/problem+json"
            assert "only from the Temporal UI's origins" in elsewhere.json()["detail"]
            assert "access-control-allow-origin" not in elsewhere.headers

        # A key, when given, is what counts: a client key is refused even with the pass.
        assert (await http.post("/codec/decode", json=stored, headers={**from_ui, **CLIENT})).status_code == 403

        signed_out = await console_form(http, "/logout")
        assert signed_out.status_code == 303, signed_out.text
        assert "max-age=0" in set_cookies(signed_out)[CODEC_COOKIE].lower(), "signing out deletes the pass"
        after = await http.post("/codec/decode", json=stored, headers=from_ui)
        assert after.status_code == 401, after.text

    async with new_client() as http:
        refused_login = await console_form(http, "/login", api_key="dev-client-key")
        assert refused_login.status_code == 403
        assert CODEC_COOKIE not in http.cookies, "a refused sign-in gives no pass"


async def test_a_forged_expired_or_revoked_pass_is_refused(
    settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    document = wire([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    from_ui = {"Origin": UI_ORIGIN}
    new_client = make_console_api(settings, client, sessions)
    async with new_client() as http:
        await console_form(http, "/login", api_key="dev-ops-key")
        good_pass, session = http.cookies[CODEC_COOKIE], http.cookies[COOKIE]
        assert (await http.post("/codec/decode", json=document, headers=from_ui)).status_code == 200

    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 24 * 3600  # past the 8 h OMS_CONSOLE_SESSION_TTL

    # The pass names the server-side session; forge ones naming that same, live session.
    payload = URLSafeTimedSerializer(CONSOLE_SECRET, salt=_CODEC_SALT).loads(good_pass)
    assert set(payload) == {"sid"}, "the pass carries the session id only"
    expired = URLSafeTimedSerializer(CONSOLE_SECRET, salt=_CODEC_SALT, signer=Yesterday).dumps(payload)
    forged = URLSafeTimedSerializer("not-our-secret", salt=_CODEC_SALT).dumps(payload)
    for name, value in [("expired", expired), ("forged", forged), ("the session cookie", session)]:
        async with new_client() as http:
            http.cookies.set(CODEC_COOKIE, value, domain="orderflow.test", path="/codec")
            response = await http.post("/codec/decode", json=document, headers=from_ui)
            assert response.status_code == 401, (name, response.text)

    # Nor does the pass open the console: it is signed for /codec only.
    async with new_client() as http:
        http.cookies.set(COOKIE, good_pass, domain="orderflow.test", path="/ops/ui")
        queue = await http.get("/ops/ui/queue")
        assert queue.status_code == 303 and queue.headers["location"].endswith("/ops/ui/login")

    # The session's key is looked up on every request: removed, replaced under its name, or no
    # longer ops, its pass is void.
    for api_keys in ("other:ops:other-ops-key", "dev-ops:ops:a-new-dev-ops-key", "dev-ops:client:dev-ops-key"):
        async with make_console_api(settings, client, sessions, api_keys=SecretStr(api_keys))() as http:
            http.cookies.set(CODEC_COOKIE, good_pass, domain="orderflow.test", path="/codec")
            response = await http.post("/codec/decode", json=document, headers=from_ui)
            assert response.status_code == 401, (api_keys, response.text)


# --- the access policy (OMS_CODEC_ACCESS) --------------------------------------------------------

LOCAL_API = "http://localhost:8000"  # how the dev UI names the API: Host localhost, a loopback server address


def policy_api(
    settings: Settings, client: Client, sessions: sessionmaker[Session], access: str, peer: str = "127.0.0.1"
) -> httpx.AsyncClient:
    """The API under `access`, called over a connection from `peer` (the TCP client address)."""
    app = create_app(settings.model_copy(update={"codec_access": access}), client=client, sessions=sessions)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 51234)), base_url=LOCAL_API)


async def stored_input(api: httpx.AsyncClient, client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order's body and its workflow input as stored (encrypted), in the codec's wire form."""
    body = personal_order(await new_sku(api, {"WH-EAST": 1}))
    body["shipping_address"]["postal_code"] = "310000"
    order = await submit(api, body)
    history = await client.get_workflow_handle(order["workflow_id"]).fetch_history()
    return body, wire(list(history.events[0].workflow_execution_started_event_attributes.input.payloads))


async def test_by_default_the_codec_admits_no_one_without_credentials_even_from_loopback(
    api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    _, stored = await stored_input(api, client)
    async with policy_api(settings, client, sessions, "authenticated") as http:
        for path in ("/codec/decode", "/codec/encode"):
            refused = await http.post(path, json=stored, headers={"Origin": UI_ORIGIN, "X-Namespace": "default"})
            assert refused.status_code == 401, (path, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
    assert Settings().codec_access == "authenticated", "the default, unless OMS_CODEC_ACCESS says otherwise"


async def test_loopback_open_lets_the_local_ui_decode_without_credentials(
    api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    body, stored = await stored_input(api, client)
    from_ui = {"Origin": UI_ORIGIN, "X-Namespace": "default"}  # what the UI sends without credentials
    async with policy_api(settings, client, sessions, "loopback-open") as http:
        # The UI's preflight (its JSON body and X-Namespace make one) and its call, no key, no cookie.
        preflight = await http.options(
            "/codec/decode",
            headers={"Origin": UI_ORIGIN, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type,x-namespace"},
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
        decoded = await http.post("/codec/decode", json=stored, headers=from_ui)
        assert decoded.status_code == 200, decoded.text
        assert decoded.headers["access-control-allow-origin"] == UI_ORIGIN
        [payload] = unwire(decoded.json())
        assert body["customer"]["name"].encode() in payload.data
        from_other_ui_origin = {**from_ui, "Origin": "http://127.0.0.1:8233"}
        encoded = await http.post("/codec/encode", json=wire([Payload(data=b"1")]), headers=from_other_ui_origin)
        assert encoded.status_code == 200, encoded.text

        # Only what no key is given for: a key, when given, is what counts.
        assert (await http.post("/codec/decode", json=stored, headers={**from_ui, **CLIENT})).status_code == 403
        assert (await http.post("/codec/decode", json=stored, headers={**from_ui, **OPS})).status_code == 200

        # Not from another page in the browser, local or not, nor from a client without Origin, nor
        # through a proxy, nor for a page of another site whose name resolves to 127.0.0.1.
        for headers in (
            {"Origin": "http://localhost:3000"},
            {"Origin": "https://evil.example"},
            {},
            {**from_ui, "X-Forwarded-For": "203.0.113.7"},
            {**from_ui, "Forwarded": "for=203.0.113.7"},
            {**from_ui, "Host": "rebound.evil.example:8000"},
        ):
            refused = await http.post("/codec/decode", json=stored, headers=headers)
            assert refused.status_code == 401, (headers, refused.text)

    # Nor from another machine, nor on a connection to a non-loopback address of ours, nor when the
    # UI's origins are another machine's.
    async with policy_api(settings, client, sessions, "loopback-open", peer="10.0.0.5") as http:
        refused = await http.post("/codec/decode", json=stored, headers=from_ui)
        assert refused.status_code == 401, refused.text
    async with policy_api(settings, client, sessions, "loopback-open") as http:
        http.base_url = httpx.URL("http://192.0.2.10:8000")  # the server address ASGI reports
        refused = await http.post("/codec/decode", json=stored, headers={**from_ui, "Host": "localhost:8000"})
        assert refused.status_code == 401, refused.text
    app = create_app(
        settings.model_copy(update={"codec_access": "loopback-open", "codec_cors_origins": "https://ui.example"}),
        client=client, sessions=sessions,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL_API) as http:
        refused = await http.post("/codec/decode", json=stored, headers={**from_ui, "Origin": "https://ui.example"})
        assert refused.status_code == 401, refused.text


async def test_loopback_open_refuses_to_start_on_an_api_bound_beyond_loopback(
    settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    for host in ("0.0.0.0", "::", "10.0.0.5", "oms.example"):
        changed = settings.model_copy(update={"codec_access": "loopback-open", "api_host": host})
        with pytest.raises(ValueError, match="OMS_CODEC_ACCESS=loopback-open") as refused:
            create_app(changed, client=client, sessions=sessions)
        assert f"OMS_API_HOST is {host!r}" in str(refused.value)
    for host in ("127.0.0.1", "::1", "localhost"):
        create_app(settings.model_copy(update={"codec_access": "loopback-open", "api_host": host}),
                   client=client, sessions=sessions)


async def test_a_copied_pass_is_refused_after_sign_out(
    settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    """Signing out ends the server-side session the pass names: a copy of the pass (kept by
    another browser, or by anyone who read it) is refused at once, not when its cookie expires."""
    document = wire([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    from_ui = {"Origin": UI_ORIGIN}
    new_client = make_console_api(settings, client, sessions)
    async with new_client() as owner, new_client() as thief:
        await console_form(owner, "/login", api_key="dev-ops-key")
        thief.cookies.set(CODEC_COOKIE, owner.cookies[CODEC_COOKIE], domain="orderflow.test", path="/codec")
        assert (await thief.post("/codec/decode", json=document, headers=from_ui)).status_code == 200

        assert (await console_form(owner, "/logout")).status_code == 303
        refused = await thief.post("/codec/decode", json=document, headers=from_ui)
        assert refused.status_code == 401, refused.text
