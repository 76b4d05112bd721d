"""The dashboard's figures from a report: lifecycle order in the funnel, a readable time unit,
an empty chart that says so, and the return rate in percent."""

from datetime import date
from decimal import Decimal

from api.console import charts
from domain.reports import StepDuration, Summary


def summary(**overrides: object) -> Summary:
    values: dict[str, object] = {
        "orders": 6,
        "by_status": {"cancelled": 1, "delivered": 2, "on_hold": 3},
        "by_channel": {"web": 6},
        "throughput_per_day": {date(2026, 3, 1): 6},
        "step_durations": [
            StepDuration(step="allocating", orders=4, p50_seconds=1800, p95_seconds=3 * 3600),
            StepDuration(step="picking", orders=2, p50_seconds=7200, p95_seconds=36000),
        ],
        "sla_breach_rate": 0.5,
        "cancellation_rate": 0.1667,
        "return_rate": 0.25,
        "refund_total": Decimal("10.00"),
        "on_time_delivery_rate": 1.0,
    }
    values.update(overrides)
    return Summary.model_validate(values)


def test_funnel_follows_the_lifecycle_not_the_alphabet() -> None:
    trace = charts.status_funnel(summary())["data"][0]
    assert trace["type"] == "funnel"
    assert trace["y"] == ["on_hold", "delivered", "cancelled"]
    assert trace["x"] == [3, 2, 1]


def test_step_durations_in_hours_when_the_longest_is_hours() -> None:
    figure = charts.step_durations(summary())
    p50, p95 = figure["data"]
    assert (p50["name"], p95["name"]) == ("p50", "p95")
    assert p50["y"] == [0.5, 2.0] and p95["y"] == [3.0, 10.0]
    assert figure["layout"]["yaxis"]["title"]["text"] == "hours"
    short = charts.step_durations(
        summary(step_durations=[StepDuration(step="verifying", orders=1, p50_seconds=3, p95_seconds=90)])
    )
    assert short["layout"]["yaxis"]["title"]["text"] == "seconds"


def test_sla_breaches_per_day_and_the_empty_chart() -> None:
    figure = charts.sla_breaches({date(2026, 3, 1): 2, date(2026, 3, 3): 5})
    assert figure["data"][0]["x"] == ["2026-03-01", "2026-03-03"]
    assert figure["data"][0]["y"] == [2, 5]
    assert "annotations" not in figure["layout"]
    empty = charts.sla_breaches({})
    assert empty["layout"]["annotations"][0]["text"] == "no SLA breached in this period"


def test_return_rate_gauge_in_percent() -> None:
    assert charts.return_rate(summary())["data"][0]["value"] == 25.0
    nothing = charts.return_rate(summary(return_rate=None))
    assert nothing["data"][0]["value"] == 0
    assert "nothing delivered" in nothing["layout"]["title"]["text"]


def test_the_dashboard_has_its_four_charts_first() -> None:
    # Issue 19's breakdowns follow them (tests/unit/test_breakdown_charts.py).
    assert list(charts.dashboard_charts(summary()))[:4] == [
        "chart-funnel",
        "chart-steps",
        "chart-sla",
        "chart-returns",
    ]
