"""DeliveringNotifier against a real SMTP server (aiosmtpd) and a real HTTP webhook receiver.

Nothing is mocked: the e-mail travels over SMTP on 127.0.0.1, the webhook over HTTP, and the
outbox is a real PostgreSQL table.
"""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.notifications.delivery import (
    DeliveringNotifier,
    DeliveryError,
    DeliveryInProgress,
    SmtpConfig,
    WebhookSubscriber,
    message_id_of,
    parse_webhook_subscribers,
)
from config.temporal import free_port
from domain.models import Notification
from store.models import NotificationOutboxRow

SENDER = "orderflow@shop.example"
SECRET = "hook-secret-1"


def note(key: str = "notify:ORD-1:accepted", **changes: Any) -> Notification:
    base = Notification(
        order_id="ORD-1",
        kind="accepted",
        recipient="li.lei@example.com",
        subject="订单 ORD-1 已确认",
        body="您好 李雷，您的订单 ORD-1 已确认，合计 198.00 CNY。",
        dedupe_key=key,
        language="zh",
    )
    return base.model_copy(update=changes)


def status_of(session_factory: sessionmaker[Session], key: str) -> str | None:
    with session_factory() as s:
        return s.scalar(select(NotificationOutboxRow.status).where(NotificationOutboxRow.dedupe_key == key))


# --- a real SMTP server ---------------------------------------------------------------------


class Collector:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    collector: Collector = field(default_factory=Collector)
    controller: Controller | None = None

    @property
    def config(self) -> SmtpConfig:
        return SmtpConfig(host="127.0.0.1", port=self.port, sender=SENDER, timeout=5)

    @property
    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        return self.collector.messages

    def start(self) -> None:
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()


# --- a real HTTP webhook receiver -------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answer = 204
        self.location: str | None = None  # sent as Location with the answer (a redirect)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.answer
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status)
                )
                self.send_response(status)
                if receiver.location is not None:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/orderflow"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.answered < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# --- e-mail ---------------------------------------------------------------------------------


