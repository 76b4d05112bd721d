"""The dashboard's charts, as plotly figures (JSON for plotly.js, which draws them in the browser).

Built with plotly's graph objects, which check every property name and value as the figure is
made, so a typo here fails in the tests instead of drawing nothing in the browser.
"""

import json
from datetime import date
from typing import Any

import plotly.graph_objects as go

from domain.enums import OrderStatus
from domain.reports import ParcelBreakdown, ParcelStep, Summary

_LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "height": 320,
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
    "font": {"family": "system-ui, sans-serif", "size": 12, "color": "#1f2933"},
}
_BLUE, _ORANGE, _RED = "#2f6fde", "#f08c2e", "#d64545"
_GREEN, _GREY = "#2f9e6e", "#9aa5b1"


def _figure(fig: go.Figure, title: str) -> dict[str, Any]:
    fig.update_layout(title={"text": title, "x": 0.02}, **_LAYOUT)
    document: dict[str, Any] = json.loads(fig.to_json())
    return document


def status_funnel(summary: Summary) -> dict[str, Any]:
    """Orders by status, in lifecycle order (the funnel an order travels), cancelled last."""
    statuses = [s.value for s in OrderStatus if summary.by_status.get(s.value)]
    counts = [summary.by_status[s] for s in statuses]
    fig = go.Figure(go.Funnel(y=statuses, x=counts, marker={"color": _BLUE}, textinfo="value"))
    return _figure(fig, "Orders by status")


def _time_unit(longest_seconds: float) -> tuple[str, float]:
    """A unit that keeps the figures readable: (name, seconds per unit)."""
    for name, seconds in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if longest_seconds >= 2 * seconds:
            return name, seconds
    return "seconds", 1.0


def _no_data(fig: go.Figure, text: str) -> None:
    fig.add_annotation(
        text=text,
        showarrow=False,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        font={"size": 14, "color": "#616e7c"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)


def step_durations(summary: Summary) -> dict[str, Any]:
    """p50 and p95 time in each step, in a unit that suits the longest of them."""
    durations = summary.step_durations
    unit, per = _time_unit(max((d.p95_seconds for d in durations), default=0.0))
    steps = [d.step for d in durations]
    fig = go.Figure(
        [
            go.Bar(name="p50", x=steps, y=[d.p50_seconds / per for d in durations], marker_color=_BLUE),
            go.Bar(name="p95", x=steps, y=[d.p95_seconds / per for d in durations], marker_color=_ORANGE),
        ]
    )
    fig.update_layout(barmode="group", yaxis_title=unit)
    if not durations:
        _no_data(fig, "no order has left a step yet")
    return _figure(fig, "Time in each step (p50, p95)")


def sla_breaches(per_day: dict[date, int]) -> dict[str, Any]:
    days = [d.isoformat() for d in per_day]
    fig = go.Figure(go.Bar(x=days, y=list(per_day.values()), marker_color=_RED, name="breaches"))
    fig.update_layout(yaxis_title="breaches", xaxis_type="category", yaxis_rangemode="nonnegative")
    if not per_day:
        _no_data(fig, "no SLA breached in this period")
    return _figure(fig, "SLA breaches per day")


def return_rate(summary: Summary) -> dict[str, Any]:
    """The share of delivered orders with a return, as a gauge (0 % when nothing was delivered)."""
    percent = (summary.return_rate or 0.0) * 100
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number",
            value=round(percent, 1),
            number={"suffix": " %"},
            gauge={"axis": {"range": [0, 100]}, "bar": {"color": _ORANGE}},
        )
    )
    if summary.return_rate is None:
        return _figure(fig, "Return rate (nothing delivered yet)")
    return _figure(fig, "Return rate")


def parcel_steps(summary: Summary) -> dict[str, Any]:
    """p50, p90 and mean time of each step of the parcel log (pick, pack, label, transit, delivery)."""
    steps = summary.parcel_steps
    unit, per = _time_unit(max((d.p90_seconds for d in steps), default=0.0))
    names = [d.step for d in steps]
    fig = go.Figure(
        [
            go.Bar(name="p50", x=names, y=[d.p50_seconds / per for d in steps], marker_color=_BLUE),
            go.Bar(name="p90", x=names, y=[d.p90_seconds / per for d in steps], marker_color=_ORANGE),
            go.Bar(name="mean", x=names, y=[d.mean_seconds / per for d in steps], marker_color=_GREY),
        ]
    )
    fig.update_layout(barmode="group", yaxis_title=unit)
    if not steps:
        _no_data(fig, "no parcel has left a step yet")
    return _figure(fig, "Parcel steps (p50, p90, mean)")


