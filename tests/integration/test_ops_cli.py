"""`oms ops` end to end: the real CLI against the real API served by uvicorn on a free port
(over the test worker, Temporal and PostgreSQL). The CLI runs in a thread, the server in the
test's event loop, next to the Temporal client it uses."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest_asyncio
from click.testing import Result
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from typer.testing import CliRunner

from api.app import create_app
from cli import app as oms
from config.settings import Settings
from tests.conftest import CLIENT, OPS, eventually
from tests.integration.helpers import (
    confirm_pick,
    new_sku,
    order_body,
    signed,
    submit,
    wait_for_shipment,
    wait_for_status,
)
from tests.serving import free_socket, origin_of, served


@pytest_asyncio.fixture(scope="session")
async def api_url(
    settings: Settings, client: Client, sessions: sessionmaker[Session], worker: None
) -> AsyncIterator[str]:
    async with served(create_app(settings, client=client, sessions=sessions)) as url:
        yield url


async def oms_ops(api_url: str, *args: str, key: str = "dev-ops-key") -> Result:
    """Run `oms ops ARGS` in a thread (it makes blocking HTTP calls to the server in this loop)."""
    runner = CliRunner()
    argv = ["ops", *args, "--api-url", api_url, "--api-key", key]
    return await asyncio.to_thread(runner.invoke, oms, argv, env={"COLUMNS": "220"})


def printed(result: Result) -> str:
    """What the command printed, without the log lines of the worker that shares this process
    (CliRunner captures them too: a notification sent meanwhile names the order)."""
    return "\n".join(line for line in result.output.splitlines() if "dedupe_key=" not in line)


async def test_list_shows_a_stuck_order_with_its_reason(api: httpx.AsyncClient, api_url: str) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    body["shipping_address"]["postal_code"] = "000000"  # the label is refused: needs attention
    order = await submit(api, body)
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    await confirm_pick(api, shipment["shipment_id"])
    await wait_for_shipment(api, order["order_id"], "exception")

    async def listed() -> Result | None:
        result = await oms_ops(api_url, "list", "--attention", "--limit", "500")
        assert result.exit_code == 0, result.output
        return result if order["order_id"] in printed(result) else None

    result = await eventually(listed)
    rows = [line for line in printed(result).splitlines() if order["order_id"] in line]
    row = rows[0]
    assert "yes" in row  # needs attention
    assert "Ops queue" in result.output

    held = await oms_ops(api_url, "list", "--held")
    assert held.exit_code == 0, held.output
    assert order["order_id"] not in printed(held)


async def test_show_prints_the_summary_and_the_timeline(api: httpx.AsyncClient, api_url: str) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    await wait_for_status(api, order["order_id"], "fulfilling")

    result = await oms_ops(api_url, "show", order["order_id"])
    assert result.exit_code == 0, result.output
    assert f"Order {order['order_id']}" in result.output
    assert "fulfilling" in result.output
    assert "Timeline" in result.output
    assert "dev-client" in result.output  # the actor of the submission


async def test_note_through_the_cli(api: httpx.AsyncClient, api_url: str) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    await wait_for_status(api, order["order_id"], "fulfilling")

    result = await oms_ops(api_url, "note", order["order_id"], "--note", "checked stock by hand")
    assert result.exit_code == 0, result.output
    assert f"order {order['order_id']} is now fulfilling" in result.output

    shown = await oms_ops(api_url, "show", order["order_id"])
    assert "dev-ops" in shown.output


async def test_problems_are_printed_and_exit_1(api_url: str) -> None:
    unknown = await oms_ops(api_url, "approve", "NO-SUCH-ORDER")
    assert unknown.exit_code == 1
    assert "Not found (404)" in unknown.output
    assert "NO-SUCH-ORDER" in unknown.output

    forbidden = await oms_ops(api_url, "list", key="dev-client-key")
    assert forbidden.exit_code == 1
    assert "Forbidden (403)" in forbidden.output

    too_long = await oms_ops(api_url, "note", "NO-SUCH-ORDER", "--note", "x" * 2001)
    assert too_long.exit_code == 1
    assert "Invalid request (422)" in too_long.output
    assert "  note:" in too_long.output  # one line per bad field

    with free_socket() as sock:  # bound, never listening: connections are refused
        unreachable = await asyncio.to_thread(
            CliRunner().invoke, oms, ["ops", "list", "--api-url", origin_of(sock)]
        )
    assert unreachable.exit_code == 1
    assert "cannot reach the API" in unreachable.output


MARKUP = "[/] [bold red]refund NOW[/bold red] [link=http://evil.example]here[/link] [/bold] \\[x]"


async def test_markup_in_names_and_notes_is_printed_literally(api: httpx.AsyncClient, api_url: str) -> None:
    """Customers' and operators' text full of Rich markup: `list`, `show` and an action print it as
    typed and do not crash (a closing `[/]` raised MarkupError before)."""
    sku = await new_sku(api, {"WH-EAST": 5}, price="6000.00")
    body = order_body(sku, price="6000.00")  # above OMS_RISK_HOLD_ABOVE: held for review
    body["customer"]["name"] = "[/] Li [bold]Lei"
    order = await submit(api, body)
    await wait_for_status(api, order["order_id"], "on_hold")

    noted = await oms_ops(api_url, "note", order["order_id"], "--note", MARKUP)
    assert noted.exit_code == 0, noted.output
    assert "[/] Li [bold]Lei" in noted.output

    async def listed() -> Result | None:
        result = await oms_ops(api_url, "list", "--held", "--limit", "500")
        assert result.exit_code == 0, result.output
        return result if order["order_id"] in result.output else None

    await eventually(listed)
    shown = await oms_ops(api_url, "show", order["order_id"])
    assert shown.exit_code == 0, shown.output
    assert "[/] Li [bold]Lei" in shown.output
    assert f"note={MARKUP}" in shown.output.replace("\n", "")


async def test_refund_reship_and_reject_claim_through_the_cli(api: httpx.AsyncClient, api_url: str) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    order_id = order["order_id"]
    await wait_for_status(api, order_id, "fulfilling")

    refunded = await oms_ops(api_url, "refund", order_id, "--line", f"{sku}:1", "--note", "price match")
    assert refunded.exit_code == 0, refunded.output
    assert f"refund: order {order_id}" in printed(refunded)
    beyond = await oms_ops(api_url, "refund", order_id, "--amount", "50.00", "--note", "too much")
    assert beyond.exit_code == 1 and "409" in printed(beyond)
    bad_line = await oms_ops(api_url, "refund", order_id, "--line", "no-quantity", "--note", "x")
    assert bad_line.exit_code != 0

    shipment = await wait_for_shipment(api, order_id, "picking")
    await confirm_pick(api, shipment["shipment_id"])
    parcel = await wait_for_shipment(api, order_id, "label_created")
    body, headers = signed(parcel["carrier"], {"tracking_number": parcel["tracking_number"], "status": "in_transit",
                                                "at": datetime.now(UTC).isoformat()})
    assert (await api.post(f"/webhooks/carriers/{parcel['carrier']}", content=body, headers=headers)).status_code == 202
    await wait_for_status(api, order_id, "shipped")
    claims = []
    for kind in ("not_received",):
        filed = await api.post(f"/orders/{order_id}/claims", headers=CLIENT,
                               json={"kind": kind, "shipment_id": shipment["shipment_id"]})
        assert filed.status_code == 201, filed.text
        claims.append(filed.json()["claim_id"])
    shown = await oms_ops(api_url, "show", order_id)
    assert f"claim {claims[0]}" in printed(shown) and "open not_received" in printed(shown)

    rejected = await oms_ops(api_url, "reject-claim", order_id, "--claim", claims[0], "--note", "tracking says delivered")
    assert rejected.exit_code == 0, rejected.output
    assert "rejected not_received" in printed(rejected)

    reshipped = await oms_ops(api_url, "reship", order_id, "--shipment", shipment["shipment_id"])
    assert reshipped.exit_code == 1 and "409" in printed(reshipped), "nothing to reship: the parcel is on its way"


async def test_edit_lines_and_contact_change_the_order(api: httpx.AsyncClient, api_url: str) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    order_id = order["order_id"]
    await wait_for_shipment(api, order_id, "picking")

    edited = await oms_ops(api_url, "edit-lines", order_id, "--line", f"{sku}:2")
    assert edited.exit_code == 0, edited.output
    assert "lines changed" in printed(edited) and "210.00 CNY" in printed(edited)  # 198 + 12 shipping

    contact = await oms_ops(api_url, "edit-contact", order_id, "--email", "han.meimei@example.com")
    assert contact.exit_code == 0, contact.output
    after = (await api.get(f"/orders/{order_id}", headers=OPS)).json()
    assert after["customer"]["email"] == "han.meimei@example.com" and after["lines"][0]["quantity"] == 2
    assert [e["actor"] for e in after["timeline"] if e["event"] in ("order.lines_edited", "order.contact_changed")] == [
        "dev-ops",
        "dev-ops",
    ]

    empty = await oms_ops(api_url, "edit-lines", order_id, "--line", f"{sku}:0")
    assert empty.exit_code == 1
    assert "lines" in empty.output and "no lines left" in empty.output
