"""A resolved complaint reaches the customer (R11, R12) end to end: the customer complains through
the API, ops resolve it, and the worker (`run_worker`, as `oms worker` runs it) e-mails the
customer once, in their language and with the resolution note, through a real SMTP server
(aiosmtpd), after the resolution committed."""

import asyncio
import contextlib
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
from tests.conftest import CLIENT, OPS, eventually
from tests.integration.helpers import new_sku, order_body, submit, wait_for_status
from worker import run_worker


@pytest_asyncio.fixture
async def smtp_and_worker(database_url: str, client: Client) -> AsyncIterator[SmtpServer]:
    """A real `run_worker` (on a task queue of its own: the orders run on the test worker) that
    mails through a real SMTP server; its sweep of pending notifications is what this exercises."""
    smtp = SmtpServer(port=free_port())
    smtp.start()
    settings = Settings(
        database_url=database_url,
        temporal_address=client.service_client.config.target_host,
        task_queue="complaint-mail",
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


def mails_of(smtp: SmtpServer, complaint_id: str) -> list[tuple[list[str], EmailMessage]]:
    return [(rcpt, m) for rcpt, m in smtp.messages if complaint_id in str(m["X-Orderflow-Dedupe-Key"])]


def outbox_statuses(sessions: sessionmaker[Session], complaint_id: str) -> list[str]:
    with sessions() as s:
        return list(
            s.scalars(
                select(NotificationOutboxRow.status).where(
                    NotificationOutboxRow.dedupe_key.like(f"%:complaint_resolved:{complaint_id}")
                )
            )
        )


async def test_resolving_a_complaint_emails_the_customer_once_with_the_note(
    api: httpx.AsyncClient, smtp_and_worker: SmtpServer, sessions: sessionmaker[Session]
) -> None:
    smtp = smtp_and_worker
    body = order_body(await new_sku(api, {"WH-EAST": 5}))
    body["customer"]["language"] = "en"
    order = await submit(api, body)
    order_id = order["order_id"]
    await wait_for_status(api, order_id, "fulfilling")

    opened = await api.post(
        f"/orders/{order_id}/feedback", headers=CLIENT, json={"kind": "complaint", "rating": 1, "comment": "box was crushed"}
    )
    assert opened.status_code == 201, opened.text
    complaint_id = opened.json()["complaint_id"]
    assert outbox_statuses(sessions, complaint_id) == []  # an open complaint tells the customer nothing yet

    resolved = await api.post(
        f"/ops/complaints/{complaint_id}/resolve", headers=OPS, json={"note": "we sent a replacement today"}
    )
    assert resolved.status_code == 200, resolved.text

    await eventually(lambda: outbox_statuses(sessions, complaint_id) == ["sent"])
    [(rcpt, msg)] = mails_of(smtp, complaint_id)
    assert rcpt == [body["customer"]["email"]]
    assert msg["Subject"] == f"Your complaint about order {order_id} is resolved"
    assert str(msg["X-Orderflow-Dedupe-Key"]).strip() == f"notify:{order_id}:complaint_resolved:{complaint_id}"
    assert msg["Content-Language"] == "en"
    text = msg.get_content()
    assert "we sent a replacement today" in text and complaint_id in text and "Li Lei" in text

    # Resolving again is refused and records nothing, so no sweep can send a second message: the
    # outbox holds the one delivered row (a fact in the database, not a wait for sweeps to pass).
    again = await api.post(f"/ops/complaints/{complaint_id}/resolve", headers=OPS, json={"note": "again"})
    assert again.status_code == 409, again.text
    assert outbox_statuses(sessions, complaint_id) == ["sent"]
    assert len(mails_of(smtp, complaint_id)) == 1
