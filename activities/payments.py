"""Activities over the payment gateway. Every call carries an idempotency key scoped to the order
and the step (domain.ids.payment_key), so a retried activity never charges twice."""

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import business_refusals
from adapters.payments import PaymentGateway, TransientPaymentError
from domain.models import AuthorizeRequest, PaymentOperation, PaymentResult


class PaymentActivities:
    def __init__(self, gateway: PaymentGateway) -> None:
        self._gateway = gateway

    @activity.defn(name="authorize_payment")
    @business_refusals
    def authorize_payment(self, request: AuthorizeRequest) -> PaymentResult:
        try:
            return self._gateway.authorize(
                request.idempotency_key,
                request.order_id,
                request.amount,
                request.currency,
                request.method.value,
                request.token,
            )
        except TransientPaymentError as error:
            # Retryable: Temporal's retry policy tries again with the same key.
            raise ApplicationError(str(error), type="TransientPaymentError") from error

    @activity.defn(name="capture_payment")
    @business_refusals
    def capture_payment(self, operation: PaymentOperation) -> PaymentResult:
        return self._gateway.capture(operation.idempotency_key, operation.payment_id, operation.amount)

    @activity.defn(name="void_payment")
    @business_refusals
    def void_payment(self, operation: PaymentOperation) -> PaymentResult:
        # An amount voids only that share (cash on delivery, a parcel's); none voids it all.
        return self._gateway.void(operation.idempotency_key, operation.payment_id, operation.amount or None)

    @activity.defn(name="refund_payment")
    @business_refusals
    def refund_payment(self, operation: PaymentOperation) -> PaymentResult:
        return self._gateway.refund(operation.idempotency_key, operation.payment_id, operation.amount)
