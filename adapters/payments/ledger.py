"""The built-in payment gateway: a ledger in PostgreSQL (R7).

Test tokens (docs/api.md): `tok_visa`, `tok_wallet` approve; `tok_decline` declines; `tok_flaky` fails
transiently on its first two attempts per idempotency key, then approves; any other token
declines; `tok_limit` approves an order's first authorization and declines any later one (a card at
its limit: an order edit's difference is declined); `cod` needs no token. Every operation is idempotent by its key: a repeat returns the
stored result and writes no new ledger row.

Cash on delivery is a promise, not a hold on funds: it is captured in parts, one per parcel as the
courier collects it, never more in total than was authorized; a share that will not be collected
(a parcel returned to the sender) is voided by amount, which leaves the other shares capturable,
and a replacement parcel may collect the share again. A void without an amount voids what is left.
"""

import secrets
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from adapters.payments import TransientPaymentError
from domain.enums import PaymentMethod, PaymentStatus
from domain.errors import InvalidOrder, PaymentDeclined
from domain.models import PaymentResult
from store.models import PaymentAttemptRow, PaymentRow

APPROVING_TOKENS = frozenset({"tok_visa", "tok_wallet"})
FLAKY_TOKEN = "tok_flaky"
FLAKY_FAILURES = 2
LIMITED_TOKEN = "tok_limit"


def _result(row: PaymentRow) -> PaymentResult:
    return PaymentResult(
        payment_id=row.payment_id,
        status=PaymentStatus(row.status),
        amount=row.amount,
        idempotency_key=row.idempotency_key,
    )


