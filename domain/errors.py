"""One exception type per business refusal.

`activities/` turns these into non-retryable ``ApplicationError``s whose ``type`` is the class
name; `api/` maps the same names to problem details. Nothing else invents error names.
"""


class BusinessError(Exception):
    """A refusal that retrying cannot fix."""

    http_status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PaymentDeclined(BusinessError):
    http_status = 402


class OutOfStock(BusinessError):
    pass


class UndeliverableAddress(BusinessError):
    pass


class TooLateToCancel(BusinessError):
    pass


class OrderAlreadyClosed(BusinessError):
    pass


class IdempotencyConflict(BusinessError):
    pass


class DuplicateChannelOrder(BusinessError):
    pass


class InvalidOrder(BusinessError):
    http_status = 422


class UnknownShipment(BusinessError):
    http_status = 404


class LabelNotCancellable(BusinessError):
    pass


class ActionNotApplicable(BusinessError):
    """An ops action or amendment that the order's current state does not allow."""


class ReturnNotAllowed(BusinessError):
    """Outside the return window, or for lines that were not delivered (or already returned)."""


class AddressLocked(BusinessError):
    """The shipping address can no longer change: a label has been bought."""


class TooLateToEdit(BusinessError):
    """The order's lines (or contact) can no longer change: a parcel holding a changed line is
    picked, or the order is past the point where it can change."""


# Names of all refusals, for mapping ApplicationError.type back to a class.
BUSINESS_ERRORS: dict[str, type[BusinessError]] = {
    cls.__name__: cls
    for cls in (
        PaymentDeclined,
        OutOfStock,
        UndeliverableAddress,
        TooLateToCancel,
        OrderAlreadyClosed,
        IdempotencyConflict,
        DuplicateChannelOrder,
        InvalidOrder,
        UnknownShipment,
        LabelNotCancellable,
        ActionNotApplicable,
        AddressLocked,
        ReturnNotAllowed,
        TooLateToEdit,
    )
}


# Cycle counts (issue 19, domain/counts.py). Raised by store/ for the API only (no activity
# raises them), so they stay out of BUSINESS_ERRORS.
class UnknownCount(BusinessError):
    http_status = 404


class CountNotPending(BusinessError):
    """An approval or rejection of a count that no longer waits: already approved, rejected,
    superseded by a later count, or applied when counted."""


class CountBelowReserved(BusinessError):
    """Approving the count would leave on_hand below the units reserved for open orders now."""
