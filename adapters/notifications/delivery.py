"""Real delivery of notifications (R12): e-mail over SMTP and signed webhooks, through the outbox.

Every message is first claimed in `notification_outbox` under its dedupe key, then delivered, then
marked. The row's `status` records how far delivery got:

    pending  claimed; nothing confirmed delivered yet
    mailed   the SMTP server accepted the e-mail; webhooks still outstanding
    sent     every channel delivered; a later send of the same key is a no-op (returns False)

A retried activity therefore never mails twice once `mailed` is committed, and never delivers
anything once `sent` is. The remaining at-least-once window is a crash between the SMTP server's
acceptance and the commit of `mailed` (or between the last webhook's 2xx and `sent`); the
Message-ID and the `X-Idempotency-Key` header are derived from the dedupe key, so a receiver can
recognise such a duplicate. While one attempt delivers a key it holds a PostgreSQL advisory lock
on it, so a concurrent attempt (Temporal retrying after a start-to-close timeout while the first
is still running) fails with a retryable `DeliveryInProgress` instead of sending in parallel.

Webhook subscribers all receive every kind; each POST body is JSON

    {"kind", "order_id", "dedupe_key", "subject", "body", "language"}

(a low-stock alert to ops, kind `low_stock`, belongs to no order: its `order_id` is `-`)

and carries `X-Signature: sha256=<hex HMAC-SHA256 of the raw body with the subscriber's secret>`
(as our own carrier webhooks) and `X-Idempotency-Key: <dedupe_key>`. The recipient's e-mail
address is deliberately left out: subscribers get what a message says, not where it went (the
body may still greet the customer by name). When one of several subscribers fails, the retry
posts again to those that already answered 2xx; they deduplicate by `X-Idempotency-Key`.

Every failure (network, timeout, non-2xx, SMTP 4xx/5xx) raises a `DeliveryError`, an ordinary
exception, so the Temporal activity retries it under the workflow's retry policy.
"""

import hashlib
import hmac
import json
import re
import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from domain.models import Notification
from store.models import NotificationOutboxRow

_log = structlog.get_logger(__name__)

PENDING = "pending"
MAILED = "mailed"
SENT = "sent"

WEBHOOK_TIMEOUT_SECONDS = 5.0


class DeliveryError(Exception):
    """A channel did not take the message; retryable (the outbox row stays unsent)."""


class DeliveryInProgress(DeliveryError):
    """Another attempt is delivering this dedupe key right now; retry later."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "orderflow@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0


@dataclass(frozen=True)
class WebhookSubscriber:
    url: str
    secret: str = field(repr=False)


# One entry: a URL (anything up to the `|`, commas allowed) and a secret (no comma, no `|`).
_WEBHOOK_ENTRY = re.compile(r"\s*(?P<url>[^|]+?)\s*\|\s*(?P<secret>[^,|]*?)\s*(?:,|$)")


def parse_webhook_subscribers(value: str) -> list[tuple[str, str]]:
    """`url|secret` entries separated by commas -> [(url, secret)].

    `|` never appears unescaped in a URL (RFC 3986), so it separates a URL from its secret; a
    URL may itself contain commas, a secret may not. Raises ValueError on anything else.
    """
    entries: list[tuple[str, str]] = []
    pos, text = 0, value.strip().strip(",")
    while pos < len(text):
        match = _WEBHOOK_ENTRY.match(text, pos)
        if match is None or not match.group("secret"):
            raise ValueError(f"webhook subscribers: expected `url|secret` at {text[pos:pos + 40]!r}")
        url = match.group("url").lstrip(", ")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"webhook subscribers: not an http(s) URL: {url!r}")
        entries.append((url, match.group("secret")))
        pos = match.end()
    return entries


def signature_of(secret: str, body: bytes) -> str:
    """The `X-Signature` header value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def message_id_of(dedupe_key: str, sender: str) -> str:
    """A stable Message-ID per dedupe key: a re-sent duplicate carries the same one."""
    domain = sender.rpartition("@")[2] or "orderflow.local"
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]
    return f"<{digest}.notification@{domain}>"


