"""Issue 19 in real headless Chromium: the dashboard draws the new breakdowns (parcel steps from
the parcel log, warehouses, carriers, channels, reasons, exchanges apart, inventory turns and
stock-outs) from a delivered and a cancelled order, with no script error."""

import httpx
from playwright.async_api import ConsoleMessage, Page, expect

from tests.browser.conftest import screenshot_path
from tests.browser.test_console import UI, sign_in
from tests.conftest import CLIENT
from tests.integration.helpers import (
    carrier_event,
    new_sku,
    order_body,
    ship_to_carrier,
    submit,
    wait_for_status,
)

BREAKDOWNS = {
    "chart-parcel-steps": "Parcel steps (p50, p90, mean)",
    "chart-warehouse-steps": "Parcel steps by warehouse (p50)",
    "chart-carrier-steps": "Parcel steps by carrier (p50)",
    "chart-warehouses": "Parcels by warehouse",
    "chart-carriers": "Parcels by carrier",
    "chart-channels": "Orders by channel",
    "chart-cancellations": "Cancellations by reason",
    "chart-return-reasons": "Returns by reason",
    "chart-exceptions": "Carrier exceptions by issue",
    "chart-exchanges": "Returns and exchanges",
    "chart-turns": "Inventory turns by warehouse",
    "chart-stock-outs": "Stock-outs",
}


async def test_dashboard_draws_the_breakdowns(page: Page, console_url: str, api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    delivered = await submit(api, order_body(sku))
    parcel = await ship_to_carrier(api, delivered["order_id"])
    for status in ("in_transit", "out_for_delivery", "delivered"):
        await carrier_event(api, parcel["carrier"], parcel["tracking_number"], status)
    await wait_for_status(api, delivered["order_id"], "delivered")
    cancelled = await submit(api, order_body(sku))
    await wait_for_status(api, cancelled["order_id"], "fulfilling")
    assert (await api.post(f"/orders/{cancelled['order_id']}/cancel", headers=CLIENT, json={})).status_code == 200
    await wait_for_status(api, cancelled["order_id"], "cancelled")

    problems: list[str] = []

    def console_error(message: ConsoleMessage) -> None:
        if message.type == "error":  # the console declares its icon: no /favicon.ico 404 either
            problems.append(f"{message.text} at {message.location.get('url')}")

    page.on("console", console_error)
    page.on("pageerror", lambda error: problems.append(str(error)))
    await sign_in(page, console_url)
    await page.goto(f"{console_url}{UI}/dashboard")
    for chart, title in BREAKDOWNS.items():
        await expect(page.locator(f"#{chart} svg.main-svg").first).to_be_visible()
        await expect(page.locator(f"#{chart} .gtitle")).to_have_text(title)
    # Bars, not the "no data" note, where the two orders put something.
    drawn = ("chart-parcel-steps", "chart-warehouse-steps", "chart-carrier-steps", "chart-warehouses",
             "chart-carriers", "chart-channels", "chart-cancellations")
    for chart in drawn:
        await expect(page.locator(f"#{chart} .barlayer .point path")).not_to_have_count(0)
    steps = page.locator("#chart-parcel-steps .xtick text")
    await expect(steps.first).to_be_visible()
    assert {"pick", "pack", "label", "transit", "delivery"} <= set(await steps.all_text_contents())
    await expect(page.locator("#kpi-turns")).to_be_visible()
    assert int(await page.locator("#kpi-stock-outs").inner_text()) >= 0
    await page.screenshot(path=screenshot_path("dashboard-breakdowns"), full_page=True)
    assert problems == [], "no script errors and no Content-Security-Policy refusals"
