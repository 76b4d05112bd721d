"""The order model: one pydantic model per concept, shared by the API, workflows and activities.

Money is ``Decimal`` with two places and travels as a decimal string ("19.90"), never a float.
"""

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from domain.enums import (
    BackorderChoiceKind,
    BackorderPolicy,
    Channel,
    ClaimKind,
    ClaimStatus,
    DamagedPolicy,
    HoldReason,
    ItemCondition,
    OpsActionKind,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    Priority,
    ReturnReason,
    ReturnResolution,
    ReturnStatus,
    ShipmentStatus,
    ShippingSpeed,
    ShortPickPolicy,
    TrackingStatus,
)


def _not_a_float(value: object) -> object:
    """Money travels as decimal strings ("19.90"); a binary float is refused, never rounded."""
    if isinstance(value, (float, bool)):
        raise ValueError('money must be a decimal string such as "19.90", not a number')  # noqa: TRY004 - pydantic reports ValueError as a field error
    return value


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


Money = Annotated[
    Decimal,
    BeforeValidator(_not_a_float),
    Field(max_digits=12, decimal_places=2, ge=Decimal(0)),
    AfterValidator(_cents),
]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Email = Annotated[
    str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", strip_whitespace=True)
]
Phone = Annotated[str, StringConstraints(max_length=32, pattern=r"^\+?[0-9 ()-]{5,31}$")]


# --- Text hygiene: what no text taken from outside may hold. ---------------------------------------
# Control characters (C0 U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F) and lone UTF-16 surrogates
# (U+D800-U+DFFF, which JSON's \ud800 escapes can carry) are refused in every text of every input
# model. Why: PostgreSQL refuses NUL in text and jsonb (the projection write of an order retried
# for ever, and POST /orders hung); a lone surrogate has no UTF-8 form, so every write and every
# JSON answer holding it fails; the others are terminal escapes (ESC, CSI), log-line forgery (CR,
# LF) and invisible differences in names and ids. DEL and C1 are refused with C0: no name,
# address or id has a use for them, and terminals obey C1 CSI as they obey ESC [.
# Free text (FREE_TEXT_FIELDS) keeps tab and newline (LF). A CRLF line break there is taken as LF
# (an HTML form's textarea sends CRLF, and the ops console posts forms); a lone CR is refused.
# Bidirectional marks (U+202E) are letters' business and stay allowed; they are not controls.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FORBIDDEN_IN_FREE_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Fields of input models that hold a person's free text, by name (notes of an order, ops' notes,
# a customer's comment); every other text field is one line.
FREE_TEXT_FIELDS = frozenset({"notes", "note", "comment"})


def forbidden_character(text: str, *, free_text: bool = False) -> str | None:
    """The first character of `text` that input may not hold, described (`U+0000 at position 3`),
    or None when the text is clean."""
    found = (_FORBIDDEN_IN_FREE_TEXT if free_text else _FORBIDDEN).search(text)
    if found is None:
        return None
    return f"U+{ord(found.group()):04X} at position {found.start()}"


# Lists and dicts inside one field (an ops action's `params`) nest at most this deep. Deeper
# values passed validation but not the JSON serializer of Temporal payloads (pydantic stops at
# about 250 levels: an ops action with such params answered 500); no input needs more than a few.
MAX_NESTING = 32

# The validation context of data we wrote ourselves: Temporal payloads (workflow inputs, results,
# signals) and projection documents read back. They were checked when they came in, under the rules
# of their day; checking them again under today's rules would turn a rule added later into a replay
# failure of an order already running, or a 500 on reading an order already stored. CleanText's
# text rule guards intake only. (config/codec.py and store/projection.py pass it.)
STORED_DATA: dict[str, bool] = {"stored": True}


def is_stored_data(context: object) -> bool:
    return isinstance(context, dict) and context.get("stored") is True