_SERIES = (_BLUE, _ORANGE, _GREEN, _RED, _GREY)


def _steps_by(per_key: dict[str, list[ParcelStep]], title: str, empty: str) -> dict[str, Any]:
    """p50 of each parcel step, one series per warehouse or carrier."""
    longest = max((step.p50_seconds for steps in per_key.values() for step in steps), default=0.0)
    unit, per = _time_unit(longest)
    fig = go.Figure(
        [
            go.Bar(
                name=key,
                x=[step.step for step in steps],
                y=[step.p50_seconds / per for step in steps],
                marker_color=_SERIES[n % len(_SERIES)],
            )
            for n, (key, steps) in enumerate(per_key.items())
        ]
    )
    fig.update_layout(barmode="group", yaxis_title=unit, xaxis_type="category")
    if not per_key:
        _no_data(fig, empty)
    return _figure(fig, title)


def steps_by_warehouse(summary: Summary) -> dict[str, Any]:
    return _steps_by(summary.parcel_steps_by_warehouse, "Parcel steps by warehouse (p50)", "no parcel has left a step yet")


def steps_by_carrier(summary: Summary) -> dict[str, Any]:
    return _steps_by(summary.parcel_steps_by_carrier, "Parcel steps by carrier (p50)", "no labelled parcel has left a step")


def _parcels(breakdown: list[ParcelBreakdown], title: str, empty: str) -> dict[str, Any]:
    keys = [b.key for b in breakdown]
    fig = go.Figure(
        [
            go.Bar(name="parcels", x=keys, y=[b.parcels for b in breakdown], marker_color=_BLUE),
            go.Bar(name="delivered", x=keys, y=[b.delivered for b in breakdown], marker_color=_GREEN),
            go.Bar(name="cancelled", x=keys, y=[b.cancelled for b in breakdown], marker_color=_GREY),
            go.Bar(name="exceptions", x=keys, y=[b.exceptions for b in breakdown], marker_color=_RED),
        ]
    )
    fig.update_layout(barmode="group", xaxis_type="category", yaxis_rangemode="nonnegative")
    if not breakdown:
        _no_data(fig, empty)
    return _figure(fig, title)


def by_warehouse(summary: Summary) -> dict[str, Any]:
    return _parcels(summary.by_warehouse, "Parcels by warehouse", "no parcel in this period")


def by_carrier(summary: Summary) -> dict[str, Any]:
    return _parcels(summary.by_carrier, "Parcels by carrier", "no labelled parcel in this period")


def by_channel(summary: Summary) -> dict[str, Any]:
    """Orders of each channel, with those cancelled, returned for a refund and exchanged."""
    channels = summary.channels
    keys = [c.channel for c in channels]
    fig = go.Figure(
        [
            go.Bar(name="orders", x=keys, y=[c.orders for c in channels], marker_color=_BLUE),
            go.Bar(name="cancelled", x=keys, y=[c.cancelled for c in channels], marker_color=_GREY),
            go.Bar(name="refund returns", x=keys, y=[c.refund_returns for c in channels], marker_color=_ORANGE),
            go.Bar(name="exchanges", x=keys, y=[c.exchanges for c in channels], marker_color=_GREEN),
        ]
    )
    fig.update_layout(barmode="group", xaxis_type="category", yaxis_rangemode="nonnegative")
    if not channels:
        _no_data(fig, "no order in this period")
    return _figure(fig, "Orders by channel")


def _reasons(counts: dict[str, int], title: str, color: str, empty: str) -> dict[str, Any]:
    """Counts by reason as horizontal bars, the most frequent on top."""
    ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]))
    fig = go.Figure(
        go.Bar(x=[n for _, n in ranked], y=[reason for reason, _ in ranked], orientation="h", marker_color=color)
    )
    fig.update_layout(yaxis_type="category", xaxis_rangemode="nonnegative", yaxis_automargin=True)
    if not counts:
        _no_data(fig, empty)
    return _figure(fig, title)


