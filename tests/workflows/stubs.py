"""In-memory stand-ins for every activity the workflows call, registered under the real names.

`Stubs` is one object per test: a fake inventory (stock per warehouse, reservations by key), a
payment ledger (authorize, capture, void and refund, each idempotent by its key), carriers that
quote from the real rate cards and sell labels, a projection recorder that keeps what the
workflows write, and a notifier that collects messages. Each behaves like the real adapter where
the workflows can tell (idempotency, refusals as non-retryable ApplicationErrors named after
domain.errors, the ledger refusing to void a captured payment), so the workflows run unchanged.

`glitch(name, times, after_effect)` makes the next `times` calls of one activity fail with a
retryable error, optionally after the call took effect (the answer was lost on the way back:
the case the workflows' "in doubt" flags exist for).

The activities are `async def`, so the worker needs no thread pool, and the ones the workflows
run as local activities (catalog, recent orders, reservation, payment, projection writes, the
parcel's steps) are registered the same way: a worker runs local activities from its own list.
"""

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import refusals_as_application_errors
from domain.allocation import plan_parcels
from domain.carriers import RATE_CARDS
from domain.enums import PaymentStatus
from domain.errors import ActionNotApplicable, InvalidOrder, OutOfStock, PaymentDeclined
from domain.geography import region_of, zone_between
from domain.models import (
    Allocation,
    AuthorizeRequest,
    CatalogItem,
    Label,
    LabelRequest,
    Notification,
    Parcel,
    ParcelLine,
    PaymentOperation,
    PaymentResult,
    QuoteRequest,
    RateQuote,
    RecentOrdersQuery,
    ReservationMove,
    ReservationSwap,
    ReserveRequest,
    ShipmentView,
    ShipStockRequest,
    ShortPick,
    StockLevel,
    TakeBack,
    TrackingEvent,
    TrackingPoll,
    TransitionRecord,
    Warehouse,
)

T = TypeVar("T")

WAREHOUSES = [
    Warehouse(code="WH-EAST", name="East", region="east", priority=1),
    Warehouse(code="WH-WEST", name="West", region="west", priority=2),
]


@dataclass
class Reservation:
    warehouse: str
    sku: str
    quantity: int
    status: str = "reserved"  # reserved -> shipped | released


@dataclass
class Glitch:
    times: int
    after_effect: bool


@dataclass
class LedgerRow:
    operation: str  # authorize, capture, void, refund
    key: str
    payment_id: str
    amount: Decimal


