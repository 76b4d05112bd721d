"""The ops console in real headless Chromium (issue 8, item 4): signing in with ops keys only,
a held order listed and moved on with one click, CSRF refusals, the order page, search, stock
alerts, complaints, and the dashboard's charts drawn by plotly.js. Screenshots go to tests/artifacts/."""

import re
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot_path
from tests.conftest import CLIENT, OPS, eventually
from tests.integration.helpers import (
    carrier_event,
    get_order,
    new_sku,
    order_body,
    order_once,
    ship_to_carrier,
    submit,
    wait_for_shipment,
)

UI = "/ops/ui"


async def sign_in(page: Page, base: str, key: str = "dev-ops-key") -> None:
    await page.goto(f"{base}{UI}/login")
    await page.fill("#api_key", key)
    await page.click("main form button[type=submit]")


async def held_order(api: httpx.AsyncClient) -> dict[str, Any]:
    """An order held for review: its total is over the review threshold."""
    sku = await new_sku(api, {"WH-EAST": 5}, price="6000.00")
    held = await submit(api, order_body(sku, price="6000.00"))
    assert held["status"] == "on_hold"
    return held


async def test_only_an_ops_key_signs_in(page: Page, console_url: str) -> None:
    await page.goto(f"{console_url}{UI}/queue")
    await expect(page).to_have_url(f"{console_url}{UI}/login"), "no session: the login page"

    await sign_in(page, console_url, "dev-client-key")
    await expect(page.get_by_role("alert")).to_contain_text("a client key may not sign in")
    await sign_in(page, console_url, "dev-warehouse-key")
    await expect(page.get_by_role("alert")).to_contain_text("a warehouse key may not sign in")
    await sign_in(page, console_url, "not-a-key")
    await expect(page.get_by_role("alert")).to_contain_text("Unknown API key")
    await page.goto(f"{console_url}{UI}/queue")
    await expect(page).to_have_url(f"{console_url}{UI}/login"), "a refused key opened no session"

    await sign_in(page, console_url)
    await expect(page).to_have_url(f"{console_url}{UI}/queue")
    await expect(page.locator(".flash.ok")).to_contain_text("Signed in as dev-ops")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "oms_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "dev-ops-key" not in cookie["value"]

    await page.click("form.logout button")
    await expect(page).to_have_url(f"{console_url}{UI}/login")
    await page.goto(f"{console_url}{UI}/queue")
    await expect(page).to_have_url(f"{console_url}{UI}/login"), "signed out: the session is over"


async def test_queue_lists_a_held_order_and_one_click_approves_it(
    page: Page, console_url: str, api: httpx.AsyncClient
) -> None:
    held = await held_order(api)
    order_id = held["order_id"]
    await sign_in(page, console_url)
    row = page.locator(f"#row-{order_id}")
    await expect(row).to_be_visible()
    await expect(row.locator(".reason")).to_contain_text("review threshold")
    await expect(row.locator("button[data-action]")).to_have_text(["approve", "reject", "cancel"])
    await page.screenshot(path=screenshot_path("queue"), full_page=True)

    await row.locator("button[data-action=approve]").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"approve applied to {order_id}")

    await wait_for_shipment(api, order_id, "picking")  # released: allocated, paid, being picked
    order = await get_order(api, order_id)
    assert order["hold"] is None
    approval = next(e for e in order["timeline"] if e["event"] == "ops.approve")
    assert approval["actor"] == "dev-ops", "the action is recorded with the signed-in key's name"

    async def gone_from_queue() -> bool:
        await page.goto(f"{console_url}{UI}/queue")
        return await page.locator(f"#row-{order_id}").count() == 0

    await eventually(gone_from_queue)


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    page: Page, console_url: str, api: httpx.AsyncClient
) -> None:
    held = await held_order(api)
    order_id = held["order_id"]
    # No session yet: the login form itself needs its token.
    refused_login = await page.request.post(f"{console_url}{UI}/login", form={"api_key": "dev-ops-key"})
    assert refused_login.status == 403
    await page.goto(f"{console_url}{UI}/queue")
    await expect(page).to_have_url(f"{console_url}{UI}/login")

    await sign_in(page, console_url)
    action = f"{console_url}{UI}/orders/{order_id}/actions"
    # The browser's own session cookie goes along; only the token is missing or wrong.
    without = await page.request.post(action, form={"action": "cancel", "next": "queue"}, max_redirects=0)
    assert without.status == 403
    forged = await page.request.post(
        action, form={"action": "cancel", "next": "queue", "csrf_token": "forged"}, max_redirects=0
    )
    assert forged.status == 403
    assert "not sent by this console" in await forged.text()

    order = await get_order(api, order_id)
    assert order["status"] == "on_hold"
    assert not [e for e in order["timeline"] if e["event"].startswith("ops.")]