def value_problem(value: object, *, free_text: bool = False) -> str | None:
    """What is wrong with a field's value from outside, or None: a forbidden character in a text,
    or in the texts (keys too) of the lists and dicts it holds, or nesting beyond MAX_NESTING.
    Nested models are skipped: an input model checks its own fields. Walked with a stack, not
    recursion, so that a deeply nested value cannot raise RecursionError here."""
    pending: list[tuple[object, str, int, bool]] = [(value, "", 0, False)]  # (item, path, depth, is a key)
    while pending:
        item, path, depth, is_key = pending.pop()
        if isinstance(item, str):
            problem = forbidden_character(item, free_text=free_text)
            if problem is not None:
                where = f" of a key in {path or 'it'}" if is_key else (f" in {path}" if path else "")
                return f"must not contain control characters: {problem}{where}"
        elif isinstance(item, (dict, list, tuple, set, frozenset)):
            if depth >= MAX_NESTING:
                return f"must not nest lists and objects more than {MAX_NESTING} levels deep"
            if isinstance(item, dict):
                for key, inner in item.items():
                    pending.append((key, path, depth + 1, True))
                    pending.append((inner, f"{path}[{key!r}]", depth + 1, False))
            else:
                pending.extend((inner, f"{path}[{index}]", depth + 1, False) for index, inner in enumerate(item))
    return None


class CleanText(BaseModel):
    """Base of every model that takes outside input: no text in any of its fields, present or
    future, holds a forbidden character (see forbidden_character), and no field nests deeper
    than MAX_NESTING (value_problem); the fields named in `free_text_fields` may hold tabs and
    newlines (CRLF taken as LF). The 422 names the field."""

    free_text_fields: ClassVar[frozenset[str]] = FREE_TEXT_FIELDS

    @field_validator("*")
    @classmethod
    def _clean_text(cls, value: Any, info: ValidationInfo) -> Any:
        if info.context is not None and is_stored_data(info.context):
            return value  # ours, checked when it came in (STORED_DATA)
        # This runs for every field of every input model, so the common cases are quick: a plain text is one regex search, a number or a model is nothing.
        if isinstance(value, str):
            if _FORBIDDEN.search(value) is None:
                return value  # clean in any field
            if info.field_name in cls.free_text_fields:
                value = value.replace("\r\n", "\n")
        elif not isinstance(value, (dict, list, tuple, set, frozenset)):
            return value
        problem = value_problem(value, free_text=info.field_name in cls.free_text_fields)
        if problem is not None:
            raise ValueError(problem)
        return value


class Strict(CleanText):
    """Input models: unknown fields are an error, not silently dropped; text is clean (CleanText)."""

    model_config = ConfigDict(extra="forbid")


class Customer(Strict):
    id: Identifier
    email: Email
    phone: Phone | None = None
    name: ShortText
    language: Annotated[str, StringConstraints(pattern=r"^(zh|en)$")] = "zh"


class Address(Strict):
    name: ShortText
    line1: ShortText
    line2: Annotated[str, StringConstraints(max_length=200)] | None = None
    city: ShortText
    region: ShortText
    postal_code: Annotated[str, StringConstraints(min_length=3, max_length=12, pattern=r"^[A-Za-z0-9 -]+$")]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    phone: Phone | None = None


class OrderLine(Strict):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=999)]
    unit_price: Money


def _a_discount(value: Decimal) -> Decimal:
    if value >= 0:
        raise ValueError("an adjustment is a discount: a negative amount such as \"-10.00\"")
    return value


# A price adjustment's amount: a discount, so negative, in cents.
DiscountAmount = Annotated[
    Decimal,
    BeforeValidator(_not_a_float),
    Field(max_digits=12, decimal_places=2),
    AfterValidator(_a_discount),
    AfterValidator(_cents),
]


class PriceAdjustment(Strict):
    """A discount the channel gave (docs/api.md "Price adjustments"): on one line (`sku`) or on the
    whole order (`sku` null: spread over the lines pro rata, domain.pricing.price_order)."""

    sku: Sku | None = None
    amount: DiscountAmount
    reason: ShortText
    code: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")] | None = None


class PaymentRequest(Strict):
    method: PaymentMethod
    token: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