def cancellation_reasons(summary: Summary) -> dict[str, Any]:
    return _reasons(summary.cancellations_by_reason, "Cancellations by reason", _GREY, "no cancellation")


def return_reasons(summary: Summary) -> dict[str, Any]:
    return _reasons(summary.returns_by_reason, "Returns by reason", _ORANGE, "no return")


def carrier_exceptions(summary: Summary) -> dict[str, Any]:
    return _reasons(summary.carrier_exceptions_by_issue, "Carrier exceptions by issue", _RED, "no carrier exception")


def returns_and_exchanges(summary: Summary) -> dict[str, Any]:
    """The return rate and, apart, the share of delivered orders returned for a refund or exchanged."""
    names = ["returned", "refund", "exchange"]
    rates = [summary.return_rate, summary.refund_return_rate, summary.exchange_rate]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[(r or 0.0) * 100 for r in rates],
            marker_color=[_ORANGE, _BLUE, _GREEN],
            text=[f"{r * 100:.1f} %" if r is not None else "–" for r in rates],
            textposition="auto",
        )
    )
    fig.update_layout(yaxis_title="% of orders delivered", yaxis_range=[0, 100], xaxis_type="category")
    if summary.return_rate is None:
        return _figure(fig, "Returns and exchanges (nothing delivered yet)")
    return _figure(fig, "Returns and exchanges")


def inventory_turns(summary: Summary) -> dict[str, Any]:
    """Turns per warehouse over the period (units shipped / average on hand)."""
    rows = [w for w in summary.inventory.by_warehouse if w.turns is not None]
    fig = go.Figure(
        go.Bar(x=[w.warehouse for w in rows], y=[w.turns for w in rows], marker_color=_BLUE, name="turns")
    )
    fig.update_layout(yaxis_title="turns", xaxis_type="category", yaxis_rangemode="nonnegative")
    if not rows:
        _no_data(fig, "no stock on hand in this period")
    return _figure(fig, "Inventory turns by warehouse")


def stock_outs(summary: Summary) -> dict[str, Any]:
    """Time each SKU/warehouse was out of stock in the period, in a unit that suits the longest,
    the longest on top."""
    outs = sorted(summary.inventory.stock_outs, key=lambda o: (o.seconds_out, o.warehouse, o.sku))
    labels = [f"{o.sku} @ {o.warehouse}" for o in outs]
    unit, per = _time_unit(max((o.seconds_out for o in outs), default=0.0))
    fig = go.Figure(
        go.Bar(
            x=[o.seconds_out / per for o in outs],
            y=labels,
            orientation="h",
            marker_color=[_RED if o.out_now else _ORANGE for o in outs],
            text=[f"{o.times}x" + (", out now" if o.out_now else "") for o in outs],
            textposition="auto",
        )
    )
    fig.update_layout(xaxis_title=f"{unit} out of stock", yaxis_type="category", yaxis_automargin=True)
    if not outs:
        _no_data(fig, "no stock-out in this period")
    return _figure(fig, "Stock-outs")


def dashboard_charts(summary: Summary) -> dict[str, dict[str, Any]]:
    """Chart id -> figure, in page order."""
    return {
        "chart-funnel": status_funnel(summary),
        "chart-steps": step_durations(summary),
        "chart-sla": sla_breaches(summary.sla_breaches_per_day),
        "chart-returns": return_rate(summary),
        # Issue 19: the parcel log's steps and the breakdowns.
        "chart-parcel-steps": parcel_steps(summary),
        "chart-warehouse-steps": steps_by_warehouse(summary),
        "chart-carrier-steps": steps_by_carrier(summary),
        "chart-warehouses": by_warehouse(summary),
        "chart-carriers": by_carrier(summary),
        "chart-channels": by_channel(summary),
        "chart-cancellations": cancellation_reasons(summary),
        "chart-return-reasons": return_reasons(summary),
        "chart-exceptions": carrier_exceptions(summary),
        "chart-exchanges": returns_and_exchanges(summary),
        "chart-turns": inventory_turns(summary),
        "chart-stock-outs": stock_outs(summary),
    }
