"""Issue 19's dashboard figures: parcel steps in a readable unit, breakdown bars in the report's
order, reasons ranked, exchanges apart from refund returns, turns and stock-outs, empty charts
that say so; every chart of the dashboard in page order."""

from datetime import date
from decimal import Decimal

from api.console import charts
from domain.reports import (
    ChannelBreakdown,
    InventoryFigures,
    ParcelBreakdown,
    ParcelStep,
    StockOut,
    Summary,
    WarehouseTurns,
)


def summary(**overrides: object) -> Summary:
    values: dict[str, object] = {
        "orders": 4,
        "by_status": {"delivered": 4},
        "by_channel": {"web": 4},
        "throughput_per_day": {date(2026, 3, 1): 4},
        "step_durations": [],
        "sla_breach_rate": 0.0,
        "cancellation_rate": 0.25,
        "return_rate": 0.5,
        "refund_return_rate": 0.25,
        "exchange_rate": 0.25,
        "refund_total": Decimal("0.00"),
        "on_time_delivery_rate": None,
        "parcel_steps": [
            ParcelStep(step="pick", parcels=2, p50_seconds=1800, p90_seconds=7200, mean_seconds=3600),
            ParcelStep(step="transit", parcels=1, p50_seconds=36000, p90_seconds=36000, mean_seconds=36000),
        ],
        "parcel_steps_by_warehouse": {
            "WH-EAST": [ParcelStep(step="pick", parcels=1, p50_seconds=7200, p90_seconds=7200, mean_seconds=7200)],
            "WH-WEST": [ParcelStep(step="pick", parcels=1, p50_seconds=3600, p90_seconds=3600, mean_seconds=3600)],
        },
        "by_warehouse": [ParcelBreakdown(key="WH-EAST", parcels=3, delivered=2, cancelled=0, exceptions=1)],
        "by_carrier": [],
        "channels": [ChannelBreakdown(channel="web", orders=4, cancelled=1, reached_delivery=2, returned=1,
                                      refund_returns=1, exchanges=1)],
        "cancellations_by_reason": {"customer request": 1, "payment declined": 3},
        "carrier_exceptions_by_issue": {"lost": 1},
        "inventory": InventoryFigures(
            units_shipped=6, average_on_hand=3.0, turns=2.0,
            by_warehouse=[WarehouseTurns(warehouse="WH-EAST", units_shipped=6, average_on_hand=3.0, turns=2.0),
                          WarehouseTurns(warehouse="WH-WEST", units_shipped=0, average_on_hand=0.0, turns=None)],
            stock_outs=[StockOut(sku="A", warehouse="WH-EAST", available_now=0, out_now=True, times=2,
                                 seconds_out=7200.0),
                        StockOut(sku="B", warehouse="WH-EAST", available_now=4, out_now=False, times=1,
                                 seconds_out=3600.0)],
        ),
    }
    values.update(overrides)
    return Summary.model_validate(values)


def test_parcel_steps_in_hours_with_p50_p90_and_mean() -> None:
    figure = charts.parcel_steps(summary())
    assert [trace["name"] for trace in figure["data"]] == ["p50", "p90", "mean"]
    assert figure["data"][0]["x"] == ["pick", "transit"]
    assert figure["data"][1]["y"] == [2.0, 10.0]
    assert figure["layout"]["yaxis"]["title"]["text"] == "hours"
    assert charts.parcel_steps(summary(parcel_steps=[]))["layout"]["annotations"][0]["text"] == (
        "no parcel has left a step yet"
    )


def test_parcel_steps_one_series_per_warehouse() -> None:
    figure = charts.steps_by_warehouse(summary())
    assert [(t["name"], t["x"], t["y"]) for t in figure["data"]] == [("WH-EAST", ["pick"], [2.0]), ("WH-WEST", ["pick"], [1.0])]
    assert figure["layout"]["yaxis"]["title"]["text"] == "hours"
    assert charts.steps_by_carrier(summary())["layout"]["annotations"][0]["text"] == "no labelled parcel has left a step"


def test_breakdowns_by_warehouse_carrier_and_channel() -> None:
    warehouses = charts.by_warehouse(summary())["data"]
    assert [t["name"] for t in warehouses] == ["parcels", "delivered", "cancelled", "exceptions"]
    assert [t["y"][0] for t in warehouses] == [3, 2, 0, 1]
    carriers = charts.by_carrier(summary())
    assert carriers["layout"]["annotations"][0]["text"] == "no labelled parcel in this period"
    channels = charts.by_channel(summary())["data"]
    assert [t["name"] for t in channels] == ["orders", "cancelled", "refund returns", "exchanges"]
    assert [t["y"][0] for t in channels] == [4, 1, 1, 1]


def test_reasons_ranked_with_the_most_frequent_on_top() -> None:
    bars = charts.cancellation_reasons(summary())["data"][0]
    assert bars["orientation"] == "h"
    assert bars["y"] == ["customer request", "payment declined"] and bars["x"] == [1, 3]  # plotly draws y bottom-up
    assert charts.return_reasons(summary())["layout"]["annotations"][0]["text"] == "no return"
    assert charts.carrier_exceptions(summary())["data"][0]["y"] == ["lost"]


def test_exchanges_apart_from_refund_returns_in_percent() -> None:
    bars = charts.returns_and_exchanges(summary())["data"][0]
    assert bars["x"] == ["returned", "refund", "exchange"]
    assert bars["y"] == [50.0, 25.0, 25.0]
    nothing = charts.returns_and_exchanges(summary(return_rate=None, refund_return_rate=None, exchange_rate=None))
    assert nothing["layout"]["title"]["text"] == "Returns and exchanges (nothing delivered yet)"


def test_turns_leave_out_warehouses_with_nothing_on_hand_and_stock_outs_rank_by_time() -> None:
    turns = charts.inventory_turns(summary())["data"][0]
    assert (turns["x"], turns["y"]) == (["WH-EAST"], [2.0])
    outs = charts.stock_outs(summary())["data"][0]
    assert outs["y"] == ["B @ WH-EAST", "A @ WH-EAST"] and outs["x"] == [1.0, 2.0]
    assert outs["text"] == ["1x", "2x, out now"]
    assert charts.stock_outs(summary())["layout"]["xaxis"]["title"]["text"] == "hours out of stock"
    empty = charts.stock_outs(summary(inventory=InventoryFigures()))
    assert empty["layout"]["annotations"][0]["text"] == "no stock-out in this period"


def test_the_dashboard_draws_the_old_charts_then_the_breakdowns() -> None:
    assert list(charts.dashboard_charts(summary())) == [
        "chart-funnel", "chart-steps", "chart-sla", "chart-returns",
        "chart-parcel-steps", "chart-warehouse-steps", "chart-carrier-steps", "chart-warehouses", "chart-carriers", "chart-channels", "chart-cancellations",
        "chart-return-reasons", "chart-exceptions", "chart-exchanges", "chart-turns", "chart-stock-outs",
    ]