async def test_order_page_search_and_bad_input(page: Page, console_url: str, api: httpx.AsyncClient) -> None:
    held = await held_order(api)
    order_id, customer = held["order_id"], held["customer"]["id"]
    await sign_in(page, console_url)

    await page.goto(f"{console_url}{UI}/orders?order_id={order_id}")
    await expect(page).to_have_url(f"{console_url}{UI}/orders/{order_id}"), "an exact id opens the order"
    await expect(page.locator("#temporal-link")).to_have_attribute(
        "href", f"http://localhost:8233/namespaces/default/workflows/{held['workflow_id']}"
    )
    await expect(page.locator("#timeline")).to_contain_text("on hold")
    await page.screenshot(path=screenshot_path("order"), full_page=True)

    # A note over the limit (past the form's own maxlength): a message naming the field, nothing done.
    await page.select_option("form.stack select[name=action]", "cancel")
    await page.evaluate("document.querySelector('form.stack textarea').removeAttribute('maxlength')")
    await page.fill("form.stack textarea[name=note]", "x" * 2001)
    await page.click("form.stack button[type=submit]")
    await expect(page.locator(".flash.error")).to_contain_text(
        "note: String should have at most 2000 characters"
    )
    assert (await get_order(api, order_id))["status"] == "on_hold"

    await page.goto(f"{console_url}{UI}/orders?customer_id={customer}")
    await expect(page.locator("#orders tbody tr")).to_have_count(1)
    await expect(page.locator("#orders")).to_contain_text(order_id)
    await page.goto(f"{console_url}{UI}/orders?status=lost&customer_id={'c' * 201}")
    alerts = page.get_by_role("alert")
    await expect(alerts).to_have_count(2)
    await expect(alerts.nth(0)).to_contain_text("customer_id: at most 200 characters")
    await expect(alerts.nth(1)).to_contain_text("status: must be one of")


async def test_stock_alerts_and_complaints(page: Page, console_url: str, api: httpx.AsyncClient) -> None:
    low_sku = await new_sku(api, {"WH-WEST": 2}, reorder_point=5)
    order = await submit(api, order_body(await new_sku(api, {"WH-EAST": 5})))
    complaint = await api.post(
        f"/orders/{order['order_id']}/feedback",
        headers=CLIENT,
        json={"rating": 1, "comment": "the box was wet", "kind": "complaint"},
    )
    assert complaint.status_code == 201, complaint.text
    complaint_id = complaint.json()["complaint_id"]
    await sign_in(page, console_url)

    await page.goto(f"{console_url}{UI}/alerts")
    alert_row = page.locator("#alerts tr", has_text=low_sku)
    await expect(alert_row).to_contain_text("WH-WEST")

    await page.goto(f"{console_url}{UI}/complaints")
    row = page.locator(f"#complaint-{complaint_id}")
    await expect(row).to_contain_text("the box was wet")
    await row.locator("input[name=note]").evaluate("input => input.removeAttribute('required')")
    await row.locator("button").click()
    await expect(page.locator(".flash.error")).to_contain_text(
        "note: String should have at least 1 character"
    )
    await row.locator("input[name=note]").fill("sent a replacement")
    await row.locator("button").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"Complaint {complaint_id} resolved")
    resolved = (await api.get(f"/ops/complaints/{complaint_id}", headers=OPS)).json()
    assert (resolved["status"], resolved["resolved_by"], resolved["note"]) == (
        "resolved",
        "dev-ops",
        "sent a replacement",
    )


