"""Recording the committed workflow histories that the replay tests replay (docs/versioning.md).

`make histories` runs the integration tests named in PATHS with OMS_RECORD_HISTORIES=1; the
tests' conftest then adds `record_histories`, which after each of those tests saves, for each
workflow type the test started, the history with the most events to
`tests/histories/<path>.<WorkflowType>.json`. Histories are saved as Temporal stored them: their
payloads encrypted with the committed test key (tests/conftest.py TEST_CODEC_KEYS).

`python -m tests.histories.recording` prints the test ids, for the Makefile.
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHistory

HISTORIES_DIR = Path(__file__).parent
RECORD_ENV = "OMS_RECORD_HISTORIES"

# test id -> the path of the order lifecycle it drives (the file name prefix of its histories)
PATHS: dict[str, str] = {
    "tests/integration/test_order_lifecycle.py::test_order_goes_from_submission_to_closed": "happy-path-closed",
    "tests/integration/test_order_lifecycle.py::test_parcel_returned_to_sender_keeps_the_order_open_and_flagged":
        "returned-to-sender",
    "tests/integration/test_cancellation.py::test_cancel_while_waiting_for_the_pick_refunds_and_releases":
        "cancel-before-ship",
    "tests/integration/test_cancellation.py::test_cancel_after_the_label_voids_it": "cancel-after-label",
    "tests/integration/test_cancellation.py::test_cancelling_the_workflow_itself_runs_the_same_compensations":
        "workflow-cancelled",
    "tests/integration/test_cancellation.py::test_declined_payment_releases_stock_and_cancels": "payment-declined",
    "tests/integration/test_exceptions.py::test_high_value_order_is_held_listed_and_approved": "hold-approved",
    "tests/integration/test_exceptions.py::test_rejected_hold_cancels_without_charging": "hold-rejected",
    "tests/integration/test_exceptions.py::test_unanswered_hold_cancels_after_the_hold_timeout": "hold-timed-out",
    "tests/integration/test_exceptions.py::test_backordered_order_is_woken_by_a_receipt_first_come_first_served":
        "backorder-restocked",
    "tests/integration/test_exceptions.py::test_backorder_times_out_and_cancels": "backorder-timed-out",
    "tests/integration/test_exceptions.py::test_backorder_policy_ship_available_ships_what_is_there":
        "backorder-ship-available",
    "tests/integration/test_exceptions.py::test_undeliverable_postal_code_needs_attention_until_fixed_and_retried":
        "label-refused-fixed-retried",
    "tests/integration/test_exceptions.py::test_reroute_to_another_carrier": "rerouted",
    "tests/integration/test_exceptions.py::test_pick_past_its_sla_needs_attention_and_ops_can_skip_the_wait":
        "pick-sla-skipped",
    "tests/integration/test_exceptions.py::test_payment_out_of_retries_parks_until_ops_retry": "parked-retried",
    "tests/integration/test_exceptions.py::test_cancel_while_parked_voids_what_went_through": "parked-cancelled",
    "tests/integration/test_returns.py::test_resellable_return_is_refunded_and_restocked": "return-refunded",
    "tests/integration/test_returns.py::test_damaged_unit_is_written_off_and_shipping_refunded": "return-damaged",
    "tests/integration/test_returns.py::test_exchange_ships_a_replacement": "exchange",
    "tests/integration/test_returns.py::test_a_costly_return_waits_for_ops_approval": "return-ops-approved",
    "tests/integration/test_fulfilment.py::test_lines_in_two_warehouses_ship_as_two_parcels": "two-parcels",
    "tests/integration/test_fulfilment.py::test_lost_parcel_is_reshipped_with_stock_reserved_again": "lost-reshipped",
    "tests/integration/test_fulfilment.py::test_lost_parcel_without_stock_is_refunded": "lost-refunded",
    "tests/integration/test_fulfilment.py::test_delay_tells_the_customer_the_new_date": "carrier-delay",
    "tests/integration/test_fulfilment.py::test_a_lost_webhook_is_found_by_polling_the_carrier": "tracking-polled",
    "tests/integration/test_ops_api.py::test_address_changes_until_the_label_is_bought": "address-changed",
    "tests/integration/test_short_pick_http.py::test_a_short_pick_is_reallocated_to_the_other_warehouse":
        "short-pick-reallocated",
    "tests/integration/test_resolution.py::test_returned_to_sender_is_reshipped_by_ops_and_the_order_closes":
        "returned-to-sender-reshipped",
    "tests/integration/test_resolution.py::test_returned_to_sender_refunded_by_ops_closes_the_order":
        "returned-to-sender-refunded",
    "tests/integration/test_resolution.py::test_claims_over_http_reship_reject_and_refusals": "claims-answered",
    "tests/integration/test_ops_hold_move.py::test_a_held_order_is_not_picked_until_release_then_ships":
        "ops-held-released",
    "tests/integration/test_ops_hold_move.py::test_a_parcel_moves_to_a_warehouse_with_the_stock": "ops-moved",
    "tests/integration/test_cash_on_delivery_http.py::test_cod_reads_authorized_until_delivery_then_captured":
        "cod-captured-at-delivery",
    "tests/integration/test_channel_prices.py::test_a_return_of_a_discounted_line_refunds_what_was_paid":
        "discounted-return",
    "tests/integration/test_order_edits_http.py::test_lines_change_until_the_parcel_is_picked": "lines-edited",
    "tests/integration/test_order_edits_http.py::test_ops_lower_the_total_and_the_difference_is_refunded":
        "lines-reduced-cancelled",
}


def recorded_files() -> list[Path]:
    """What `make histories` records (and replaces)."""
    return sorted(HISTORIES_DIR.glob("*.json"))


def history_files() -> list[Path]:
    """Every history to replay: the recorded ones, and those kept from before a patch (kept/)."""
    return recorded_files() + sorted((HISTORIES_DIR / "kept").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    document = json.loads(path.read_text())
    return WorkflowHistory.from_json(document["workflow_id"], document["history"])


async def _histories_started_since(client: Client, since: datetime) -> dict[str, WorkflowHistory]:
    """workflow type -> the longest history among the workflows the test started: orders started
    since `since` and their children (a child that an earlier test's order starts late is not ours)."""
    query = f"StartTime >= '{since.isoformat().replace('+00:00', 'Z')}'"
    executions = [e async for e in client.list_workflows(query)]
    roots = {e.id for e in executions if e.parent_id is None}
    longest: dict[str, WorkflowHistory] = {}
    for execution in executions:
        if execution.parent_id is not None and execution.parent_id not in roots:
            continue
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        kind = execution.workflow_type
        if kind not in longest or len(history.events) > len(longest[kind].events):
            longest[kind] = history
    return longest


def _save(path_name: str, kind: str, history: WorkflowHistory) -> Path:
    document: dict[str, Any] = {
        "path": path_name,
        "workflow_type": kind,
        "workflow_id": history.workflow_id,
        "history": history.to_json_dict(),
    }
    target = HISTORIES_DIR / f"{path_name}.{kind}.json"
    target.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n")
    return target


@pytest_asyncio.fixture(autouse=True)
async def record_histories(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    path_name = PATHS.get(request.node.nodeid)
    if path_name is None:
        yield
        return
    client: Client = request.getfixturevalue("client")
    since = datetime.now(UTC)
    yield
    for old in HISTORIES_DIR.glob(f"{path_name}.*.json"):
        old.unlink()
    for kind, history in (await _histories_started_since(client, since)).items():
        _save(path_name, kind, history)


if __name__ == "__main__":
    print(" ".join(PATHS))