class LedgerGateway:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sf = session_factory

    # -- helpers -------------------------------------------------------------------------

    def _stored(self, key: str) -> PaymentRow | None:
        with self._sf() as s:
            return s.scalar(select(PaymentRow).where(PaymentRow.idempotency_key == key))

    @staticmethod
    def _write(s: Session, **values: object) -> PaymentRow:
        """Insert a ledger row unless its key exists; either way return the row stored under the key."""
        s.execute(
            insert(PaymentRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
        row = s.scalar(
            select(PaymentRow)
            .where(PaymentRow.idempotency_key == values["idempotency_key"])
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row

    def _count_attempt(self, key: str) -> int:
        """Attempts so far for this key, counted in a transaction of its own (survives failures)."""
        with self._sf.begin() as s:
            upsert = insert(PaymentAttemptRow).values(key=key, attempts=1)
            stmt = upsert.on_conflict_do_update(
                index_elements=[PaymentAttemptRow.key],
                set_={"attempts": PaymentAttemptRow.attempts + 1},
            ).returning(PaymentAttemptRow.attempts)
            return int(s.scalar(stmt) or 0)

    @staticmethod
    def _lock_authorization(s: Session, payment_id: str) -> PaymentRow:
        """The authorize row of a payment, locked: operations on one payment take turns."""
        row = s.scalar(
            select(PaymentRow)
            .where(
                PaymentRow.payment_id == payment_id, PaymentRow.operation == "authorize"
            )
            .with_for_update()
        )
        if row is None:
            raise InvalidOrder(f"unknown payment {payment_id}")
        return row

    @staticmethod
    def _total(s: Session, payment_id: str, operation: str) -> Decimal:
        total = s.scalar(
            select(func.coalesce(func.sum(PaymentRow.amount), 0)).where(
                PaymentRow.payment_id == payment_id, PaymentRow.operation == operation
            )
        )
        return Decimal(total or 0)

    # -- PaymentGateway ------------------------------------------------------------------

    def authorize(
        self,
        key: str,
        order_id: str,
        amount: Decimal,
        currency: str,
        method: str,
        token: str | None,
    ) -> PaymentResult:
        stored = self._stored(key)
        if stored is None:
            if amount < 0:
                raise InvalidOrder("amount must not be negative")
            approved = self._decide(key, method, token) and not self._over_limit(order_id, token)
            with self._sf.begin() as s:
                stored = self._write(
                    s,
                    idempotency_key=key,
                    order_id=order_id,
                    operation="authorize",
                    payment_id="pay_" + secrets.token_hex(12),
                    status=(
                        PaymentStatus.AUTHORIZED if approved else PaymentStatus.DECLINED
                    ).value,
                    amount=amount,
                    currency=currency,
                    method=str(method),
                )
        if stored.status == PaymentStatus.DECLINED:
            raise PaymentDeclined(
                f"payment {stored.payment_id} was declined by the issuer"
            )
        return _result(stored)

    def _over_limit(self, order_id: str, token: str | None) -> bool:
        """`tok_limit`: the order already holds an approved authorization."""
        if token != LIMITED_TOKEN:
            return False
        with self._sf() as s:
            approved = s.scalar(
                select(func.count()).where(
                    PaymentRow.order_id == order_id,
                    PaymentRow.operation == "authorize",
                    PaymentRow.status == PaymentStatus.AUTHORIZED.value,
                )
            )
            return (approved or 0) > 0

    def _decide(self, key: str, method: str, token: str | None) -> bool:
        """True to approve, False to decline; raises TransientPaymentError for `tok_flaky`'s first tries."""
        if method == PaymentMethod.COD:
            return True
        if token in APPROVING_TOKENS or token == LIMITED_TOKEN:
            return True
        if token == FLAKY_TOKEN:
            attempt = self._count_attempt(key)
            if attempt <= FLAKY_FAILURES:
                raise TransientPaymentError(f"gateway timeout (attempt {attempt})")
            return True
        return False

    def capture(self, key: str, payment_id: str, amount: Decimal) -> PaymentResult:
        stored = self._stored(key)
        if stored is not None:
            return _result(stored)
        with self._sf.begin() as s:
            auth = self._lock_authorization(s, payment_id)
            again = s.scalar(
                select(PaymentRow).where(PaymentRow.idempotency_key == key)
            )
            if again is not None:  # a concurrent call with the same key got here first
                return _result(again)
            if auth.status == PaymentStatus.DECLINED:
                raise InvalidOrder(
                    f"payment {payment_id} was declined; nothing to capture"
                )
            captured = self._total(s, payment_id, "capture")
            if auth.method == PaymentMethod.COD:
                # Collected parcel by parcel: each capture adds to the last, up to the promise.
                if amount <= 0 or captured + amount > auth.amount:
                    raise InvalidOrder(
                        f"capture amount {amount} must be positive and at most {auth.amount - captured}"
                        f" ({captured} of {auth.amount} captured)"
                    )
            else:
                if self._voided(s, payment_id):
                    raise InvalidOrder(f"payment {payment_id} is voided")
                if captured > 0:
                    raise InvalidOrder(f"payment {payment_id} is already captured")
                if amount <= 0 or amount > auth.amount:
                    raise InvalidOrder(
                        f"capture amount {amount} must be positive and at most {auth.amount}"
                    )
            row = self._write(
                s,
                idempotency_key=key,
                order_id=auth.order_id,
                operation="capture",
                payment_id=payment_id,
                status=PaymentStatus.CAPTURED.value,
                amount=amount,
                currency=auth.currency,
                method=auth.method,
            )
            return _result(row)

    @staticmethod
    def _voided(s: Session, payment_id: str) -> bool:
        return (
            s.scalar(
                select(func.count()).where(
                    PaymentRow.payment_id == payment_id, PaymentRow.operation == "void"
                )
            )
            or 0
        ) > 0

    def void(
        self, key: str, payment_id: str, amount: Decimal | None = None
    ) -> PaymentResult:
        stored = self._stored(key)
        if stored is not None:
            return _result(stored)
        with self._sf.begin() as s:
            auth = self._lock_authorization(s, payment_id)
            again = s.scalar(
                select(PaymentRow).where(PaymentRow.idempotency_key == key)
            )
            if again is not None:  # a concurrent call with the same key got here first
                return _result(again)
            captured = self._total(s, payment_id, "capture")
            if amount is not None or auth.method == PaymentMethod.COD:
                if auth.method != PaymentMethod.COD:
                    raise InvalidOrder(
                        f"payment {payment_id} is not cash on delivery: it is voided whole"
                    )
                left = auth.amount - captured
                amount = left if amount is None else amount
                if amount <= 0 or amount > left:
                    raise InvalidOrder(
                        f"void amount {amount} must be positive and at most {left} ({captured} captured)"
                    )
            elif captured > 0:
                raise InvalidOrder(
                    f"payment {payment_id} is captured; refund it instead of voiding"
                )
            row = self._write(
                s,
                idempotency_key=key,
                order_id=auth.order_id,
                operation="void",
                payment_id=payment_id,
                status=PaymentStatus.VOIDED.value,
                amount=auth.amount if amount is None else amount,
                currency=auth.currency,
                method=auth.method,
            )
            return _result(row)

    def refund(self, key: str, payment_id: str, amount: Decimal) -> PaymentResult:
        stored = self._stored(key)
        if stored is not None:
            return _result(stored)
        with self._sf.begin() as s:
            auth = self._lock_authorization(s, payment_id)
            again = s.scalar(
                select(PaymentRow).where(PaymentRow.idempotency_key == key)
            )
            if again is not None:  # a concurrent call with the same key got here first
                return _result(again)
            captured = self._total(s, payment_id, "capture")
            refunded = self._total(s, payment_id, "refund")
            if amount <= 0:
                raise InvalidOrder("refund amount must be positive")
            if refunded + amount > captured:
                raise InvalidOrder(
                    f"refund of {amount} exceeds what is left to refund ({captured - refunded} of {captured} captured)"
                )
            status = (
                PaymentStatus.REFUNDED
                if refunded + amount == captured
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            row = self._write(
                s,
                idempotency_key=key,
                order_id=auth.order_id,
                operation="refund",
                payment_id=payment_id,
                status=status.value,
                amount=amount,
                currency=auth.currency,
                method=auth.method,
            )
            return _result(row)
