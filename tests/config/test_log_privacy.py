"""No log line carries a customer's e-mail address or phone number.

First the call sites: a notification logs its ids, never its recipient, and a refused e-mail's
error (which Temporal logs and records) names no address. Then the safety net under them
(config/logs.py): every log record, standard or structlog, traceback included, is masked.
A real PostgreSQL outbox and a real SMTP server (aiosmtpd) on 127.0.0.1; nothing is mocked.
"""

import io
import logging
import secrets
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from adapters.notifications.delivery import DeliveringNotifier, DeliveryError, SmtpConfig
from adapters.notifications.outbox import OutboxNotifier
from config.logs import EMAIL_MASK, PHONE_MASK, configure_logging, mask_personal_data
from config.temporal import free_port
from domain.models import Notification

EMAIL = "li.lei@example.com"
PHONE = "+86 138 0000 0000"


def note(recipient: str = EMAIL) -> Notification:
    return Notification(
        order_id="ORD-LOG-1",
        kind="accepted",
        recipient=recipient,
        subject="Order ORD-LOG-1 confirmed",
        body="Hello Lei, your order ORD-LOG-1 is confirmed.",
        dedupe_key=f"notify:ORD-LOG-1:accepted:{secrets.token_hex(4)}",  # the outbox is shared by the session
        language="en",
    )


def holds_contact(text: str) -> bool:
    return any(contact in text for contact in (EMAIL, PHONE, PHONE.replace(" ", "")))


# --- the call sites ---------------------------------------------------------------------------


@pytest.mark.parametrize("recipient", [EMAIL, PHONE])
def test_a_notification_logs_its_ids_not_its_recipient(sessions: sessionmaker[Session], recipient: str) -> None:
    notification = note(recipient)
    with capture_logs() as events:
        assert OutboxNotifier(sessions).send(notification) is True
    (event,) = events
    assert event["event"] == "notification.sent" and event["order_id"] == "ORD-LOG-1"
    assert event["dedupe_key"] == notification.dedupe_key
    assert not holds_contact(repr(event)), event


class RefusingServer:
    """Refuses every recipient the way real servers do: quoting the address back."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


@pytest.fixture
def refusing_smtp() -> Iterator[SmtpConfig]:
    port = free_port()
    controller = Controller(RefusingServer(), hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpConfig(host="127.0.0.1", port=port, sender="orderflow@shop.example", timeout=5)
    controller.stop()


def test_a_refused_email_fails_without_naming_the_address(
    sessions: sessionmaker[Session], refusing_smtp: SmtpConfig, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = DeliveringNotifier(sessions, smtp=refusing_smtp, webhooks=[])
    with pytest.raises(DeliveryError) as raised:
        notifier.send(note())
    error = raised.value
    assert "recipient refused with 550" in str(error)
    # The error travels to Temporal, whose worker logs the failed activity with its traceback.
    logging.getLogger("temporalio.activity").warning("Completing activity as failed", exc_info=error)
    written = "".join(traceback.format_exception(error)) + caplog.text
    assert "Completing activity as failed" in caplog.text
    assert not holds_contact(written), written


# --- the safety net -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"mail to {EMAIL} failed", f"mail to {EMAIL_MASK} failed"),
        ("a.b+tag@mail.shop.example.co.uk, c@d.io", f"{EMAIL_MASK}, {EMAIL_MASK}"),
        ("call +8613800000000 now", f"call {PHONE_MASK} now"),
        (f"call {PHONE}.", f"call {PHONE_MASK}."),
        ("us: (555) 123-4567 or 555-123-4567", f"us: {PHONE_MASK} or {PHONE_MASK}"),
        ("+44 20 7946 0958", PHONE_MASK),
    ],
)
def test_contacts_are_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01 19:10:01,123 ORD-20261201-000123 shipped",
        "temporal at 127.0.0.1:7233, 10.0.0.12:8000",
        "total 198.00 CNY, 12 items, customer 207119551",  # a bare run of digits is an id
        "workflow 123e4567-e89b-12d3-a456-426614174000 took 1500 ms",
        "2026-12-01T19:10:01Z",
    ],
)
def test_ids_dates_and_addresses_are_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """`configure_logging` as an `oms` command runs it, onto a buffer; process state restored after."""
    root = logging.getLogger()
    saved = (logging.getLogRecordFactory(), root.handlers[:], root.level)
    out = io.StringIO()
    root.handlers = [logging.StreamHandler(out)]  # basicConfig then leaves them as they are
    configure_logging("INFO")
    yield out
    logging.setLogRecordFactory(saved[0])
    root.handlers, root.level = saved[1], saved[2]
    structlog.reset_defaults()


def test_every_record_is_masked_standard_structlog_and_traceback(configured: io.StringIO) -> None:
    logging.getLogger("oms.test").info("sent to %s, phone %s", EMAIL, PHONE)
    structlog.get_logger("oms.test").info("notification.sent", recipient=EMAIL, phone=PHONE)
    try:
        raise RuntimeError(f"mailbox {EMAIL} unavailable")
    except RuntimeError:
        # Not a uvicorn logger: once a test has served uvicorn, its dictConfig keeps uvicorn's records
        # from the root handler. The masking is in the record factory, whoever logs.
        logging.getLogger("oms.test.server").exception("request failed")
    written = configured.getvalue()
    assert written.count(EMAIL_MASK) == 3 and written.count(PHONE_MASK) == 2, written
    assert "notification.sent" in written and "RuntimeError" in written
    assert not holds_contact(written), written


def test_records_without_contacts_keep_their_template(configured: io.StringIO) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("oms.test.template")
    logger.addHandler(Keep())
    try:
        logger.info("order %s shipped", "ORD-1")
    finally:
        logger.handlers.clear()
    (record,) = records
    assert (record.msg, record.args) == ("order %s shipped", ("ORD-1",))
