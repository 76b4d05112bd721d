"""The report's flat form for spreadsheets: one (figure, key, value) row per number."""

from datetime import date
from decimal import Decimal

from domain.reports import StepDuration, Summary, summary_rows


def test_every_number_becomes_one_row_and_undefined_rates_are_empty() -> None:
    summary = Summary(
        orders=3,
        by_status={"delivered": 1, "cancelled": 2},
        by_channel={"web": 3},
        throughput_per_day={date(2026, 11, 26): 3},
        step_durations=[StepDuration(step="verifying", orders=3, p50_seconds=1.5, p95_seconds=2.25)],
        sla_breach_rate=0.0,
        cancellation_rate=0.6667,
        return_rate=None,
        refund_total=Decimal("10.00"),
        on_time_delivery_rate=1.0,
        average_rating=None,
        complaints={"open": 1, "resolved": 0},
        sla_breaches_per_day={},
    )
    assert summary_rows(summary) == [
        ("orders", "", "3"),
        ("by_status", "cancelled", "2"),
        ("by_status", "delivered", "1"),
        ("by_channel", "web", "3"),
        ("throughput_per_day", "2026-11-26", "3"),
        ("step_orders", "verifying", "3"),
        ("step_p50_seconds", "verifying", "1.5"),
        ("step_p95_seconds", "verifying", "2.25"),
        ("sla_breach_rate", "", "0.0"),
        ("cancellation_rate", "", "0.6667"),
        ("return_rate", "", ""),
        ("refund_total", "", "10.00"),
        ("on_time_delivery_rate", "", "1.0"),
        ("average_rating", "", ""),
        ("complaints", "open", "1"),
        ("complaints", "resolved", "0"),
        ("cash_on_delivery", "orders", "0"),
        ("cash_on_delivery", "collected", "0.00"),
        ("cash_on_delivery", "outstanding", "0.00"),
        ("cash_on_delivery", "voided", "0.00"),
        ("cash_on_delivery", "refunded", "0.00"),
    ]
