"""Low-stock alerts reach ops through the notifier (R6, R12): e-mail and signed webhooks, once per
crossing, delivered after the stock transaction commits, retried until delivered.

Nothing is mocked: a real SMTP server (aiosmtpd), a real HTTP webhook receiver, a real outbox.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from adapters.notifications.delivery import DeliveringNotifier, WebhookSubscriber
from adapters.notifications.outbox import OutboxNotifier
from adapters.notifications.pending import deliver_pending_alerts, sweep_pending_alerts
from config.temporal import free_port
from domain.models import CatalogItem, OrderLine
from store.catalog import receive_stock, set_stock_level, upsert_catalog_item
from store.models import NotificationOutboxRow
from tests.adapters.test_notifications_delivery import SECRET, Receiver, SmtpServer

SF = sessionmaker[Session]
SKU = "SKU-ALERT"
WAREHOUSE = "WH-EAST"
OPS = "ops@shop.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def line(quantity: int) -> OrderLine:
    return OrderLine(sku=SKU, quantity=quantity, unit_price=Decimal("10.00"))


def key(crossing: int) -> str:
    return f"lowstock:{SKU}:{WAREHOUSE}:{crossing}"


def statuses(sf: SF) -> dict[str, str]:
    with sf() as s:
        rows = s.execute(
            select(NotificationOutboxRow.dedupe_key, NotificationOutboxRow.status).where(
                NotificationOutboxRow.kind == "low_stock"
            )
        )
        return dict(rows.all())


@pytest.fixture
def inventory(session_factory: SF) -> SqlInventory:
    """SKU-ALERT at WH-EAST: on hand 12, safety stock 2, reorder point 5 (10 available: not low)."""
    upsert_catalog_item(session_factory, CatalogItem(sku=SKU, name="alert", price=Decimal("10.00")))
    set_stock_level(session_factory, SKU, WAREHOUSE, 12, 2, 5, "ops", ops_email=OPS)
    return SqlInventory(session_factory, ops_email=OPS)


def test_one_email_and_one_signed_webhook_per_crossing(
    session_factory: SF, inventory: SqlInventory, smtp: SmtpServer, hooks: Receiver
) -> None:
    notifier = DeliveringNotifier(session_factory, smtp=smtp.config, webhooks=[WebhookSubscriber(hooks.url, SECRET)])

    inventory.reserve("ORD-1", [line(5)], "east")  # available 5: at the reorder point
    # The stock transaction only recorded it: nothing went out while it held the row lock.
    assert smtp.messages == [] and hooks.requests == []
    assert statuses(session_factory) == {key(1): "pending"}

    assert deliver_pending_alerts(session_factory, notifier) == 1
    assert len(smtp.messages) == 1
    rcpt, msg = smtp.messages[0]
    assert rcpt == [OPS]
    assert msg["Subject"] == f"Low stock: {SKU} at {WAREHOUSE} (5 available)"
    assert msg["X-Orderflow-Dedupe-Key"] == key(1)
    assert "reorder point 5" in msg.get_content()
    assert len(hooks.requests) == 1
    hook = hooks.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(hook.headers["x-signature"], expected)
    payload = json.loads(hook.body)
    assert (payload["kind"], payload["dedupe_key"], payload["order_id"]) == ("low_stock", key(1), "-")
    assert payload["subject"] == msg["Subject"]
    assert statuses(session_factory) == {key(1): "sent"}

    # Still the same crossing: a further reservation alerts no one, another pass sends nothing.
    inventory.reserve("ORD-2", [line(1)], "east")  # available 4
    assert deliver_pending_alerts(session_factory, notifier) == 0
    assert (len(smtp.messages), len(hooks.requests)) == (1, 1)

    # Restocked above the point, then a new drop: the next crossing, one more message each.
    receive_stock(session_factory, SKU, WAREHOUSE, 10, "dock", ops_email=OPS)  # available 14
    assert deliver_pending_alerts(session_factory, notifier) == 0
    inventory.reserve("ORD-3", [line(10)], "east")  # available 4
    assert deliver_pending_alerts(session_factory, notifier) == 1
    assert deliver_pending_alerts(session_factory, notifier) == 0
    assert [m["X-Orderflow-Dedupe-Key"] for _, m in smtp.messages] == [key(1), key(2)]
    assert [json.loads(r.body)["dedupe_key"] for r in hooks.requests] == [key(1), key(2)]
    assert statuses(session_factory) == {key(1): "sent", key(2): "sent"}


def test_a_failed_delivery_stays_pending_and_a_retry_delivers_exactly_once(
    session_factory: SF, inventory: SqlInventory, hooks: Receiver
) -> None:
    smtp = SmtpServer(port=free_port())  # nothing listens there yet
    hooks.answer = 503
    notifier = DeliveringNotifier(session_factory, smtp=smtp.config, webhooks=[WebhookSubscriber(hooks.url, SECRET)])

    inventory.reserve("ORD-1", [line(6)], "east")  # available 4: low
    assert deliver_pending_alerts(session_factory, notifier) == 0  # a failure is logged, not raised
    assert statuses(session_factory) == {key(1): "pending"}

    smtp.start()
    try:
        # Mailed, but the webhook still fails: not sent, and the next pass mails no second time.
        assert deliver_pending_alerts(session_factory, notifier) == 0
        assert statuses(session_factory) == {key(1): "mailed"}
        assert deliver_pending_alerts(session_factory, notifier) == 0
        assert len(smtp.messages) == 1

        hooks.answer = 204
        # A new notifier, as a restarted worker would build: the row in the outbox is all it needs.
        restarted = DeliveringNotifier(
            session_factory, smtp=smtp.config, webhooks=[WebhookSubscriber(hooks.url, SECRET)]
        )
        assert deliver_pending_alerts(session_factory, restarted) == 1
        assert deliver_pending_alerts(session_factory, restarted) == 0
    finally:
        smtp.stop()
    assert len(smtp.messages) == 1
    assert len(hooks.delivered()) == 1
    assert statuses(session_factory) == {key(1): "sent"}


def test_without_smtp_or_webhooks_a_pending_alert_is_logged_and_marked_sent(
    session_factory: SF, inventory: SqlInventory
) -> None:
    notifier = OutboxNotifier(session_factory)
    # An ops change through the API (not the worker) raises it too.
    set_stock_level(session_factory, SKU, WAREHOUSE, 6, 2, 5, "ops", ops_email=OPS)  # available 4
    assert statuses(session_factory) == {key(1): "pending"}
    assert deliver_pending_alerts(session_factory, notifier) == 1
    assert deliver_pending_alerts(session_factory, notifier) == 0
    assert statuses(session_factory) == {key(1): "sent"}


async def test_the_worker_sweep_delivers_an_alert_raised_after_it_started(
    session_factory: SF, inventory: SqlInventory, smtp: SmtpServer
) -> None:
    notifier = DeliveringNotifier(session_factory, smtp=smtp.config, webhooks=[])
    sweep = asyncio.create_task(sweep_pending_alerts(session_factory, notifier, every=0.05))
    try:
        await asyncio.to_thread(inventory.reserve, "ORD-1", [line(5)], "east")
        deadline = time.monotonic() + 10
        while not smtp.messages and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a few more passes: none may send it again
    finally:
        sweep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweep
    assert [m["X-Orderflow-Dedupe-Key"] for _, m in smtp.messages] == [key(1)]
    assert statuses(session_factory) == {key(1): "sent"}
