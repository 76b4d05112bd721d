"""The real Temporal UI of `oms dev` decodes our payloads as it opens, with no sign-in and no
browser setting (OMS_CODEC_ACCESS=loopback-open, api.routers.codec "Access policy").

The session's Temporal server is headless, so this module starts one of its own with its Web UI,
by the command line `oms dev` uses (config.temporal.dev_server_command, in memory here), pointed
at our codec server as `oms dev` points it: `--ui-codec-endpoint http://localhost:<api port>/codec`.
Our API is served on a real loopback port under loopback-open, with a worker of its own; Chromium
opens an order's workflow in the UI as an engineer would, in a fresh profile.
"""

import subprocess
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Page, Request, expect
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from config.settings import Settings
from config.temporal import connect, dev_server_command, free_port, ui_codec_endpoint, wait_for_port
from tests.browser.conftest import screenshot_path
from tests.integration.helpers import new_sku, order_body, submit
from tests.serving import free_socket, serving
from worker import build_worker

TASK_QUEUE = "orders-ui-test"
BANNER = "Codec Server could not connect"


@dataclass(frozen=True)
class Stack:
    api_url: str  # as the UI calls it: http://localhost:<port>
    ui_url: str  # as the console links to it: http://localhost:<port>


@contextmanager
def temporal_with_ui(settings: Settings) -> Iterator[None]:
    """`temporal server start-dev` as `oms dev` runs it (in memory), its UI pointed at our codec."""
    command = dev_server_command(settings, persistent=False, codec_endpoint=ui_codec_endpoint(settings))
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for port in (settings.temporal_port, settings.temporal_ui_port):
            if not wait_for_port("127.0.0.1", port, timeout=30):
                pytest.fail(f"the Temporal dev server did not listen on {port} (exit status {server.poll()})")
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest_asyncio.fixture(scope="module")
async def stack(sessions: sessionmaker[Session]) -> AsyncIterator[Stack]:
    api_sock = free_socket()  # reserved first: the UI's codec endpoint names its port
    settings = Settings(
        task_queue=TASK_QUEUE,
        temporal_port=free_port(),
        temporal_ui_port=free_port(),
        api_port=api_sock.getsockname()[1],
        codec_access="loopback-open",  # what `oms dev` gives its API (config.temporal.dev_codec_access)
    )
    with temporal_with_ui(settings), ThreadPoolExecutor(max_workers=8) as executor:
        client = await connect(settings)  # with the test codec key (tests/conftest.py), as the whole stack
        app = create_app(settings, client=client, sessions=sessions)
        async with (
            build_worker(client, sessions, task_queue=TASK_QUEUE, executor=executor, activity_slots=8),
            serving(app, api_sock),
        ):
            yield Stack(
                api_url=f"http://localhost:{settings.api_port}",
                ui_url=f"http://localhost:{settings.temporal_ui_port}",
            )


async def test_the_dev_ui_shows_an_orders_input_decoded_with_no_sign_in(page: Page, stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api:
        body = order_body(await new_sku(api, {"WH-EAST": 2}))
        name = body["customer"]["name"] = body["shipping_address"]["name"] = f"Zhao Xue {body['order_id'][2:]}"
        order = await submit(api, body)

    # What the UI sends its codec server: it must carry no credential of any kind.
    sent: list[dict[str, str]] = []
    answered: list[int] = []

    async def on_request(request: Request) -> None:
        if "/codec/" in request.url:
            sent.append(await request.all_headers())

    page.on("request", on_request)
    page.on("response", lambda response: answered.append(response.status) if "/codec/" in response.url else None)
    await page.goto(f"{stack.ui_url}/namespaces/default/workflows/{order['workflow_id']}")

    # The workflow's input, decoded: the customer's name shows (it is nowhere else in the page).
    await expect(page.get_by_text(name).first).to_be_visible(timeout=30_000)
    await expect(page.get_by_text(BANNER)).to_have_count(0)
    await page.screenshot(path=screenshot_path("temporal-ui-decoded"), full_page=True)
    assert sent and answered and set(answered) == {200}, answered
    for headers in sent:
        assert headers["origin"] == stack.ui_url and headers.get("x-namespace") == "default", headers
        assert not {"authorization", "x-api-key", "cookie"} & set(headers), headers
