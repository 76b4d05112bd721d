"""The state machines (domain/lifecycle.py ORDER_MOVES, SHIPMENT_MOVES, RETURN_MOVES) and the
doors that check them.

- Each table covers its whole status enum; the statuses with no move out are exactly the ends.
- Every status is reachable from the first; from every status that is not an end, an end is.
- `check_move` allows exactly the table's moves (and staying put), and raises IllegalTransition,
  which is not a Temporal failure, so a workflow raising it fails its task, not itself.
- The doors use the tables: a committed history whose moves the table no longer allows fails
  to replay, for each of the three workflows.
"""

from collections.abc import Mapping
from enum import StrEnum
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.exceptions import FailureError
from temporalio.worker import Replayer

from domain.enums import OrderStatus, ReturnStatus, ShipmentStatus
from domain.lifecycle import (
    FULFILMENT_STATUSES,
    ORDER_MOVES,
    RETURN_MOVES,
    SHIPMENT_MOVES,
    IllegalTransition,
    check_move,
)
from tests.conftest import TEST_DATA_CONVERTER
from tests.histories.recording import HISTORIES_DIR, load
from worker import WORKFLOWS, sandbox_runner

TABLES: list[tuple[Mapping[StrEnum, frozenset[StrEnum]], type[StrEnum], StrEnum, set[StrEnum]]] = [
    (ORDER_MOVES, OrderStatus, OrderStatus.RECEIVED, {OrderStatus.CLOSED, OrderStatus.CANCELLED}),  # type: ignore[list-item]
    (
        SHIPMENT_MOVES,  # type: ignore[list-item]
        ShipmentStatus,
        ShipmentStatus.PENDING,
        {ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED_TO_SENDER, ShipmentStatus.CANCELLED},
    ),
    (RETURN_MOVES, ReturnStatus, ReturnStatus.REQUESTED, {ReturnStatus.REFUNDED, ReturnStatus.REJECTED}),  # type: ignore[list-item]
]