async def test_dashboard_draws_its_charts(page: Page, console_url: str, api: httpx.AsyncClient) -> None:
    await submit(api, order_body(await new_sku(api, {"WH-EAST": 5})))
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    await sign_in(page, console_url)
    await page.goto(f"{console_url}{UI}/dashboard")
    for chart in ("chart-funnel", "chart-steps", "chart-sla", "chart-returns"):
        await expect(page.locator(f"#{chart} svg.main-svg").first).to_be_visible()
    await expect(page.locator("#chart-funnel .funnellayer path")).not_to_have_count(0)  # the funnel's bars
    await expect(page.locator("#chart-funnel .gtitle")).to_have_text("Orders by status")
    await expect(page.locator("#chart-returns .gtitle")).to_contain_text("Return rate")
    orders = int(await page.locator("#kpi-orders").inner_text())
    assert orders >= 1
    await page.screenshot(path=screenshot_path("dashboard"), full_page=True)
    assert problems == [], "no script errors and no Content-Security-Policy refusals"

    await page.goto(f"{console_url}{UI}/dashboard?from=2026-13-01&to=yesterday")
    alerts = page.get_by_role("alert")
    await expect(alerts).to_have_count(2)
    await expect(alerts.nth(0)).to_contain_text("from: not a date")
    await expect(alerts.nth(1)).to_contain_text("to: not a date")


async def test_every_console_page_but_login_needs_a_session(console_url: str) -> None:
    async with httpx.AsyncClient(base_url=console_url, follow_redirects=False) as http:
        for method, path in [
            ("GET", "/"),
            ("GET", "/queue"),
            ("GET", "/orders"),
            ("GET", "/orders/T-1"),
            ("GET", "/alerts"),
            ("GET", "/complaints"),
            ("GET", "/dashboard"),
            ("POST", "/orders/T-1/actions"),
            ("POST", "/complaints/C-1/resolve"),
        ]:
            response = await http.request(method, f"{UI}{path}", headers=OPS)  # an API key is no session
            assert response.status_code == 303, (method, path)
            assert response.headers["location"] == f"{UI}/login"
        assert (await http.get(f"{UI}/login")).status_code == 200
        plotly = await http.get(f"{UI}/vendor/plotly.min.js")
        assert plotly.status_code == 200 and re.search(r"plotly\.js v\d", plotly.text[:200])


async def test_the_refund_form_refunds_the_order(page: Page, console_url: str, api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order_id = (await submit(api, order_body(sku)))["order_id"]
    await wait_for_shipment(api, order_id, "picking")  # paid: something captured to refund
    await sign_in(page, console_url)
    await page.goto(f"{console_url}{UI}/orders/{order_id}")
    form = page.locator("#refund-form")
    await expect(form).to_be_visible()
    await expect(page.locator("#reject-claim-form")).to_have_count(0)

    await form.locator("input[name=amount]").fill("12.50")
    await form.locator("textarea[name=note]").fill("late delivery, sorry")
    await form.locator("button[type=submit]").click()

    await expect(page.locator(".flash.ok")).to_contain_text(f"refund applied to {order_id}")
    order = await get_order(api, order_id)
    assert order["totals"]["refunded"] == "12.50"
    assert order["payment"]["status"] == "partially_refunded"
    refund = next(e for e in order["timeline"] if e["event"] == "ops.refund")
    assert refund["actor"] == "dev-ops" and refund["detail"]["note"] == "late delivery, sorry"


async def test_the_reship_form_sends_a_returned_parcel_again(
    page: Page, console_url: str, api: httpx.AsyncClient
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order_id = (await submit(api, order_body(sku)))["order_id"]
    shipment = await ship_to_carrier(api, order_id)
    await carrier_event(api, shipment["carrier"], shipment["tracking_number"], "in_transit")
    await carrier_event(api, shipment["carrier"], shipment["tracking_number"], "returned_to_sender", "refused")
    await eventually(lambda: order_once(api, order_id, lambda o: "reship" in o["available_actions"]))
    await sign_in(page, console_url)
    await page.goto(f"{console_url}{UI}/orders/{order_id}")
    form = page.locator("#reship-form")
    await expect(form).to_be_visible()

    await form.locator("select[name=shipment_id]").select_option(shipment["shipment_id"])
    await form.locator("button[type=submit]").click()

    await expect(page.locator(".flash.ok")).to_contain_text(f"reship applied to {order_id}")
    order = await get_order(api, order_id)
    assert len(order["shipments"]) == 2
    assert order["shipments"][0]["outcome"] == f"reshipped as {order['shipments'][1]['shipment_id']}"
    assert not order["needs_attention"]
    await expect(page.locator("#reship-form")).to_have_count(0)