class OrderRequest(Strict):
    """What a channel submits (POST /orders)."""

    order_id: Identifier | None = None
    channel: Channel
    channel_order_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    customer: Customer
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=100)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    shipping_address: Address
    shipping_speed: ShippingSpeed = ShippingSpeed.STANDARD
    priority: Priority = Priority.NORMAL
    payment: PaymentRequest
    notes: Annotated[str, StringConstraints(max_length=1000)] | None = None
    # Channel prices (issue 17): discounts, and the channel's own shipping charge, which replaces
    # ours. Default empty, so orders (and histories) from before them read as they were.
    adjustments: Annotated[list[PriceAdjustment], Field(max_length=100)] = []
    shipping_charge: Money | None = None

    @field_validator("lines")
    @classmethod
    def _one_line_per_sku(cls, lines: list[OrderLine]) -> list[OrderLine]:
        skus = [line.sku for line in lines]
        if len(set(skus)) != len(skus):
            raise ValueError("each sku may appear on one line only")
        return lines


class StepSlas(BaseModel):
    """Time allowed in each step before the order needs attention (halved when expedited)."""

    verifying: timedelta = timedelta(minutes=15)
    allocating: timedelta = timedelta(hours=1)
    payment: timedelta = timedelta(hours=1)
    picking: timedelta = timedelta(hours=24)
    label: timedelta = timedelta(hours=4)
    delivery: timedelta = timedelta(days=7)
    ret: timedelta = timedelta(days=14)

    def for_priority(self, priority: Priority) -> "StepSlas":
        if priority is not Priority.EXPEDITED:
            return self
        return StepSlas(**{name: value / 2 for name, value in self})


class RiskPolicy(BaseModel):
    """Verification rules' thresholds (R2)."""

    hold_above: Decimal = Decimal("5000.00")
    velocity_limit: int = 5  # orders of one customer within velocity_window before a hold
    velocity_window: timedelta = timedelta(hours=1)
    blocklist: list[str] = []  # e-mail addresses and phone numbers, compared case-insensitively


class OrderPolicy(BaseModel):
    """Time limits and rules fixed when the order starts, so the workflow never reads configuration."""

    return_window: timedelta = timedelta(days=30)
    # An approved return never received this long after its request ends rejected ("expired").
    return_expiry: timedelta = timedelta(days=30)
    hold_timeout: timedelta = timedelta(hours=48)
    backorder_timeout: timedelta = timedelta(days=14)
    backorder_policy: BackorderPolicy = BackorderPolicy.CANCEL
    damaged_policy: DamagedPolicy = DamagedPolicy.RESHIP
    short_pick_policy: ShortPickPolicy = ShortPickPolicy.REALLOCATE
    # With no carrier news for this long, the parcel asks the carrier (webhooks can be lost).
    tracking_poll_interval: timedelta = timedelta(hours=12)
    slas: StepSlas = StepSlas()
    risk: RiskPolicy = RiskPolicy()
    # Activities retry transient failures this many times before the order parks for ops.
    activity_attempts: int = 12
    ops_email: str = "ops@orderflow.local"


class OrderInput(BaseModel):
    """The workflow's input: the accepted request plus what the API decided at intake."""

    order_id: str
    request: OrderRequest
    request_hash: str
    received_at: datetime
    actor: str = "client"
    policy: OrderPolicy = OrderPolicy()


class CatalogItem(BaseModel):
    sku: str
    name: str
    price: Money
    currency: str = "CNY"
    weight_grams: int = 500
    active: bool = True
    # SKUs a customer may take instead when this one is out of stock (a backorder's `substitute`).
    substitutes: list[str] = []


class Warehouse(BaseModel):
    code: str
    name: str
    region: str
    priority: int = 1
    daily_capacity: int = 500
    active: bool = True
    open_workload: int = 0


class StockLevel(BaseModel):
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    safety_stock: int = 0
    reorder_point: int = 0

    @property
    def available(self) -> int:
        """Units that may be promised: safety stock is never promised."""
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class ParcelLine(BaseModel):
    sku: str
    quantity: int


