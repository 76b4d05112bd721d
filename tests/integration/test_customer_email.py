"""Customer notifications over real SMTP, end to end: the shipped e-mail carries the tracking
number, and no message is sent twice. A worker of its own (on its own task queue) delivers through
a real aiosmtpd server; everything else is the shared real stack."""

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from adapters.notifications.delivery import DeliveringNotifier
from api.app import create_app
from config.settings import Settings
from config.temporal import free_port
from tests.adapters.test_notifications_delivery import SmtpServer
from tests.conftest import eventually
from tests.integration.helpers import (
    carrier_event,
    new_sku,
    order_body,
    ship_to_carrier,
    submit,
    wait_for_status,
)
from worker import activities_for, build_worker

MAILING_QUEUE = "orders-mailing"


@pytest_asyncio.fixture
async def mailing_api(client: Client, sessions: sessionmaker[Session]) -> AsyncIterator[tuple[httpx.AsyncClient, SmtpServer]]:
    smtp = SmtpServer(port=free_port())
    smtp.start()
    notifier = DeliveringNotifier(sessions, smtp=smtp.config)
    with ThreadPoolExecutor(max_workers=8) as executor:
        worker = build_worker(
            client,
            sessions,
            task_queue=MAILING_QUEUE,
            executor=executor,
            activity_slots=8,
            activities=activities_for(sessions, notifier=notifier),
        )
        async with worker:
            app = create_app(Settings(task_queue=MAILING_QUEUE), client=client, sessions=sessions)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mail.test", timeout=60) as http:
                yield http, smtp
    smtp.stop()


def mails(smtp: SmtpServer, order_id: str) -> list[EmailMessage]:
    return [message for _, message in smtp.messages if order_id in str(message["Subject"]) + message.get_content()]


async def test_shipped_email_carries_the_tracking_number_and_nothing_is_sent_twice(
    mailing_api: tuple[httpx.AsyncClient, SmtpServer],
) -> None:
    api, smtp = mailing_api
    sku = await new_sku(api, {"WH-EAST": 5})
    body: dict[str, Any] = order_body(sku)
    body["customer"]["language"] = "en"
    order = await submit(api, body)
    parcel = await ship_to_carrier(api, order["order_id"])
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")  # a replay
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "delivered")
    await wait_for_status(api, order["order_id"], "delivered")

    def shipped() -> list[EmailMessage]:
        return [m for m in mails(smtp, order["order_id"]) if "shipped" in str(m["Subject"])]

    (message,) = await eventually(shipped)
    assert parcel["tracking_number"] in message.get_content()
    assert message["To"] == "li.lei@example.com"

    def all_sent() -> list[str] | None:
        # The delivered e-mail goes out after the parcel reports delivery: wait for it too.
        subjects = sorted(str(m["Subject"]) for m in mails(smtp, order["order_id"]))
        sent = any("confirmed" in s for s in subjects) and any("delivered" in s for s in subjects)
        return subjects if sent else None

    subjects = await eventually(all_sent)
    assert len(subjects) == len(set(subjects)), f"a message went out twice: {subjects}"
