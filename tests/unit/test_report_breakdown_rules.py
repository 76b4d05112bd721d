"""Issue 19's pure report rules: which parcel-log entries report a carrier issue (worded as
workflows/shipment.py writes them), how cancellation reasons are grouped, turns, and the CSV
tables' shape (a header, rows as wide as it, empty cells for undefined figures)."""

import pytest

from domain.reports import (
    REPORT_TABLES,
    InventoryFigures,
    Summary,
    cancellation_reason_key,
    carrier_issue,
    issue_counts,
    reason_counts,
    report_tables,
    turns,
)


@pytest.mark.parametrize(
    ("status", "event", "issue"),
    [
        ("exception", "carrier reports the parcel lost", "lost"),
        ("exception", "carrier reports the parcel damaged", "damaged"),
        ("exception", "failed delivery attempt 1 of 3", "failed_attempt"),
        ("returned_to_sender", "3 failed delivery attempts", "failed_attempt"),
        ("in_transit", "delayed, now due by 2026-12-05", "delayed"),
        ("exception", "carrier exception: customs hold", "customs hold"),
        ("exception", "carrier exception: ", "unspecified"),
        ("exception", "label refused: no such street", "label_refused"),
        ("exception", "held by ops", None),  # an entry while in exception that reports nothing new
        ("in_transit", "in_transit", None),
        ("returned_to_sender", "received back at the warehouse", None),
    ],
)
def test_carrier_issue_of_a_parcel_log_entry(status: str, event: str, issue: str | None) -> None:
    assert carrier_issue(status, event) == issue


def test_issue_and_reason_counts_fold_and_sort() -> None:
    assert issue_counts([
        ("exception", "failed delivery attempt 1 of 3", 4),
        ("exception", "failed delivery attempt 2 of 3", 2),
        ("exception", "held by ops", 9),
        ("exception", "carrier reports the parcel lost", 1),
    ]) == {"failed_attempt": 6, "lost": 1}
    assert cancellation_reason_key("rejected on review: fraud ring") == "rejected on review"
    assert cancellation_reason_key(None) == cancellation_reason_key("") == "unknown"
    assert reason_counts([("rejected on review: a", 1), ("rejected on review: b", 2), ("customer request", 1),
                          (None, 1)]) == {"customer request": 1, "rejected on review": 3, "unknown": 1}


def test_turns_are_undefined_without_stock() -> None:
    assert turns(6, 4.0) == 1.5
    assert turns(5, 3.0) == 1.6667
    assert turns(5, 0.0) is None and turns(0, None) is None


def test_every_table_has_a_header_and_rows_as_wide_as_it() -> None:
    summary = Summary(
        orders=0, by_status={}, by_channel={}, throughput_per_day={}, step_durations=[], sla_breach_rate=None,
        cancellation_rate=None, return_rate=None, refund_total=0, on_time_delivery_rate=None,
        inventory=InventoryFigures(),
    )
    tables = report_tables(summary)
    assert tuple(tables) == REPORT_TABLES
    for name, (header, rows) in tables.items():
        assert header and all(len(row) == len(header) for row in rows), name
    assert tables["rates"][1] == [("return_rate", ""), ("refund_return_rate", ""), ("exchange_rate", ""),
                                  ("cancellation_rate", "")]
    assert tables["inventory-turns"][1] == [("all", "0", "", "")]
    assert tables["parcel-steps"][1] == []


def test_the_wordings_read_are_the_ones_the_parcel_workflow_writes() -> None:
    """carrier_issue reads the parcel log's wording: a change of wording there must change it too."""
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "workflows" / "shipment.py").read_text(encoding="utf-8")
    for written in (
        'f"carrier reports the parcel {issue}"',
        'f"failed delivery attempt {self._view.failed_attempts} of {MAX_DELIVERY_ATTEMPTS}"',
        'f"{self._view.failed_attempts} failed delivery attempts"',
        'f"delayed, now due by {self._view.promised_by}"',
        "f\"carrier exception: {issue or 'unspecified'}\"",
        'f"label refused: {reason}"',
    ):
        assert written in source, written