def test_email_arrives_once_with_chinese_text_intact(
    session_factory: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    notifier = DeliveringNotifier(session_factory, smtp=smtp_server.config, webhooks=[])
    n = note()

    assert notifier.send(n) is True
    assert notifier.send(n) is False  # a retried activity: the outbox says sent

    assert len(smtp_server.messages) == 1
    rcpt, msg = smtp_server.messages[0]
    assert rcpt == ["li.lei@example.com"]
    assert msg["Subject"] == "订单 ORD-1 已确认"
    assert msg["From"] == SENDER
    assert msg["To"] == "li.lei@example.com"
    assert msg["Message-ID"].strip() == message_id_of(n.dedupe_key, SENDER)
    assert msg["X-Orderflow-Dedupe-Key"] == n.dedupe_key
    assert msg["Content-Language"] == "zh"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().strip() == n.body
    assert status_of(session_factory, n.dedupe_key) == "sent"


def test_ops_alert_is_mailed_to_ops_and_a_new_key_is_a_new_message(
    session_factory: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    notifier = DeliveringNotifier(session_factory, smtp=smtp_server.config, webhooks=[])
    ops = note(
        "notify:ORD-1:ops_attention:1",
        kind="ops_attention",
        recipient="ops@orderflow.local",
        subject="Order ORD-1 needs attention",
        body="Order ORD-1 needs attention: picking past its SLA.",
        language="en",
    )
    assert notifier.send(ops) is True
    assert notifier.send(ops.model_copy(update={"dedupe_key": "notify:ORD-1:ops_attention:2"})) is True
    assert [m["Subject"] for _, m in smtp_server.messages] == ["Order ORD-1 needs attention"] * 2
    assert [rcpt for rcpt, _ in smtp_server.messages] == [["ops@orderflow.local"]] * 2
    ids = {m["Message-ID"] for _, m in smtp_server.messages}
    assert len(ids) == 2


def test_smtp_server_down_raises_retryable_and_a_retry_delivers_once(
    session_factory: sessionmaker[Session],
) -> None:
    server = SmtpServer(port=free_port())  # nothing listens there yet
    notifier = DeliveringNotifier(session_factory, smtp=server.config, webhooks=[])
    n = note()

    with pytest.raises(DeliveryError) as raised:
        notifier.send(n)
    # An ordinary exception: Temporal retries the activity (only non_retryable ApplicationErrors stop it).
    assert type(raised.value).__module__ == "adapters.notifications.delivery"
    assert status_of(session_factory, n.dedupe_key) == "pending"

    server.start()
    try:
        assert notifier.send(n) is True
        assert notifier.send(n) is False
    finally:
        server.stop()
    assert len(server.messages) == 1
    assert status_of(session_factory, n.dedupe_key) == "sent"


# --- webhooks -------------------------------------------------------------------------------


def test_webhook_is_signed_over_the_exact_raw_body(
    session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    notifier = DeliveringNotifier(
        session_factory, smtp=None, webhooks=[WebhookSubscriber(receiver.url, SECRET)]
    )
    n = note()
    assert notifier.send(n) is True
    assert notifier.send(n) is False

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.path == "/hooks/orderflow"
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["x-signature"], expected)
    assert got.headers["x-idempotency-key"] == n.dedupe_key
    assert got.headers["content-type"].startswith("application/json")
    payload = json.loads(got.body.decode("utf-8"))
    assert payload == {
        "kind": "accepted",
        "order_id": "ORD-1",
        "dedupe_key": n.dedupe_key,
        "subject": "订单 ORD-1 已确认",
        "body": n.body,
        "language": "zh",
    }
    assert "li.lei@example.com" not in got.body.decode("utf-8")  # no e-mail addresses to webhooks
    assert status_of(session_factory, n.dedupe_key) == "sent"


def test_failing_webhook_raises_leaves_row_unsent_and_retry_delivers_exactly_once(
    session_factory: sessionmaker[Session], smtp_server: SmtpServer, receiver: Receiver
) -> None:
    notifier = DeliveringNotifier(
        session_factory, smtp=smtp_server.config, webhooks=[WebhookSubscriber(receiver.url, SECRET)]
    )
    n = note()
    receiver.answer = 500

    with pytest.raises(DeliveryError, match="500"):
        notifier.send(n)
    assert status_of(session_factory, n.dedupe_key) == "mailed"  # not sent; e-mail already out
    assert len(smtp_server.messages) == 1
    assert receiver.delivered() == []

    with pytest.raises(DeliveryError):  # still down: no second e-mail
        notifier.send(n)
    assert len(smtp_server.messages) == 1

    receiver.answer = 200
    assert notifier.send(n) is True
    assert notifier.send(n) is False
    assert len(receiver.delivered()) == 1
    assert len(smtp_server.messages) == 1
    assert status_of(session_factory, n.dedupe_key) == "sent"
    # Each attempt posted the same bytes, under the same signature.
    assert len({(r.body, r.headers["x-signature"]) for r in receiver.requests}) == 1


def test_a_webhook_that_redirects_is_not_followed(
    session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    """Server-side request forgery: a subscriber (or whoever took over its host) that answers with a
    redirect cannot make the worker post signed order news to another address, an internal one
    included. The redirect is a failed delivery, retried against the configured URL only."""
    elsewhere = Receiver()
    try:
        notifier = DeliveringNotifier(
            session_factory, smtp=None, webhooks=[WebhookSubscriber(receiver.url, SECRET)]
        )
        for status in (302, 307, 308):
            receiver.answer, receiver.location = status, elsewhere.url
            with pytest.raises(DeliveryError, match=str(status)):
                notifier.send(note(key=f"notify:ORD-1:redirect-{status}"))
        assert elsewhere.requests == []
        assert len(receiver.requests) == 3
    finally:
        elsewhere.close()


def test_unreachable_webhook_raises_retryable(session_factory: sessionmaker[Session]) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    notifier = DeliveringNotifier(session_factory, smtp=None, webhooks=[WebhookSubscriber(url, SECRET)])
    with pytest.raises(DeliveryError, match="127.0.0.1"):
        notifier.send(note())
    assert status_of(session_factory, note().dedupe_key) == "pending"


def test_a_concurrent_attempt_does_not_send_in_parallel(
    session_factory: sessionmaker[Session], receiver: Receiver
) -> None:
    """While one attempt holds the key (e.g. a timed-out attempt still running), another raises."""
    notifier = DeliveringNotifier(
        session_factory, smtp=None, webhooks=[WebhookSubscriber(receiver.url, SECRET)]
    )
    n = note()
    lock = (func.hashtext("notification-delivery"), func.hashtext(n.dedupe_key))
    with session_factory() as other:
        assert other.scalar(select(func.pg_try_advisory_lock(*lock))) is True
        with pytest.raises(DeliveryInProgress):
            notifier.send(n)
        other.scalar(select(func.pg_advisory_unlock(*lock)))
    assert receiver.requests == []
    assert notifier.send(n) is True
    assert len(receiver.delivered()) == 1


# --- configuration --------------------------------------------------------------------------


def test_parse_webhook_subscribers() -> None:
    assert parse_webhook_subscribers("") == []
    assert parse_webhook_subscribers(
        " https://crm.example/hook?a=1,2|s1 , http://127.0.0.1:9000/in|s2,"
    ) == [("https://crm.example/hook?a=1,2", "s1"), ("http://127.0.0.1:9000/in", "s2")]
    for bad in ("https://x.example/hook", "https://x.example|", "ftp://x.example|s", "https://x|a|b"):
        with pytest.raises(ValueError):
            parse_webhook_subscribers(bad)


def test_worker_wiring_keeps_the_plain_outbox_by_default(session_factory: sessionmaker[Session]) -> None:
    from adapters.notifications.outbox import OutboxNotifier
    from config.settings import Settings
    from worker import notifier_for

    assert isinstance(notifier_for(session_factory, Settings()), OutboxNotifier)
    configured = Settings(smtp_host="127.0.0.1", notify_webhooks="http://127.0.0.1:1/h|s")
    assert isinstance(notifier_for(session_factory, configured), DeliveringNotifier)
