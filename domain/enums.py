"""Closed vocabularies of the order model. The string values are part of the HTTP contract (docs/api.md)."""

from enum import StrEnum


class OrderStatus(StrEnum):
    RECEIVED = "received"
    VERIFYING = "verifying"
    ON_HOLD = "on_hold"
    ALLOCATING = "allocating"
    BACKORDERED = "backordered"
    PAYMENT_PENDING = "payment_pending"
    FULFILLING = "fulfilling"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    PARTIALLY_DELIVERED = "partially_delivered"
    DELIVERED = "delivered"
    RETURNING = "returning"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (OrderStatus.CLOSED, OrderStatus.CANCELLED)


class ShipmentStatus(StrEnum):
    PENDING = "pending"
    PICKING = "picking"
    PACKED = "packed"
    LABEL_CREATED = "label_created"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED_TO_SENDER = "returned_to_sender"
    CANCELLED = "cancelled"

    @property
    def with_carrier(self) -> bool:
        """A status only a carrier reports: the parcel has been handed over."""
        return self in (
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ShipmentStatus.DELIVERED,
            ShipmentStatus.EXCEPTION,
            ShipmentStatus.RETURNED_TO_SENDER,
        )


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    INSPECTED = "inspected"
    REFUNDED = "refunded"
    REJECTED = "rejected"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    DECLINED = "declined"


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    MARKETPLACE = "marketplace"
    SOCIAL = "social"
    POS = "pos"
    API = "api"


class ShippingSpeed(StrEnum):
    STANDARD = "standard"
    EXPRESS = "express"
    OVERNIGHT = "overnight"


class Priority(StrEnum):
    NORMAL = "normal"
    EXPEDITED = "expedited"


class PaymentMethod(StrEnum):
    CARD = "card"
    WALLET = "wallet"
    COD = "cod"


class TrackingStatus(StrEnum):
    """What a carrier webhook may report about a parcel."""

    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED_TO_SENDER = "returned_to_sender"


class OpsActionKind(StrEnum):
    """What ops may do to an order (POST /ops/orders/{id}/actions)."""

    APPROVE = "approve"  # release a verification hold
    REJECT = "reject"  # refuse a held order: it is cancelled
    REQUEST_INFO = "request_info"  # ask the customer for information; the hold goes on
    RETRY = "retry"  # run a parked step again (after fixing its cause)
    SKIP = "skip"  # go past a step that can be skipped (a pick confirmed by ops, a notification)
    REROUTE = "reroute"  # another carrier (params.carrier) for a parcel whose label was refused
    CANCEL = "cancel"
    NOTE = "note"
    REFUND = "refund"  # pay back part of the capture (params.amount or params.lines; a note says why)
    RESHIP = "reship"  # send a parcel that will not arrive again (params.shipment_id, lines, address)
    REJECT_CLAIM = "reject_claim"  # close a customer claim without refund or reship (params.claim_id, note)
    HOLD = "hold"  # stop the parcels the carrier has not got yet (note: why); the status stays
    RELEASE = "release"  # end an ops hold: the parcels go on where they stopped
    MOVE = "move"  # ship a parcel not yet picked from another warehouse (params.shipment_id, .warehouse)


class HoldReason(StrEnum):
    """Why verification held an order for review (R2)."""

    HIGH_VALUE = "high_value"
    VELOCITY = "velocity"
    BLOCKLISTED_CONTACT = "blocklisted_contact"
    ADDRESS_INCOMPLETE = "address_incomplete"


class ReturnReason(StrEnum):
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    NO_LONGER_NEEDED = "no_longer_needed"
    OTHER = "other"

    @property
    def our_fault(self) -> bool:
        """Damaged, wrong or misdescribed goods are the seller's fault: shipping is refunded too."""
        return self in (ReturnReason.DAMAGED, ReturnReason.WRONG_ITEM, ReturnReason.NOT_AS_DESCRIBED)


class ReturnResolution(StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"
    # Takes back what a claim already made good (a wrong item: the right one was reshipped, or
    # the claim refunded): opened by the order itself, received and restocked like any return,
    # and settled with no refund and no exchange. Not something a customer asks for.
    CLAIM = "claim"


class ItemCondition(StrEnum):
    RESELLABLE = "resellable"
    DAMAGED = "damaged"


class CarrierIssue(StrEnum):
    """The `detail` of a carrier `exception` event (docs/api.md "Built-in adapters in tests and demos")."""

    LOST = "lost"
    DAMAGED = "damaged"
    FAILED_ATTEMPT = "failed_attempt"
    DELAYED = "delayed"


class DamagedPolicy(StrEnum):
    """What a parcel the carrier reports damaged becomes."""

    RESHIP = "reship"  # send the same lines again (stock permitting, else refund)
    REFUND = "refund"  # refund the parcel's lines


class ShortPickPolicy(StrEnum):
    """What the units a warehouse could not pick become (OMS_SHORT_PICK_POLICY)."""

    REALLOCATE = "reallocate"  # a new parcel from another warehouse; without stock, backorder
    BACKORDER = "backorder"  # wait for stock up to the backorder timeout, then refund
    REFUND = "refund"  # refund the missing units at the price paid


class BackorderPolicy(StrEnum):
    """What happens when a backorder is not filled in time."""

    CANCEL = "cancel"  # cancel the whole order
    SHIP_AVAILABLE = "ship_available"  # ship the lines in stock, cancel and refund the rest


class BackorderChoiceKind(StrEnum):
    """What the customer of a backordered order asks for (POST /orders/{id}/backorder-choice)."""

    WAIT = "wait"  # go on waiting for stock; at the timeout the policy applies
    SHIP_AVAILABLE = "ship_available"  # ship what is in stock now, part lines included; drop the rest
    CANCEL_MISSING = "cancel_missing"  # drop every line not wholly in stock; ship the lines that are
    SUBSTITUTE = "substitute"  # the missing units of a line become units of a listed substitute


class Role(StrEnum):
    CLIENT = "client"
    OPS = "ops"
    WAREHOUSE = "warehouse"


class ClaimKind(StrEnum):
    """What a customer claims about a parcel the carrier has (POST /orders/{id}/claims)."""

    NOT_RECEIVED = "not_received"
    DAMAGED = "damaged"
    MISSING_ITEMS = "missing_items"
    WRONG_ITEM = "wrong_item"


class ClaimStatus(StrEnum):
    OPEN = "open"
    RESHIPPED = "reshipped"
    REFUNDED = "refunded"
    REJECTED = "rejected"
