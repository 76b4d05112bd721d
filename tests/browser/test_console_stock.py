"""Stock upkeep in the ops console, in real headless Chromium (issue 19, deliverable 4): a held
cycle count approved from the counts page (a note required), then a transfer made from the
replenishment page, each seen changing the stock on the page and in the API."""

import secrets

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot_path
from tests.browser.test_console import UI, sign_in
from tests.conftest import OPS, WAREHOUSE
from tests.integration.helpers import new_sku, order_body, submit, wait_for_shipment, wait_for_status

EAST, WEST = "WH-EAST", "WH-WEST"


async def levels(api: httpx.AsyncClient, sku: str) -> dict[str, int]:
    response = await api.get(f"/inventory/{sku}", headers=OPS)
    assert response.status_code == 200, response.text
    return {level["warehouse"]: level["on_hand"] for level in response.json()["warehouses"]}


async def test_a_held_count_is_approved_and_stock_transferred_through_the_pages(
    page: Page, console_url: str, api: httpx.AsyncClient
) -> None:
    sku = await new_sku(api, {EAST: 10, WEST: 0})
    held = await api.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": EAST, "sku": sku, "counted": 60})
    assert held.status_code == 202, held.text
    count_id = held.json()["count_id"]

    await sign_in(page, console_url)
    await page.get_by_role("link", name="Cycle counts").click()
    await expect(page).to_have_url(f"{console_url}{UI}/counts")
    row = page.locator(f"#count-{count_id}")
    await expect(row.locator(".book")).to_have_text("10")
    await expect(row.locator(".counted")).to_have_text("60")
    await expect(row.locator(".discrepancy")).to_have_text("+50")
    await expect(row.locator(".after")).to_have_text("60")
    await page.screenshot(path=screenshot_path("counts-held"), full_page=True)

    # No note: refused beside the field, nothing applied.
    await row.locator("button[data-decision=approve]").click()
    await expect(page.locator(f"#note-{count_id}-error")).to_contain_text("note: String should have at least 1 character")
    assert (await levels(api, sku))[EAST] == 10

    row = page.locator(f"#count-{count_id}")
    await row.locator("input[name=note]").fill("shelf recounted twice")
    await row.locator("button[data-decision=approve]").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"Count {count_id} approved: {sku} at {EAST} is 60 on hand now (+50).")
    await expect(page.locator(f"#count-{count_id}")).to_have_count(0)
    assert (await levels(api, sku))[EAST] == 60

    await page.get_by_role("link", name="Replenishment").click()
    await expect(page).to_have_url(f"{console_url}{UI}/replenishment")
    transfer = page.locator("#transfer-form")
    await transfer.locator("input[name=sku]").fill(sku)
    await transfer.locator("select[name=from_warehouse]").select_option(EAST)
    await transfer.locator("select[name=to_warehouse]").select_option(WEST)
    await transfer.locator("input[name=quantity]").fill("many")
    await transfer.locator("button[type=submit]").click()
    await expect(page.locator("#transfer-quantity-error")).to_contain_text("valid integer")
    await expect(page.locator("#transfer-form input[name=sku]")).to_have_value(sku)  # what was typed is kept

    await page.locator("#transfer-form input[name=quantity]").fill("25")
    await page.locator("#transfer-form input[name=note]").fill("even out after the count")
    await page.locator("#transfer-form button[type=submit]").click()
    await expect(page.locator(".flash.ok")).to_contain_text(
        f"25 × {sku} moved from {EAST} (on hand 35 now) to {WEST} (on hand 25 now)"
    )
    await expect(page.locator(f"#level-{EAST} .on-hand")).to_have_text("35")
    await expect(page.locator(f"#level-{WEST} .on-hand")).to_have_text("25")
    await expect(page.locator("#transfers tbody tr").first).to_contain_text(sku)
    await page.screenshot(path=screenshot_path("replenishment-transferred"), full_page=True)
    assert await levels(api, sku) == {EAST: 35, WEST: 25}

    # A reorder rule set from the page: the proposal shows at once with its inputs.
    rule = page.locator("#rule-form")
    await rule.locator("select[name=warehouse]").select_option(WEST)
    await rule.locator("input[name=minimum]").fill("30")
    await rule.locator("input[name=maximum]").fill("80")
    await rule.locator("input[name=lead_time_days]").fill("7")
    await rule.locator("button[type=submit]").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"Reorder rule for {sku} at {WEST} set")
    proposal = page.locator(f"#proposal-{sku}-{WEST}")
    await expect(proposal.locator(".unreserved")).to_have_text("25")
    await expect(proposal.locator(".proposed")).to_have_text("55")


async def test_a_transfer_from_the_page_wakes_the_order_waiting_for_the_sku(
    page: Page, console_url: str, api: httpx.AsyncClient
) -> None:
    """As `POST /inventory/transfers`: stock moved out of a closed warehouse serves a backorder."""
    closed = f"WH-T-{secrets.token_hex(3).upper()}"
    r = await api.put(f"/warehouses/{closed}", headers=OPS, json={"name": "closing", "region": "east", "active": False})
    assert r.status_code == 201, r.text
    sku = await new_sku(api, {EAST: 0, closed: 5}, price="10.00")
    order = await submit(api, order_body(sku, quantity=2, price="10.00"))
    await wait_for_status(api, order["order_id"], "backordered")

    await sign_in(page, console_url)
    await page.goto(f"{console_url}{UI}/replenishment?sku={sku}")
    transfer = page.locator("#transfer-form")
    await transfer.locator("select[name=from_warehouse]").select_option(closed)
    await transfer.locator("select[name=to_warehouse]").select_option(EAST)
    await transfer.locator("input[name=quantity]").fill("3")
    await transfer.locator("button[type=submit]").click()
    await expect(page.locator(".flash.ok")).to_contain_text(
        f"3 × {sku} moved from {closed} (on hand 2 now) to {EAST} (on hand 3 now); 1 waiting order(s) tried again."
    )
    await wait_for_shipment(api, order["order_id"], "picking")
    await page.reload()
    await expect(page.locator(f"#level-{EAST} td").nth(2)).to_have_text("2")  # reserved for the order