@dataclass
class Stubs:
    catalog: dict[str, CatalogItem] = field(default_factory=dict)
    stock: dict[tuple[str, str], StockLevel] = field(default_factory=dict)  # (warehouse, sku)
    reservations: dict[str, list[Reservation]] = field(default_factory=dict)  # by reservation key
    taken_back: dict[tuple[str, str], int] = field(default_factory=dict)  # (rma, sku) -> units on hand
    short_picked: dict[tuple[str, str], int] = field(default_factory=dict)  # (shipment, sku) -> units written off
    payments: dict[str, PaymentResult] = field(default_factory=dict)  # by idempotency key
    ledger: list[LedgerRow] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (activity, why) of refused calls
    labels: dict[str, Label] = field(default_factory=dict)  # by idempotency key
    cancelled_labels: list[str] = field(default_factory=list)
    tracking: dict[str, list[TrackingEvent]] = field(default_factory=dict)  # what the carrier knows
    transitions: list[TransitionRecord] = field(default_factory=list)
    shipments: list[ShipmentView] = field(default_factory=list)
    notifications: dict[str, Notification] = field(default_factory=dict)  # by dedupe key
    recent_orders: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    glitches: dict[str, Glitch] = field(default_factory=dict)
    declining: bool = False  # every new authorization declines (an order edit's, say)

    # --- set-up and faults ----------------------------------------------------------------

    def add_item(self, sku: str, price: str = "99.00", **on_hand: int) -> None:
        """A catalog item with `on_hand` units per warehouse code (WH_EAST=5 -> WH-EAST)."""
        self.catalog[sku] = CatalogItem(sku=sku, name=f"item {sku}", price=Decimal(price), weight_grams=400)
        for code, units in on_hand.items():
            self.restock(code.replace("_", "-"), sku, units)

    def restock(self, warehouse: str, sku: str, units: int) -> None:
        level = self.stock.setdefault(
            (warehouse, sku), StockLevel(sku=sku, warehouse=warehouse, on_hand=0, reserved=0)
        )
        level.on_hand += units

    def glitch(self, name: str, times: int, *, after_effect: bool = False) -> None:
        """The next `times` calls of activity `name` fail with a retryable error; with
        `after_effect` each one takes effect first and only its answer is lost."""
        self.glitches[name] = Glitch(times, after_effect)

    def _call(self, name: str, effect: Callable[[], T]) -> T:
        self.calls[name] += 1
        glitch = self.glitches.get(name)
        if glitch is not None and glitch.times > 0:
            glitch.times -= 1
            if glitch.after_effect:
                effect()
            raise ApplicationError(f"{name}: the service timed out", type="TransientError")
        try:
            with refusals_as_application_errors():
                return effect()
        except ApplicationError as refusal:
            self.refused.append((name, refusal.type or ""))
            raise

    # --- what tests read ------------------------------------------------------------------

    def operations(self, operation: str | None = None) -> list[LedgerRow]:
        return [row for row in self.ledger if operation is None or row.operation == operation]

    def kinds(self, order_id: str) -> list[str]:
        """Kinds of the messages sent about an order, in the order they were sent."""
        return [n.kind for n in self.notifications.values() if n.order_id == order_id]

    def reserved(self, warehouse: str, sku: str) -> int:
        return self.stock[(warehouse, sku)].reserved

    def on_hand(self, warehouse: str, sku: str) -> int:
        return self.stock[(warehouse, sku)].on_hand

    def projected(self, order_id: str) -> list[TransitionRecord]:
        """The transitions of one order the projection received, by sequence number."""
        return sorted((r for r in self.transitions if r.order.order_id == order_id), key=lambda r: r.seq)

    # --- inventory ------------------------------------------------------------------------

    @activity.defn(name="load_catalog")
    async def load_catalog(self, skus: list[str]) -> list[CatalogItem]:
        return self._call("load_catalog", lambda: [self.catalog[s] for s in skus if s in self.catalog])

    @activity.defn(name="stock_levels")
    async def stock_levels(self, skus: list[str]) -> list[StockLevel]:
        return self._call(
            "stock_levels",
            lambda: [level.model_copy() for (_, sku), level in sorted(self.stock.items()) if sku in skus],
        )

    @activity.defn(name="reserve_stock")
    async def reserve_stock(self, request: ReserveRequest) -> Allocation:
        return self._call("reserve_stock", lambda: self._reserve(request))

    def _reserve(self, request: ReserveRequest) -> Allocation:
        held = [r for r in self.reservations.get(request.order_id, []) if r.status != "released"]
        if not held:
            levels = [
                level
                for level in self.stock.values()
                if level.sku in {line.sku for line in request.lines}
                and level.warehouse not in request.avoid_warehouses
            ]
            parcels = plan_parcels(request.lines, levels, WAREHOUSES, request.destination_region)
            if parcels is None:
                raise OutOfStock(f"not enough stock for {request.order_id}")
            held = [
                Reservation(parcel.warehouse, line.sku, line.quantity) for parcel in parcels for line in parcel.lines
            ]
            for reservation in held:
                self.stock[(reservation.warehouse, reservation.sku)].reserved += reservation.quantity
            self.reservations[request.order_id] = held
        regions = {w.code: w.region for w in WAREHOUSES}
        by_warehouse: dict[str, list[ParcelLine]] = {}
        for reservation in held:
            by_warehouse.setdefault(reservation.warehouse, []).append(
                ParcelLine(sku=reservation.sku, quantity=reservation.quantity)
            )
        return Allocation(
            order_id=request.order_id,
            parcels=[Parcel(warehouse=w, lines=lines, region=regions[w]) for w, lines in by_warehouse.items()],
        )

    @activity.defn(name="swap_reservations")
    async def swap_reservations(self, swap: ReservationSwap) -> Allocation:
        """As SqlInventory.swap_reservations: release and reserve in one step, or nothing."""

        def swap_them() -> Allocation:
            if [r for r in self.reservations.get(swap.key, []) if r.status != "released"]:
                return self._reserve(ReserveRequest(order_id=swap.key, lines=swap.lines, destination_region=""))
            released = [
                r
                for key, warehouse in swap.release
                for r in self.reservations.get(key, [])
                if r.warehouse == warehouse and r.status == "reserved"
            ]
            for r in released:
                self.stock[(r.warehouse, r.sku)].reserved -= r.quantity
            if not swap.lines:
                for r in released:
                    r.status = "released"
                return Allocation(order_id=swap.key, parcels=[])
            try:
                allocation = self._reserve(
                    ReserveRequest(order_id=swap.key, lines=swap.lines, destination_region=swap.destination_region)
                )
            except OutOfStock:
                for r in released:  # the transaction rolls back
                    self.stock[(r.warehouse, r.sku)].reserved += r.quantity
                raise
            for r in released:
                r.status = "released"
            return allocation

        return self._call("swap_reservations", swap_them)

    @activity.defn(name="release_stock")
    async def release_stock(self, order_id: str) -> int:
        return self._call("release_stock", lambda: self._move(order_id, None, "reserved", "released"))

    @activity.defn(name="ship_stock")
    async def ship_stock(self, request: ShipStockRequest) -> int:
        self._call("ship_stock", lambda: self._move(request.order_id, request.warehouse, "reserved", "shipped"))
        return sum(
            r.quantity
            for r in self.reservations.get(request.order_id, [])
            if r.warehouse == request.warehouse and r.status == "shipped"
        )

    @activity.defn(name="unship_stock")
    async def unship_stock(self, request: ShipStockRequest) -> int:
        return self._call(
            "unship_stock", lambda: self._move(request.order_id, request.warehouse, "shipped", "released")
        )

    def _move(self, key: str, warehouse: str | None, before: str, after: str) -> int:
        """Move a key's reservations from one state to the next; the units moved by this call."""
        units = 0
        for reservation in self.reservations.get(key, []):
            if reservation.status != before or warehouse not in (None, reservation.warehouse):
                continue
            level = self.stock[(reservation.warehouse, reservation.sku)]
            if (before, after) == ("reserved", "released"):
                level.reserved -= reservation.quantity
            elif (before, after) == ("reserved", "shipped"):
                level.reserved -= reservation.quantity
                level.on_hand -= reservation.quantity
            else:  # shipped -> released: back on the shelf
                level.on_hand += reservation.quantity
            reservation.status = after
            units += reservation.quantity
        return units

    @activity.defn(name="move_reservation")
    async def move_reservation(self, move: ReservationMove) -> Parcel:
        def move_it() -> Parcel:
            regions = {w.code: w.region for w in WAREHOUSES}
            if move.to_warehouse not in regions:
                raise ActionNotApplicable(f"warehouse {move.to_warehouse} is unknown or not active")
            moved = Parcel(warehouse=move.to_warehouse, lines=move.lines, region=regions[move.to_warehouse])
            held = self.reservations.get(move.reservation_key, [])
            skus = {line.sku for line in move.lines}
            here = [
                r for r in held if r.warehouse == move.from_warehouse and r.sku in skus and r.status == "reserved"
            ]
            if not here:
                return moved  # a repeat (the stub does not tell it from a shipped parcel)
            for r in here:
                level = self.stock.get((move.to_warehouse, r.sku))
                if level is None or level.on_hand - level.reserved - level.safety_stock < r.quantity:
                    raise OutOfStock(f"{move.to_warehouse} lacks {r.sku}")
            for r in here:
                self.stock[(move.to_warehouse, r.sku)].reserved += r.quantity
                self.stock[(r.warehouse, r.sku)].reserved -= r.quantity
                r.status = "released"
                held.append(Reservation(move.to_warehouse, r.sku, r.quantity))
            return moved

        return self._call("move_reservation", move_it)

    @activity.defn(name="short_pick_stock")
    async def short_pick_stock(self, short: ShortPick) -> int:
        """As the real adapter: released and written off the shelf, once per (shipment, sku)."""

        def write_off() -> int:
            units = 0
            for line in short.lines:
                if (short.shipment_id, line.sku) in self.short_picked:
                    continue
                for r in self.reservations.get(short.reservation_key, []):
                    if r.warehouse == short.warehouse and r.sku == line.sku and r.status == "reserved":
                        missing = min(line.quantity, r.quantity)
                        level = self.stock[(r.warehouse, r.sku)]
                        level.reserved -= missing
                        level.on_hand -= missing
                        if missing == r.quantity:
                            r.status = "released"
                        else:
                            r.quantity -= missing
                        self.short_picked[(short.shipment_id, line.sku)] = missing
                        units += missing
                        break
            return units

        return self._call("short_pick_stock", write_off)

    @activity.defn(name="take_back_stock")
    async def take_back_stock(self, request: TakeBack) -> int:
        def take_back() -> int:
            if (request.rma_id, request.sku) in self.taken_back:
                return 0
            units = request.quantity if request.resellable else 0
            self.taken_back[(request.rma_id, request.sku)] = units
            if units:
                self.restock(request.warehouse, request.sku, units)
            return units

        return self._call("take_back_stock", take_back)

    # --- payments -------------------------------------------------------------------------

    @activity.defn(name="authorize_payment")
    async def authorize_payment(self, request: AuthorizeRequest) -> PaymentResult:
        def authorize() -> PaymentResult:
            if request.idempotency_key not in self.payments:
                declined = request.token == "tok_decline" or self.declining
                self._write(
                    "authorize",
                    request.idempotency_key,
                    "pay_" + hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:12],
                    request.amount,
                    PaymentStatus.DECLINED if declined else PaymentStatus.AUTHORIZED,
                )
            stored = self.payments[request.idempotency_key]
            if stored.status is PaymentStatus.DECLINED:
                raise PaymentDeclined(f"payment {stored.payment_id} was declined by the issuer")
            return stored

        return self._call("authorize_payment", authorize)

    @activity.defn(name="capture_payment")
    async def capture_payment(self, operation: PaymentOperation) -> PaymentResult:
        def capture() -> PaymentResult:
            if operation.idempotency_key not in self.payments:
                if self._voided_whole(operation.payment_id):
                    raise InvalidOrder(f"payment {operation.payment_id} is voided")
                captured = self._total(operation.payment_id, "capture")
                if captured + operation.amount > self._total(operation.payment_id, "authorize"):
                    raise InvalidOrder(f"capture of {operation.amount} exceeds the authorization ({captured} captured)")
                self._write("capture", operation.idempotency_key, operation.payment_id, operation.amount)
            return self.payments[operation.idempotency_key]

        return self._call("capture_payment", capture)

    @activity.defn(name="void_payment")
    async def void_payment(self, operation: PaymentOperation) -> PaymentResult:
        def void() -> PaymentResult:
            if operation.idempotency_key not in self.payments:
                captured = self._total(operation.payment_id, "capture")
                if operation.amount > 0:  # a share of a cash-on-delivery promise, as the ledger does
                    if operation.amount > self._total(operation.payment_id, "authorize") - captured:
                        raise InvalidOrder(f"void of {operation.amount} exceeds what is left ({captured} captured)")
                elif captured:
                    raise InvalidOrder(f"payment {operation.payment_id} is captured; refund it instead of voiding")
                self._write("void", operation.idempotency_key, operation.payment_id, operation.amount)
            return self.payments[operation.idempotency_key]

        return self._call("void_payment", void)

    @activity.defn(name="refund_payment")
    async def refund_payment(self, operation: PaymentOperation) -> PaymentResult:
        def refund() -> PaymentResult:
            if operation.idempotency_key not in self.payments:
                left = self._total(operation.payment_id, "capture") - self._total(operation.payment_id, "refund")
                if operation.amount <= 0 or operation.amount > left:
                    raise InvalidOrder(f"refund of {operation.amount} exceeds what is left ({left})")
                self._write("refund", operation.idempotency_key, operation.payment_id, operation.amount)
            return self.payments[operation.idempotency_key]

        return self._call("refund_payment", refund)

    def _write(
        self, operation: str, key: str, payment_id: str, amount: Decimal, status: PaymentStatus | None = None
    ) -> None:
        statuses = {"capture": PaymentStatus.CAPTURED, "void": PaymentStatus.VOIDED, "refund": PaymentStatus.REFUNDED}
        self.ledger.append(LedgerRow(operation, key, payment_id, amount))
        self.payments[key] = PaymentResult(
            payment_id=payment_id, status=status or statuses[operation], amount=amount, idempotency_key=key
        )

    def _voided_whole(self, payment_id: str) -> bool:
        """A void without an amount (not a cash-on-delivery share) voids the whole authorization."""
        return any(r.payment_id == payment_id and r.operation == "void" and not r.amount for r in self.ledger)

    def _total(self, payment_id: str, operation: str) -> Decimal:
        return sum(
            (row.amount for row in self.ledger if row.payment_id == payment_id and row.operation == operation),
            Decimal("0.00"),
        )

    # --- carriers -------------------------------------------------------------------------

    @activity.defn(name="quote_rates")
    async def quote_rates(self, request: QuoteRequest) -> list[RateQuote]:
        def quote() -> list[RateQuote]:
            zone = zone_between(request.origin_region, region_of(request.destination.country, request.destination.region))
            quotes = [card.quote(request.speed, zone, request.weight_grams, request.today) for card in RATE_CARDS.values()]
            return sorted((q for q in quotes if q is not None), key=lambda q: (q.price, q.transit_days, q.carrier))

        return self._call("quote_rates", quote)

    @activity.defn(name="buy_label")
    async def buy_label(self, request: LabelRequest) -> Label:
        def buy() -> Label:
            key = request.idempotency_key
            if key not in self.labels:
                digest = hashlib.sha256(key.encode()).hexdigest()
                self.labels[key] = Label(
                    label_id=f"lbl_{digest[:12]}",
                    carrier=request.quote.carrier,
                    service=request.quote.service,
                    tracking_number=f"{request.quote.carrier[:2].upper()}{int(digest[:8], 16) % 10**10:010d}",
                    price=request.quote.price,
                    promised_by=request.quote.promised_by,
                )
            return self.labels[key]

        return self._call("buy_label", buy)

    @activity.defn(name="cancel_label")
    async def cancel_label(self, label_id: str) -> bool:
        def cancel() -> bool:
            if label_id not in self.cancelled_labels:
                self.cancelled_labels.append(label_id)
            return True

        return self._call("cancel_label", cancel)

    @activity.defn(name="poll_tracking")
    async def poll_tracking(self, request: TrackingPoll) -> list[TrackingEvent]:
        return self._call("poll_tracking", lambda: list(self.tracking.get(request.tracking_number, [])))

    # --- projection and notifications ------------------------------------------------------

    @activity.defn(name="record_transitions")
    async def record_transitions(self, records: list[TransitionRecord]) -> None:
        def record() -> None:
            known = {r.seq for r in self.transitions}
            self.transitions.extend(r for r in records if r.seq not in known)  # idempotent by seq

        self._call("record_transitions", record)

    @activity.defn(name="record_shipment")
    async def record_shipment(self, shipment: ShipmentView) -> None:
        self._call("record_shipment", lambda: self.shipments.append(shipment))

    @activity.defn(name="count_recent_orders")
    async def count_recent_orders(self, query: RecentOrdersQuery) -> int:
        return self._call("count_recent_orders", lambda: self.recent_orders)

    @activity.defn(name="send_notification")
    async def send_notification(self, notification: Notification) -> bool:
        def send() -> bool:
            if notification.dedupe_key in self.notifications:
                return False
            self.notifications[notification.dedupe_key] = notification
            return True

        return self._call("send_notification", send)

    def activities(self) -> list[Callable[..., Any]]:
        """Every activity, as worker.activities_for lists the real ones."""
        return [
            self.load_catalog,
            self.stock_levels,
            self.reserve_stock,
            self.release_stock,
            self.ship_stock,
            self.unship_stock,
            self.take_back_stock,
            self.move_reservation,
            self.swap_reservations,
            self.short_pick_stock,
            self.authorize_payment,
            self.capture_payment,
            self.void_payment,
            self.refund_payment,
            self.quote_rates,
            self.buy_label,
            self.cancel_label,
            self.poll_tracking,
            self.send_notification,
            self.record_transitions,
            self.record_shipment,
            self.count_recent_orders,
        ]