class Parcel(BaseModel):
    warehouse: str
    lines: list[ParcelLine]
    region: str = ""  # the warehouse's region: where the parcel ships from


class Allocation(BaseModel):
    order_id: str
    parcels: list[Parcel]


class PaymentResult(BaseModel):
    payment_id: str
    status: PaymentStatus
    amount: Money
    idempotency_key: str


class RateQuote(BaseModel):
    carrier: str
    service: ShippingSpeed
    price: Money
    transit_days: int
    promised_by: date


class Label(BaseModel):
    label_id: str
    carrier: str
    service: ShippingSpeed
    tracking_number: str
    price: Money
    promised_by: date


class LabelRequest(BaseModel):
    shipment_id: str
    idempotency_key: str
    quote: RateQuote
    origin_region: str
    destination: Address
    weight_grams: int


class TrackingPoll(BaseModel):
    carrier: str
    tracking_number: str


class TrackingEvent(BaseModel):
    tracking_number: str
    status: TrackingStatus
    detail: str | None = None
    at: datetime
    promised_by: date | None = None  # a new delivery date, with detail `delayed`


class PickConfirmation(BaseModel):
    """The warehouse's pick: `lines` None means everything was picked; a list is exactly what was
    picked (a parcel line left out was not picked at all)."""

    lines: list[ParcelLine] | None = None
    picker: str = "warehouse"


class ShortPick(BaseModel):
    """Units a parcel's warehouse did not find on the shelf: their reservation is released and the
    shelf count corrected (adapters/inventory `short_pick`)."""

    reservation_key: str
    warehouse: str
    shipment_id: str
    lines: list[ParcelLine]


class ShipmentInput(BaseModel):
    order_id: str
    shipment_id: str
    parcel: Parcel
    destination: Address
    shipping_speed: ShippingSpeed
    priority: Priority
    weight_grams: int
    recipient: str
    language: str = "zh"
    slas: StepSlas = StepSlas()
    activity_attempts: int = 12
    reservation_key: str = ""  # the reservation owner: the order id, or a reship's own key
    tracking_poll_interval: timedelta = timedelta(hours=12)
    held: bool = False  # started during an ops hold: no pick until the order releases it


class ShipmentView(BaseModel):
    shipment_id: str
    order_id: str
    warehouse: str
    status: ShipmentStatus = ShipmentStatus.PENDING
    carrier: str | None = None
    service: ShippingSpeed | None = None
    tracking_number: str | None = None
    label_id: str | None = None
    lines: list[ParcelLine] = []
    promised_by: date | None = None
    quotes: list[RateQuote] = []
    last_event: str | None = None
    updated_at: datetime | None = None
    version: int = 0  # bumped on every change, so a late signal never overwrites a newer view
    handed_over_at: datetime | None = None  # when the carrier first scanned it: no cancel after
    attention_reason: str | None = None  # set while the parcel waits past its SLA or on ops
    failed_attempts: int = 0
    delivery_issue: str | None = None  # lost or damaged: the parcel will not arrive as sent
    outcome: str | None = None  # what the order did about a delivery issue (reshipped / refunded)
    reservation_key: str | None = None  # whose reservation the parcel's stock is held under
    received_back: list["ReceivedLine"] = []  # returned to sender and back at the warehouse
    # The units the warehouse could not pick (a short pick): no longer in `lines`; the order
    # allocates them elsewhere, backorders or refunds them (OrderPolicy.short_pick_policy).
    short_picked: list[ParcelLine] = []

    @property
    def handed_over(self) -> bool:
        return self.handed_over_at is not None


