"""The Temporal UI's decoding, as Chromium does it: an ops person signed in to the console at the
API's origin, and a page at the Temporal UI's origin (a stand-in page: the test dev server is
headless) calling the codec server with `fetch(..., {credentials: 'include'})` as the UI does with
its "include cross-origin credentials" setting on. Both origins are 127.0.0.1 on two ports: the
same site, so the SameSite=Strict codec pass goes along, as between localhost:8233 and :8000
under `oms dev`.
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from google.protobuf import json_format
from playwright.async_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from api.app import create_app
from api.console.session import CODEC_COOKIE
from config.settings import Settings
from tests.browser.test_console import UI, sign_in
from tests.integration.helpers import new_sku, order_body, submit
from tests.serving import free_socket, origin_of, serving

# What the Temporal UI's codec client does (its headers make the browser send a CORS preflight).
CODEC_FETCH = """async ([url, body]) => {
  try {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'include',
      headers: {'Content-Type': 'application/json', 'X-Namespace': 'default'},
      body,
    });
    return {status: response.status, body: await response.text()};
  } catch (error) {
    return {error: String(error)};
  }
}"""


@dataclass(frozen=True)
class Origins:
    api: str  # the API and its console
    ui: str  # listed in OMS_CODEC_CORS_ORIGINS, as the Temporal UI's origin is
    other: str  # the same site (127.0.0.1), another port, not listed


async def blank_page(_: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>Temporal UI stand-in</title><p>codec client</p>")


@pytest_asyncio.fixture(scope="module")
async def origins(
    settings: Settings, client: Client, sessions: sessionmaker[Session], worker: None
) -> AsyncIterator[Origins]:
    api_sock, ui_sock, other_sock = free_socket(), free_socket(), free_socket()
    found = Origins(api=origin_of(api_sock), ui=origin_of(ui_sock), other=origin_of(other_sock))
    app = create_app(
        settings.model_copy(update={"codec_cors_origins": found.ui}), client=client, sessions=sessions
    )
    pages = Starlette(routes=[Route("/", blank_page)])
    async with serving(app, api_sock), serving(pages, ui_sock, other_sock):
        yield found


async def decode_from(page: Page, origin: str, codec_url: str, document: dict[str, Any]) -> dict[str, Any]:
    """Open a page at `origin` and call the codec server's /decode from it, as the Temporal UI does."""
    await page.goto(f"{origin}/")
    result: dict[str, Any] = await page.evaluate(CODEC_FETCH, [f"{codec_url}/decode", json.dumps(document)])
    return result


async def test_the_ui_origin_decodes_an_orders_input_while_signed_in_to_the_console(
    page: Page, origins: Origins, api: httpx.AsyncClient, client: Client
) -> None:
    body = order_body(await new_sku(api, {"WH-EAST": 2}))
    email = body["customer"]["email"] = f"codec-ui-{body['customer']['id']}@example.com"
    order = await submit(api, body)
    history = await client.get_workflow_handle(order["workflow_id"]).fetch_history()
    stored = history.events[0].workflow_execution_started_event_attributes.input
    document = json_format.MessageToDict(stored)
    assert email.encode() not in b"".join(p.data for p in stored.payloads), "stored encrypted"
    codec_url = f"{origins.api}/codec"

    refused = await decode_from(page, origins.ui, codec_url, document)
    assert refused.get("status") == 401, f"not signed in: refused ({refused})"

    await sign_in(page, origins.api)
    await expect(page).to_have_url(f"{origins.api}{UI}/queue")
    codec_pass = next(c for c in await page.context.cookies() if c["name"] == CODEC_COOKIE)
    assert (codec_pass["path"], codec_pass["httpOnly"], codec_pass["sameSite"]) == ("/codec", True, "Strict")

    decoded = await decode_from(page, origins.ui, codec_url, document)
    assert decoded.get("status") == 200, decoded
    [payload] = json_format.Parse(decoded["body"], Payloads()).payloads
    assert payload.metadata["encoding"] == b"json/plain"
    assert email.encode() in payload.data, "the order's input, readable at the UI's origin"
    assert await page.evaluate("document.cookie") == "", "no script at the UI's origin reads the pass"

    # Another page of the same site, not among the UI's origins: the browser refuses the preflight,
    # so the call fails before it is sent.
    blocked = await decode_from(page, origins.other, codec_url, document)
    assert "error" in blocked and "Failed to fetch" in blocked["error"], blocked

    await page.goto(f"{origins.api}{UI}/queue")
    await page.click("form.logout button")
    await expect(page).to_have_url(f"{origins.api}{UI}/login")
    assert CODEC_COOKIE not in {c["name"] for c in await page.context.cookies()}
    after = await decode_from(page, origins.ui, codec_url, document)
    assert after.get("status") == 401, f"signed out: refused again ({after})"