def _reachable(moves: Mapping[StrEnum, frozenset[StrEnum]], start: StrEnum) -> set[StrEnum]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in moves[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize(("moves", "kind", "start", "ends"), TABLES)
def test_each_table_covers_its_statuses_and_only_the_ends_have_no_move_out(
    moves: Mapping[StrEnum, frozenset[StrEnum]], kind: type[StrEnum], start: StrEnum, ends: set[StrEnum]
) -> None:
    assert set(moves) == set(kind)
    assert all(targets <= set(kind) for targets in moves.values())
    assert {status for status, targets in moves.items() if not targets} == ends
    assert all(status not in targets for status, targets in moves.items()), "staying put is no move"


def test_the_order_ends_are_its_terminal_statuses() -> None:
    assert {s for s in OrderStatus if s.terminal} == {s for s, targets in ORDER_MOVES.items() if not targets}


@pytest.mark.parametrize(("moves", "kind", "start", "ends"), TABLES)
def test_every_status_is_reachable_and_every_status_can_still_end(
    moves: Mapping[StrEnum, frozenset[StrEnum]], kind: type[StrEnum], start: StrEnum, ends: set[StrEnum]
) -> None:
    assert _reachable(moves, start) == set(kind)
    for status in kind:
        assert _reachable(moves, status) & ends, f"{status} cannot end"


def test_an_order_can_be_cancelled_from_every_status_that_is_not_an_end() -> None:
    # The API refuses once a parcel is handed over; a workflow cancellation (Temporal UI) does not.
    for status, targets in ORDER_MOVES.items():
        assert (OrderStatus.CANCELLED in targets) == (not status.terminal)


def test_the_parcels_may_move_the_order_between_any_two_fulfilment_statuses() -> None:
    for status in FULFILMENT_STATUSES:
        assert FULFILMENT_STATUSES - {status} <= ORDER_MOVES[status]


def test_the_designed_paths_are_allowed() -> None:
    paths = [
        # Happy path with a return, and a hold and a backorder on the way.
        [
            OrderStatus.RECEIVED,
            OrderStatus.VERIFYING,
            OrderStatus.ON_HOLD,
            OrderStatus.ALLOCATING,
            OrderStatus.BACKORDERED,
            OrderStatus.ALLOCATING,
            OrderStatus.PAYMENT_PENDING,
            OrderStatus.FULFILLING,
            OrderStatus.PARTIALLY_SHIPPED,
            OrderStatus.SHIPPED,
            OrderStatus.PARTIALLY_DELIVERED,
            OrderStatus.DELIVERED,
            OrderStatus.RETURNING,
            OrderStatus.DELIVERED,
            OrderStatus.CLOSED,
        ],
        # Every parcel lost and refunded.
        [OrderStatus.PAYMENT_PENDING, OrderStatus.FULFILLING, OrderStatus.SHIPPED, OrderStatus.FULFILLING, OrderStatus.CLOSED],
    ]
    for path in paths:
        for current, new in pairwise(path):
            check_move(ORDER_MOVES, current, new, "order")
    parcel = [
        ShipmentStatus.PENDING,
        ShipmentStatus.PICKING,
        ShipmentStatus.PACKED,
        ShipmentStatus.EXCEPTION,  # label refused
        ShipmentStatus.PACKED,  # ops retried
        ShipmentStatus.LABEL_CREATED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.EXCEPTION,  # failed attempt
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
    ]
    for current, new in pairwise(parcel):
        check_move(SHIPMENT_MOVES, current, new, "parcel")


@pytest.mark.parametrize(
    ("moves", "current", "new"),
    [
        (ORDER_MOVES, OrderStatus.CLOSED, OrderStatus.DELIVERED),
        (ORDER_MOVES, OrderStatus.CANCELLED, OrderStatus.FULFILLING),
        (ORDER_MOVES, OrderStatus.RECEIVED, OrderStatus.FULFILLING),  # no skipping payment
        (ORDER_MOVES, OrderStatus.FULFILLING, OrderStatus.PAYMENT_PENDING),
        (SHIPMENT_MOVES, ShipmentStatus.IN_TRANSIT, ShipmentStatus.CANCELLED),  # with the carrier
        (SHIPMENT_MOVES, ShipmentStatus.DELIVERED, ShipmentStatus.IN_TRANSIT),
        (RETURN_MOVES, ReturnStatus.REJECTED, ReturnStatus.APPROVED),
        (RETURN_MOVES, ReturnStatus.REQUESTED, ReturnStatus.REFUNDED),
    ],
)
def test_moves_not_in_the_table_are_refused(
    moves: Mapping[StrEnum, frozenset[StrEnum]], current: StrEnum, new: StrEnum
) -> None:
    with pytest.raises(IllegalTransition, match=f"{current.value} -> {new.value}"):
        check_move(moves, current, new, "x")


def test_an_illegal_move_fails_the_workflow_task_not_the_workflow() -> None:
    # Temporal fails a workflow only for FailureErrors (ApplicationError, ...); anything else
    # fails the task, which is retried and shown, so the order waits for a fix.
    assert not issubclass(IllegalTransition, FailureError)


@st.composite
def _pair(draw: st.DrawFn) -> tuple[Mapping[StrEnum, frozenset[StrEnum]], StrEnum, StrEnum]:
    moves, kind, _, _ = draw(st.sampled_from(TABLES))
    return moves, draw(st.sampled_from(list(kind))), draw(st.sampled_from(list(kind)))


@given(_pair())
def test_check_move_allows_exactly_the_table_and_staying_put(
    pair: tuple[Mapping[StrEnum, frozenset[StrEnum]], StrEnum, StrEnum],
) -> None:
    moves, current, new = pair
    allowed = new is current or new in moves[current]
    try:
        check_move(moves, current, new, "x")
    except IllegalTransition:
        assert not allowed
    else:
        assert allowed


@given(table=st.sampled_from(TABLES), choices=st.lists(st.integers(0, 1000), max_size=60))
def test_random_walks_stay_in_the_table_and_stop_only_at_an_end(
    table: tuple[Mapping[StrEnum, frozenset[StrEnum]], type[StrEnum], StrEnum, set[StrEnum]], choices: list[int]
) -> None:
    moves, _, status, ends = table
    for choice in choices:
        targets = sorted(moves[status])
        if not targets:
            assert status in ends
            break
        new = targets[choice % len(targets)]
        check_move(moves, status, new, "walk")
        status = new
    # Wherever the walk stopped, an end is still reachable (nothing gets stuck for good).
    assert _reachable(moves, status) & ends


@pytest.mark.parametrize(
    ("history", "moves", "status", "removed"),
    [
        ("happy-path-closed.OrderWorkflow.json", ORDER_MOVES, OrderStatus.PAYMENT_PENDING, OrderStatus.FULFILLING),
        (
            "happy-path-closed.ShipmentWorkflow.json",
            SHIPMENT_MOVES,
            ShipmentStatus.PACKED,
            ShipmentStatus.LABEL_CREATED,
        ),
        ("return-refunded.ReturnWorkflow.json", RETURN_MOVES, ReturnStatus.RECEIVED, ReturnStatus.INSPECTED),
    ],
)
async def test_each_workflow_door_checks_its_table(
    monkeypatch: pytest.MonkeyPatch,
    history: str,
    moves: dict[StrEnum, frozenset[StrEnum]],
    status: StrEnum,
    removed: StrEnum,
) -> None:
    """A committed history replays with the table as it is (test_replay.py), and stops replaying
    once the table no longer allows one of its moves: the door refused it. The sandbox passes
    domain/ through, so the workflows see the changed table."""
    recorded = load(HISTORIES_DIR / history)
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=TEST_DATA_CONVERTER, workflow_runner=sandbox_runner())
    monkeypatch.setitem(moves, status, moves[status] - {removed})
    result = await replayer.replay_workflow(recorded, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "IllegalTransition" in str(result.replay_failure) or "IllegalTransition" in repr(result.replay_failure)
