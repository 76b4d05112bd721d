"""The inventory state machine (test_inventory_state_machine.py) with transfers between the
warehouses in its mix (issue 19), against the real PostgreSQL: after every step the database
agrees with the model (never negative, reserved equal to the open reservations, one low-stock
alert per crossing), a transfer never takes reserved units, and every unit on hand is accounted
for by the audit rows (the sum of `delta_on_hand` per level is its on_hand)."""

import os
from collections import defaultdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from store.models import StockAdjustmentRow
from store.transfers import NotEnoughUnreserved, TransferRequest, transfer_stock
from tests.adapters.test_inventory_state_machine import SF, WAREHOUSES, InventoryMachine, Key

MADE: list[int] = []  # transfers made over the whole run (the run must exercise some)


class TransferMachine(InventoryMachine):
    def __init__(self) -> None:
        super().__init__()
        self.moved: dict[Key, int] = defaultdict(int)
        self.transfers = 0

    def on_hand(self, key: Key) -> int:
        return super().on_hand(key) + self.moved[key]

    @rule(sku=st.integers(0, 1), eastward=st.booleans(), quantity=st.integers(1, 12))
    def transfer(self, sku: int, eastward: bool, quantity: int) -> None:
        source_wh, destination_wh = WAREHOUSES[::-1] if eastward else WAREHOUSES
        source, destination = (self.skus[sku], source_wh), (self.skus[sku], destination_wh)
        unreserved = self.on_hand(source) - self.reserved(source)
        self.transfers += 1
        request = TransferRequest(
            sku=self.skus[sku], from_warehouse=source_wh, to_warehouse=destination_wh, quantity=quantity,
            note=None, actor="hypothesis", idempotency_key=f"{self.tag}-{self.transfers}", request_hash="h",
        )
        if quantity > unreserved:
            try:
                transfer_stock(self.sf, request)
            except NotEnoughUnreserved as short:
                assert (short.unreserved, short.requested) == (unreserved, quantity)
                return
            raise AssertionError(f"a transfer of {quantity} with {unreserved} unreserved was accepted")
        result, created = transfer_stock(self.sf, request)
        assert created
        MADE.append(quantity)
        self.moved[source] -= quantity
        self.moved[destination] += quantity
        assert result["source"]["on_hand"] == self.on_hand(source)
        assert result["destination"]["on_hand"] == self.on_hand(destination)
        again, created = transfer_stock(self.sf, request)  # the same key: the first answer, nothing moves
        assert not created and again == result

    @invariant()
    def every_unit_is_audited(self) -> None:
        if not self.initial:
            return
        with self.sf() as s:
            audited = {
                (sku, wh): int(total)
                for sku, wh, total in s.execute(
                    select(StockAdjustmentRow.sku, StockAdjustmentRow.warehouse, func.sum(StockAdjustmentRow.delta_on_hand))
                    .where(StockAdjustmentRow.sku.in_(self.skus))
                    .group_by(StockAdjustmentRow.sku, StockAdjustmentRow.warehouse)
                )
            }
        assert {key: audited.get(key, 0) for key in self.keys} == {key: self.on_hand(key) for key in self.keys}


def test_inventory_with_transfers_state_machine(session_factory: SF) -> None:
    machine = type("BoundTransferMachine", (TransferMachine,), {"sf": session_factory})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=int(os.environ.get("SM_EXAMPLES", "25")),
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    assert len(MADE) >= 5, f"only {len(MADE)} transfers were made: the run did not exercise them"
