"""SqlInventory and store.catalog as one state machine, against the real PostgreSQL.

Random sequences of reservations, releases, shipments, restocks of cancelled labels, receipts,
counts and threshold changes; after every step the database must agree with a simple model and
with the inventory invariants: stock never negative, reserved within on_hand and equal to the
open reservation rows, every unit accounted for, low-stock alerts exactly once per crossing.
Each example gets SKUs of its own, so examples never see each other's stock.
"""

import os
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from domain.errors import InvalidOrder, OutOfStock
from domain.models import CatalogItem, OrderLine
from store.catalog import receive_stock, record_count, set_stock_level, upsert_catalog_item
from store.models import NotificationOutboxRow, ReservationRow, StockLevelRow

SF = sessionmaker[Session]
WAREHOUSES = ("WH-EAST", "WH-WEST")
Key = tuple[str, str]  # (sku, warehouse)


@dataclass
class Held:
    quantity: int
    status: str  # reserved | shipped | released


class InventoryMachine(RuleBasedStateMachine):
    sf: SF  # set by the test

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        tag = uuid.uuid4().hex[:8].upper()
        self.tag = tag
        self.skus = [f"SKU-SM-{tag}-{i}" for i in range(2)]
        self.keys: list[Key] = [(sku, wh) for sku in self.skus for wh in WAREHOUSES]
        self.inventory = SqlInventory(self.sf)
        self.next_order = 0
        # The model: every unit's history per level, and every reservation row of this example.
        self.initial: dict[Key, int] = {}
        self.received: dict[Key, int] = defaultdict(int)
        self.count_delta: dict[Key, int] = defaultdict(int)
        self.shipped: dict[Key, int] = defaultdict(int)
        self.unshipped: dict[Key, int] = defaultdict(int)
        self.safety: dict[Key, int] = {}
        self.reorder: dict[Key, int] = {}
        # order key -> (sku, warehouse) -> [quantity, status]
        self.reservations: dict[str, dict[Key, Held]] = defaultdict(dict)

    # --- model helpers ---

    def on_hand(self, key: Key) -> int:
        return (
            self.initial[key]
            + self.received[key]
            + self.count_delta[key]
            - self.shipped[key]
            + self.unshipped[key]
        )

    def reserved(self, key: Key) -> int:
        return sum(
            held.quantity
            for rows in self.reservations.values()
            for k, held in rows.items()
            if k == key and held.status == "reserved"
        )

    def available(self, key: Key) -> int:
        return self.on_hand(key) - self.reserved(key) - self.safety[key]

    # --- rules ---

    @initialize(
        levels=st.lists(
            st.tuples(st.integers(0, 15), st.integers(0, 2), st.integers(0, 4)),
            min_size=4,
            max_size=4,
        )
    )
    def stock_up(self, levels: list[tuple[int, int, int]]) -> None:
        for sku in self.skus:
            upsert_catalog_item(self.sf, CatalogItem(sku=sku, name=sku, price=Decimal("10.00")))
        for key, (on_hand, safety, reorder) in zip(self.keys, levels, strict=True):
            set_stock_level(self.sf, *key, on_hand, safety, reorder, "hypothesis")
            self.initial[key], self.safety[key], self.reorder[key] = on_hand, safety, reorder

    def _reserve(self, order: str, quantities: dict[str, int], region: str) -> None:
        lines = [
            OrderLine(sku=sku, quantity=q, unit_price=Decimal("10.00"))
            for sku, q in sorted(quantities.items())
        ]
        held = {k: v for k, v in self.reservations[order].items() if v.status != "released"}
        before = {key: self.available(key) for key in self.keys}
        try:
            allocation = self.inventory.reserve(order, lines, region)
        except OutOfStock:
            assert not held, "an order holding stock is answered with what it holds"
            # Refused only when some line fits in no single warehouse.
            assert any(
                all(before[(sku, wh)] < q for wh in WAREHOUSES) for sku, q in quantities.items()
            )
            return
        got = {(pl.sku, p.warehouse): pl.quantity for p in allocation.parcels for pl in p.lines}
        if held:  # idempotent: the reservations already held, nothing new taken
            assert got == {k: v.quantity for k, v in held.items()}
            return
        assert {sku for sku, _ in got} == set(quantities)
        for key, q in got.items():
            assert q == quantities[key[0]]
            assert q <= before[key], "safety stock or someone else's stock was promised"
            self.reservations[order][key] = Held(q, "reserved")

    @rule(
        target=orders,
        quantities=st.dictionaries(st.integers(0, 1), st.integers(1, 5), min_size=1, max_size=2),
        region=st.sampled_from(["east", "west"]),
        suffix=st.sampled_from(["", "", "#reship1"]),
    )
    def reserve(self, quantities: dict[int, int], region: str, suffix: str) -> str:
        self.next_order += 1
        order = f"SM-{self.tag}-{self.next_order}{suffix}"
        self._reserve(order, {self.skus[i]: q for i, q in quantities.items()}, region)
        return order

    @rule(
        order=orders,
        quantities=st.dictionaries(st.integers(0, 1), st.integers(1, 5), min_size=1, max_size=2),
        region=st.sampled_from(["east", "west"]),
    )
    def reserve_again(self, order: str, quantities: dict[int, int], region: str) -> None:
        self._reserve(order, {self.skus[i]: q for i, q in quantities.items()}, region)

    @rule(order=orders)
    def release(self, order: str) -> None:
        expected = 0
        for held in self.reservations[order].values():
            if held.status == "reserved":
                expected += held.quantity
                held.status = "released"
        assert self.inventory.release(order) == expected

    @rule(order=orders, warehouse=st.sampled_from(WAREHOUSES))
    def ship(self, order: str, warehouse: str) -> None:
        total = 0
        for key, held in self.reservations[order].items():
            if key[1] != warehouse or held.status == "released":
                continue
            total += held.quantity
            if held.status == "reserved":
                held.status = "shipped"
                self.shipped[key] += held.quantity
        assert self.inventory.ship(order, warehouse) == total

    @rule(order=orders, warehouse=st.sampled_from(WAREHOUSES))
    def unship(self, order: str, warehouse: str) -> None:
        moved = 0
        for key, held in self.reservations[order].items():
            if key[1] == warehouse and held.status == "shipped":
                moved += held.quantity
                held.status = "released"
                self.unshipped[key] += held.quantity
        assert self.inventory.unship(order, warehouse) == moved

    @rule(index=st.integers(0, 3), quantity=st.integers(1, 10))
    def receive(self, index: int, quantity: int) -> None:
        key = self.keys[index]
        level = receive_stock(self.sf, *key, quantity, "dock")
        self.received[key] += quantity
        assert level.on_hand == self.on_hand(key)

    @rule(index=st.integers(0, 3), counted=st.integers(0, 20))
    def count(self, index: int, counted: int) -> None:
        key = self.keys[index]
        if counted < self.reserved(key):
            try:
                record_count(self.sf, *key, counted, "counter")
            except InvalidOrder:
                return
            raise AssertionError("a count below the reserved units was accepted")
        level, discrepancy = record_count(self.sf, *key, counted, "counter")
        assert discrepancy == counted - self.on_hand(key)
        self.count_delta[key] += discrepancy
        assert level.on_hand == counted == self.on_hand(key)

    @rule(index=st.integers(0, 3), safety=st.integers(0, 3), reorder=st.integers(0, 5))
    def thresholds(self, index: int, safety: int, reorder: int) -> None:
        key = self.keys[index]
        set_stock_level(self.sf, *key, self.on_hand(key), safety, reorder, "ops")
        self.safety[key], self.reorder[key] = safety, reorder

    # --- invariants, read from the database ---

    @invariant()
    def database_agrees(self) -> None:
        if not self.initial:
            return
        with self.sf() as s:
            levels = {
                (row.sku, row.warehouse): row
                for row in s.scalars(select(StockLevelRow).where(StockLevelRow.sku.in_(self.skus)))
            }
            held = {
                (sku, wh): int(total)
                for sku, wh, total in s.execute(
                    select(ReservationRow.sku, ReservationRow.warehouse, func.sum(ReservationRow.quantity))
                    .where(ReservationRow.sku.in_(self.skus), ReservationRow.status == "reserved")
                    .group_by(ReservationRow.sku, ReservationRow.warehouse)
                )
            }
            statuses = {
                (row.order_id, row.sku, row.warehouse): (row.quantity, row.status)
                for row in s.scalars(select(ReservationRow).where(ReservationRow.sku.in_(self.skus)))
            }
            outbox = dict(
                s.execute(
                    select(NotificationOutboxRow.dedupe_key, NotificationOutboxRow.kind).where(
                        NotificationOutboxRow.dedupe_key.like(f"lowstock:SKU-SM-{self.tag}-%")
                    )
                ).all()
            )
        assert set(levels) == set(self.keys)
        for key, row in levels.items():
            assert row.on_hand >= 0
            assert 0 <= row.reserved <= row.on_hand
            assert row.reserved == held.get(key, 0), f"{key}: reserved != open reservation rows"
            assert row.on_hand == self.on_hand(key), f"{key}: units appeared or vanished"
            assert row.reserved == self.reserved(key)
            assert (row.safety_stock, row.reorder_point) == (self.safety[key], self.reorder[key])
            # Alerts: armed exactly while low, one outbox row per crossing.
            low = row.on_hand - row.reserved - row.safety_stock <= row.reorder_point
            assert row.low_stock_alerted == low, f"{key}: alert flag {row.low_stock_alerted}, low {low}"
            keys = {f"lowstock:{key[0]}:{key[1]}:{n}" for n in range(1, row.low_stock_crossings + 1)}
            assert {k for k in outbox if k.startswith(f"lowstock:{key[0]}:{key[1]}:")} == keys
        assert set(outbox.values()) <= {"low_stock"}
        model = {
            (order, sku, wh): (held.quantity, held.status)
            for order, rows in self.reservations.items()
            for (sku, wh), held in rows.items()
        }
        assert statuses == model


def test_inventory_state_machine(session_factory: SF) -> None:
    machine = type("BoundInventoryMachine", (InventoryMachine,), {"sf": session_factory})
    run_state_machine_as_test(
        machine,
        settings=settings(
            # SM_EXAMPLES=500 for a deeper run by hand; 30 keeps `make test` fast.
            max_examples=int(os.environ.get("SM_EXAMPLES", "30")),
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