def webhook_body(notification: Notification) -> bytes:
    """The exact bytes posted (and signed): deterministic, so a retry posts the same body."""
    payload = {
        "kind": notification.kind,
        "order_id": notification.order_id,
        "dedupe_key": notification.dedupe_key,
        "subject": notification.subject,
        "body": notification.body,
        "language": notification.language,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def email_of(notification: Notification, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg.set_content(notification.body, charset="utf-8")  # first: it replaces any Content-* header
    msg["From"] = sender
    msg["To"] = notification.recipient
    msg["Subject"] = notification.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id_of(notification.dedupe_key, sender)
    msg["Content-Language"] = notification.language
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Orderflow-Dedupe-Key"] = notification.dedupe_key
    return msg


# Advisory lock namespace (first key) for "a notification is being delivered".
_LOCK_CLASS = "notification-delivery"


class DeliveringNotifier:
    """A `Notifier` that e-mails the recipient (when SMTP is configured) and posts to every
    webhook subscriber, once per dedupe key, recorded in the outbox."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        smtp: SmtpConfig | None,
        webhooks: Sequence[WebhookSubscriber] = (),
        webhook_timeout: float = WEBHOOK_TIMEOUT_SECONDS,
    ) -> None:
        bind = session_factory.kw.get("bind")
        if not isinstance(bind, Engine):
            raise TypeError("DeliveringNotifier needs a session factory bound to an Engine")
        self._engine = bind
        self._smtp = smtp
        self._webhooks = list(webhooks)
        self._webhook_timeout = webhook_timeout

    def send(self, notification: Notification) -> bool:
        key = notification.dedupe_key
        with self._engine.connect() as conn:
            claimed = conn.scalar(
                insert(NotificationOutboxRow)
                .values(
                    dedupe_key=key,
                    order_id=notification.order_id,
                    kind=notification.kind,
                    recipient=notification.recipient,
                    subject=notification.subject,
                    body=notification.body,
                    status=PENDING,
                )
                .on_conflict_do_nothing(index_elements=[NotificationOutboxRow.dedupe_key])
                .returning(NotificationOutboxRow.id)
            )
            conn.commit()
            if claimed is None and self._status(conn, key) == SENT:
                conn.commit()
                return False
            with self._delivering(conn, key):
                status = self._status(conn, key)  # again, under the lock: another attempt may have finished
                if status == SENT:
                    conn.commit()
                    return False
                if self._smtp is not None and status != MAILED:
                    self._mail(notification, self._smtp)
                    self._mark(conn, key, MAILED)
                for subscriber in self._webhooks:
                    self._post(notification, subscriber)
                self._mark(conn, key, SENT)
        _log.info(
            "notification.sent",
            order_id=notification.order_id,
            kind=notification.kind,
            # Never the recipient: a log carries ids, not a customer's address.
            subject=notification.subject,
            dedupe_key=key,
            emailed=self._smtp is not None,
            webhooks=len(self._webhooks),
            retried=claimed is None,
        )
        return True

    # --- outbox ---------------------------------------------------------------------------

    @staticmethod
    def _status(conn: Connection, key: str) -> str | None:
        return conn.scalar(
            select(NotificationOutboxRow.status).where(NotificationOutboxRow.dedupe_key == key)
        )

    @staticmethod
    def _mark(conn: Connection, key: str, status: str) -> None:
        conn.execute(
            update(NotificationOutboxRow)
            .where(NotificationOutboxRow.dedupe_key == key)
            .values(status=status)
        )
        conn.commit()

    @staticmethod
    @contextmanager
    def _delivering(conn: Connection, key: str) -> Iterator[None]:
        """Hold a session-level advisory lock on the key (it survives the commits in between);
        a second attempt on the same key raises DeliveryInProgress instead of waiting."""
        lock_args = (func.hashtext(_LOCK_CLASS), func.hashtext(key))
        got = conn.scalar(select(func.pg_try_advisory_lock(*lock_args)))
        conn.commit()
        if not got:
            raise DeliveryInProgress(f"notification {key} is being delivered by another attempt")
        try:
            yield
        finally:
            try:
                conn.rollback()
                conn.scalar(select(func.pg_advisory_unlock(*lock_args)))
                conn.commit()
            except SQLAlchemyError:  # the lock must not go back to the pool: drop the connection
                conn.invalidate()

    # --- channels -------------------------------------------------------------------------

    def _mail(self, notification: Notification, smtp: SmtpConfig) -> None:
        msg = email_of(notification, smtp.sender)
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
                if smtp.starttls:
                    client.starttls(context=ssl.create_default_context())
                if smtp.username:
                    client.login(smtp.username, smtp.password or "")
                client.send_message(msg)
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"e-mail for {notification.dedupe_key} via {smtp.host}:{smtp.port} failed: {_smtp_failure(error)}"
            ) from None  # the cause names the recipient; this message travels to Temporal and its logs

    def _post(self, notification: Notification, subscriber: WebhookSubscriber) -> None:
        body = webhook_body(notification)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Signature": signature_of(subscriber.secret, body),
            "X-Idempotency-Key": notification.dedupe_key,
        }
        target = _redacted(subscriber.url)
        try:
            with httpx.Client(timeout=self._webhook_timeout, follow_redirects=False) as client:
                response = client.post(subscriber.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(
                f"webhook {target} for {notification.dedupe_key} failed: {error!r}"
            ) from error
        if not response.is_success:
            raise DeliveryError(
                f"webhook {target} for {notification.dedupe_key} answered {response.status_code}"
            )


def _smtp_failure(error: Exception) -> str:
    """What went wrong, never to whom: a refused-recipients error maps each address to the server's
    reply, and a server's reply often quotes the address (`550 5.1.1 <li@example.com>: ...`)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _reply in error.recipients.values()})
        return f"SMTPRecipientsRefused (recipient refused with {', '.join(codes)})"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__} (SMTP {error.smtp_code})"
    return repr(error)  # network errors and disconnections name no one


def _redacted(url: str) -> str:
    """scheme://host[:port]/path, without credentials or query (either may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