class ReturnView(BaseModel):
    rma_id: str
    status: ReturnStatus
    lines: list[ParcelLine] = []
    refund_amount: Money = Decimal("0.00")
    reason: ReturnReason | None = None
    resolution: ReturnResolution | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    received: list["ReceivedLine"] = []
    refund_due: Money = Decimal("0.00")  # what inspection found refundable; paid by the order
    exchange_shipment_id: str | None = None
    awaiting_approval: bool = False
    last_event: str | None = None
    version: int = 0
    # Why the return needs a person (a step parked out of retries, the receipt past its SLA);
    # the order shows it (domain.news.return_trouble).
    attention_reason: str | None = None
    parked: bool = False  # a step out of retries waits for ops' retry
    receipt_kept: bool = False  # the warehouse's receipt came before the return label was recorded
    closed_reason: str | None = None  # why a rejected return ended: "rejected" by ops, or "expired"


class Totals(BaseModel):
    """items - discounts + shipping = grand_total, what the payment authorizes."""

    items: Money
    discounts: Money = Decimal("0.00")  # taken off the items (a positive amount); 0 before issue 17
    shipping: Money
    refunded: Money = Decimal("0.00")
    grand_total: Money


class LinePrice(BaseModel):
    """What one order line cost the customer: its list value less its share of the discounts.
    Refunds of the line are paid from `paid`, never from the list price (domain.refunds)."""

    sku: str
    quantity: int
    unit_price: Money
    discount: Money = Decimal("0.00")
    paid: Money


class LineRefund(BaseModel):
    """What went back to the customer for one SKU of the order, in all its refunds for lines
    (returns, ops refunds by lines, parcels refunded, short picks): `amount` never passes what was
    paid for the SKU (domain.refunds.cap_line_refunds); `quantity`: the units those refunds were
    for, at most the line's. A goodwill refund (an amount alone) is for no line and is not here."""

    sku: str
    quantity: int = 0
    amount: Money = Decimal("0.00")


class PaymentView(BaseModel):
    status: PaymentStatus = PaymentStatus.PENDING
    method: PaymentMethod
    amount: Money
    payment_id: str | None = None
    # What was captured so far and what of the promise was voided (cash on delivery captures
    # parcel by parcel as each is delivered: domain/cod.py).
    captured: Money = Decimal("0.00")
    voided: Money = Decimal("0.00")


class Hold(BaseModel):
    reason: str
    since: datetime
    codes: list[HoldReason] = []
    info_requested: bool = False
    by: str | None = None  # who placed an ops hold (`hold` action); None for a verification hold


class TimelineEntry(BaseModel):
    at: datetime
    status: OrderStatus
    event: str
    actor: str
    detail: dict[str, Any] = {}


class ClaimRequest(BaseModel):
    """A customer's claim about a parcel; `lines` empty: all of the parcel's."""

    kind: ClaimKind
    shipment_id: str
    lines: list[ParcelLine] = []
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None
    actor: str = "client"


class ClaimView(BaseModel):
    claim_id: str
    kind: ClaimKind
    shipment_id: str
    lines: list[ParcelLine] = []
    status: ClaimStatus = ClaimStatus.OPEN
    comment: str | None = None
    opened_at: datetime
    closed_at: datetime | None = None
    note: str | None = None  # how it was answered (the ops note, the replacement parcel)
    # The return (RMA, resolution `claim`) the order opened for the wrong item once the claim was
    # made good: its label lets the customer send the wrong item back.
    rma_id: str | None = None


class MissingLine(BaseModel):
    """Units of an order line that no warehouse can ship now."""

    sku: str
    quantity: int


class BackorderAsk(BaseModel):
    """What a backordered order asks its customer (POST /orders/{id}/backorder-choice): what is
    missing, the choices, the substitutes on offer per missing SKU, and until when the question
    stands (then OrderPolicy.backorder_policy applies). `chosen`: the last choice taken (`wait`)."""

    missing: list[MissingLine]
    choices: list[BackorderChoiceKind]
    substitutes: dict[str, list[str]] = {}
    until: datetime
    chosen: BackorderChoiceKind | None = None


class ShortWait(BaseModel):
    """A short-picked parcel's missing lines, backordered until `until` (issue 17)."""

    shipment_id: str
    missing: list[ParcelLine]
    until: datetime


