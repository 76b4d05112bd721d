"""Low-stock alerts end to end (R6, R12): an order's reservation takes a level under its reorder
point, and the worker (`run_worker`, as `oms worker` runs it) e-mails ops once for that crossing
through a real SMTP server (aiosmtpd), after the reservation committed."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage

import httpx
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from config.settings import Settings
from config.temporal import free_port
from store.models import NotificationOutboxRow
from tests.adapters.test_notifications_delivery import SmtpServer
from tests.conftest import eventually
from tests.integration.helpers import new_sku, order_body, stock_of, submit, wait_for_status
from worker import run_worker

# The address is recorded with the alert by whoever raised it (here the test worker's reservation,
# with the default OMS_OPS_EMAIL); the sweep mails it there.
OPS_EMAIL = Settings().ops_email


@pytest_asyncio.fixture
async def smtp_and_worker(database_url: str, client: Client) -> AsyncIterator[SmtpServer]:
    """A real `run_worker` (on a task queue of its own: the orders run on the test worker) that
    mails through a real SMTP server; its alert sweep is what this module exercises."""
    smtp = SmtpServer(port=free_port())
    smtp.start()
    settings = Settings(
        database_url=database_url,
        temporal_address=client.service_client.config.target_host,
        task_queue="low-stock-sweep",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
    )
    running = asyncio.create_task(run_worker(settings))
    try:
        yield smtp
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        smtp.stop()


def alerts_for(smtp: SmtpServer, sku: str) -> list[tuple[list[str], EmailMessage]]:
    return [(rcpt, m) for rcpt, m in smtp.messages if f"lowstock:{sku}:" in m["X-Orderflow-Dedupe-Key"]]


async def wait_for_alerts(smtp: SmtpServer, sku: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(alerts_for(smtp, sku)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


def outbox_statuses(sessions: sessionmaker[Session], sku: str) -> list[str]:
    with sessions() as s:
        return list(
            s.scalars(
                select(NotificationOutboxRow.status).where(NotificationOutboxRow.dedupe_key.like(f"lowstock:{sku}:%"))
            )
        )


async def test_an_order_taking_stock_under_its_reorder_point_mails_ops_once(
    api: httpx.AsyncClient, smtp_and_worker: SmtpServer, sessions: sessionmaker[Session]
) -> None:
    smtp = smtp_and_worker
    # available = 12 - 2 = 10, reorder point 5.
    sku = await new_sku(api, {"WH-EAST": 12}, safety_stock=2, reorder_point=5)

    first = order_body(sku, quantity=5)  # available 5: at the reorder point
    await submit(api, first)
    await wait_for_status(api, first["order_id"], "fulfilling")
    await wait_for_alerts(smtp, sku, 1)
    [(rcpt, msg)] = alerts_for(smtp, sku)
    assert rcpt == [OPS_EMAIL]
    assert msg["Subject"] == f"Low stock: {sku} at WH-EAST (5 available)"

    second = order_body(sku, quantity=1)  # available 4: the same crossing
    await submit(api, second)
    await wait_for_status(api, second["order_id"], "fulfilling")
    assert (await stock_of(api, sku))["reserved"] == 6
    # The same crossing records no second alert, so no sweep can send one: the outbox holds one
    # row for the level, delivered (a fact in the database, not a wait for sweeps to pass).
    await eventually(lambda: outbox_statuses(sessions, sku) == ["sent"])  # marked once the mail is out
    assert len(alerts_for(smtp, sku)) == 1
