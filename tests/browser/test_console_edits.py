"""Order edits in the ops console, in real headless Chromium: the order page shows the lines and the
contact, and changes them (PATCH /orders/{id}/lines and /contact as the signed-in key); a change
that comes too late is refused with the reason and changes nothing."""

from decimal import Decimal

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot_path
from tests.browser.test_console import UI, sign_in
from tests.integration.helpers import (
    confirm_pick,
    get_order,
    new_sku,
    order_body,
    submit,
    wait_for_shipment,
)


async def test_the_order_page_changes_the_lines_and_the_contact(
    page: Page, console_url: str, api: httpx.AsyncClient
) -> None:
    desk = await new_sku(api, {"WH-EAST": 5})
    lamp = await new_sku(api, {"WH-EAST": 5}, price="50.00")
    order = await submit(api, order_body(desk))
    order_id = order["order_id"]
    await wait_for_shipment(api, order_id, "picking")
    await sign_in(page, console_url)
    await page.goto(f"{console_url}{UI}/orders/{order_id}")

    lines_form = page.locator("#edit-lines-form")
    await expect(lines_form.locator("input[name=lines]")).to_have_value(f"{desk}:1")
    await lines_form.locator("input[name=lines]").fill(f"{desk}:2, {lamp}:1")
    await lines_form.locator("button[type=submit]").click()

    await expect(page.locator(".flash.ok")).to_contain_text(f"Lines of {order_id} changed: the total is 260.00 CNY")
    await expect(page.locator("#lines li")).to_have_text([f"2 × {desk} at 99.00", f"1 × {lamp} at 50.00"])
    await expect(page.locator("#timeline")).to_contain_text("order.lines_edited")
    after = await get_order(api, order_id)
    assert Decimal(after["totals"]["grand_total"]) == Decimal("260.00")
    edit = next(e for e in after["timeline"] if e["event"] == "order.lines_edited")
    assert edit["actor"] == "dev-ops", "recorded with the signed-in key's name"

    contact_form = page.locator("#edit-contact-form")
    await contact_form.locator("input[name=email]").fill("han.meimei@example.com")
    await contact_form.locator("button[type=submit]").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"Contact of {order_id} changed")
    await expect(page.locator("#contact")).to_contain_text("han.meimei@example.com")
    await page.screenshot(path=screenshot_path("order-edited"), full_page=True)

    rebuilt = await wait_for_shipment(api, order_id, "picking", index=1)
    await confirm_pick(api, rebuilt["shipment_id"])
    await wait_for_shipment(api, order_id, "label_created", index=1)
    await page.goto(f"{console_url}{UI}/orders/{order_id}")
    await page.locator("#edit-lines-form input[name=lines]").fill(f"{desk}:1")
    await page.locator("#edit-lines-form button[type=submit]").click()
    await expect(page.locator(".flash.error")).to_contain_text("is already picked")
    await expect(page.locator("#lines li")).to_have_text([f"2 × {desk} at 99.00", f"1 × {lamp} at 50.00"])

    await page.locator("#edit-lines-form input[name=lines]").fill("not a line")
    await page.locator("#edit-lines-form button[type=submit]").click()
    await expect(page.locator(".flash.error")).to_contain_text("lines.0.quantity")