class OrderView(BaseModel):
    """The order as clients see it (POST/GET /orders) and as the projection stores it."""

    order_id: str
    status: OrderStatus
    needs_attention: bool = False
    attention_reason: str | None = None
    attention_since: datetime | None = None
    # What ops may do now (apply to POST /ops/orders/{id}/actions); empty when nothing waits on ops.
    available_actions: list[OpsActionKind] = []
    channel: Channel
    channel_order_id: str | None = None
    customer: Customer
    lines: list[OrderLine]
    currency: str
    totals: Totals
    # Per line, what was paid (domain.pricing.price_order); empty for an order from before issue
    # 17, whose lines were paid at their unit price.
    line_prices: list[LinePrice] = []
    # Per SKU, what refunds for lines paid back so far (domain.refunds.cap_line_refunds): kept by
    # SKU, so a repricing (an order edit) leaves it as it is; empty until the first such refund.
    refunded_lines: list[LineRefund] = []
    adjustments: list[PriceAdjustment] = []
    shipping_address: Address
    shipping_speed: ShippingSpeed
    priority: Priority
    payment: PaymentView
    shipments: list[ShipmentView] = []
    returns: list[ReturnView] = []
    claims: list[ClaimView] = []
    hold: Hold | None = None
    cancellation_reason: str | None = None
    # While `backordered` (orders backordered since backorder-choice-20261202): what the customer is asked.
    backorder: BackorderAsk | None = None
    # Short picks whose missing lines wait for stock (short-pick-wakes-on-receipt-20261202): a
    # receipt of one of their SKUs wakes the order (POST /warehouse/receipts).
    short_waits: list[ShortWait] = []
    created_at: datetime
    updated_at: datetime
    workflow_id: str
    timeline: list[TimelineEntry] = []
    version: int = 0


class BackorderChoice(BaseModel):
    """The customer's (or ops') answer to a BackorderAsk; `substitutes` maps a missing SKU to the
    listed substitute that takes its missing units (only with `substitute`)."""

    choice: BackorderChoiceKind
    substitutes: dict[str, str] = {}
    actor: str = "client"


class SubmitResult(BaseModel):
    """Answer of the submit update: `created` is true only for the first submission."""

    created: bool
    order: OrderView


class ParcelInstruction(BaseModel):
    """An ops action forwarded by the order to one parcel: retry a parked step, reroute a refused
    label to another carrier, or skip the pick wait (ops confirm the pick themselves)."""

    action: OpsActionKind
    carrier: str | None = None
    actor: str = "ops"


class ParcelHold(BaseModel):
    """The order's ops hold reaching a parcel: held, it is not picked or labelled; released, it goes
    on where it stopped."""

    held: bool
    actor: str = "ops"


class ParcelMove(BaseModel):
    """Ops moved a parcel not yet picked to another warehouse; its stock is already reserved there."""

    warehouse: str
    region: str = ""
    actor: str = "ops"


class ReservationMove(BaseModel):
    """Move a parcel's reservation (its lines under `reservation_key`) from one warehouse to another."""

    reservation_key: str
    lines: list[ParcelLine]
    from_warehouse: str
    to_warehouse: str


class CancelRequest(BaseModel):
    reason: Annotated[str, StringConstraints(max_length=500)] = "customer request"
    actor: str = "client"


class Problem(BaseModel):
    """One bad field of a request, named by its JSON path."""

    field: str
    message: str


def json_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a JSON path: ("lines", 0, "unit_price") -> lines[0].unit_price
    ("" for an empty location)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


class Notification(BaseModel):
    order_id: str
    kind: str
    recipient: str
    subject: str
    body: str
    dedupe_key: str
    language: str = "zh"


# --- Activity inputs: one small model per call, so activity signatures can grow compatibly. ---


class ReserveRequest(BaseModel):
    order_id: str
    lines: list[OrderLine]
    destination_region: str
    # Warehouses not to plan from (a short pick's warehouse: its shelf just came up short).
    avoid_warehouses: list[str] = []


class ShipStockRequest(BaseModel):
    order_id: str
    warehouse: str


class AuthorizeRequest(BaseModel):
    idempotency_key: str
    order_id: str
    amount: Money
    currency: str
    method: PaymentMethod
    token: str | None = None


class PaymentOperation(BaseModel):
    """Capture, void or refund of an authorized payment."""

    idempotency_key: str
    payment_id: str
    amount: Money = Decimal("0.00")


class QuoteRequest(BaseModel):
    origin_region: str
    destination: Address
    weight_grams: int
    speed: ShippingSpeed
    today: date


class TransitionRecord(BaseModel):
    """One transition of an order, as the projection activity writes it."""

    order: OrderView
    entry: TimelineEntry
    seq: int


class OpsAction(BaseModel):
    action: OpsActionKind
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    params: dict[str, Any] = {}
    actor: str = "ops"


class RecentOrdersQuery(BaseModel):
    customer_id: str
    since: datetime
    exclude_order_id: str


class AddressChange(BaseModel):
    address: Address
    actor: str = "client"


class StockArrival(BaseModel):
    """Stock of a SKU arrived at a warehouse: backordered orders try again, oldest first."""

    sku: str
    warehouse: str
    actor: str = "warehouse"


class AllocationAttempt(BaseModel):
    """Answer to StockArrival: whether this order could now reserve everything."""

    order_id: str
    reserved: bool
    status: OrderStatus


class ReturnRequest(BaseModel):
    lines: list[ParcelLine]
    reason: ReturnReason
    resolution: ReturnResolution = ReturnResolution.REFUND
    actor: str = "client"


class ReturnLine(BaseModel):
    sku: str
    quantity: int
    unit_price: Money
    warehouse: str
    region: str = ""
    # What the customer paid for these units (a discounted line); None: unit_price x quantity
    # (a return from before issue 17). Refunds never pass it (domain.returns.refund_due).
    paid: Money | None = None


class ReceivedLine(Strict):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=999)]
    condition: ItemCondition


class ReturnReceipt(BaseModel):
    lines: list[ReceivedLine]
    actor: str = "warehouse"


class ReturnInput(BaseModel):
    order_id: str
    rma_id: str
    lines: list[ReturnLine]
    reason: ReturnReason
    resolution: ReturnResolution
    customer_address: Address
    recipient: str
    language: str = "zh"
    auto_approve: bool = True
    activity_attempts: int = 12
    # Once the label is bought, the receipt is due within `receipt_sla` (the order's StepSlas.ret);
    # a return not received `expiry` after its request ends rejected ("expired"). None: no limit.
    receipt_sla: timedelta | None = None
    expiry: timedelta | None = None


class ReturnInstruction(BaseModel):
    """An ops action forwarded by the order to one return: retry its parked step."""

    action: OpsActionKind
    actor: str = "ops"


class ReturnDecision(BaseModel):
    approve: bool
    actor: str = "ops"
    note: str | None = None


class TakeBack(BaseModel):
    rma_id: str
    sku: str
    warehouse: str
    quantity: int
    resellable: bool


class ParcelBack(BaseModel):
    """A parcel the carrier returned to the sender, received back at the warehouse (issue 16)."""

    shipment_id: str
    lines: list[ReceivedLine]
    actor: str = "warehouse"


ReturnView.model_rebuild()
ShipmentView.model_rebuild()


# --- order edits (PATCH /orders/{id}/lines and /contact) -------------------------------------


class EditLine(Strict):
    """One line of an order's new set of lines: quantity 0 cancels the line."""

    sku: Sku
    quantity: Annotated[int, Field(ge=0, le=999)]


class LinesEdit(BaseModel):
    """The order's new set of lines (a line left out is cancelled), by whom."""

    lines: list[EditLine]
    actor: str = "client"


class ContactChange(BaseModel):
    email: str | None = None
    phone: str | None = None
    actor: str = "client"


class ReservationSwap(BaseModel):
    """Release the parcels' reservations (key, warehouse) and reserve `lines` under `key`, in
    one inventory transaction (an order edit)."""

    release: list[tuple[str, str]]
    key: str
    lines: list[OrderLine]
    destination_region: str
