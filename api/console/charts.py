"""The dashboard's charts, as plotly figures (JSON for plotly.js, which draws them in the browser).

Built with plotly's graph objects, which check every property name and value as the figure is
made, so a typo here fails in the tests instead of drawing nothing in the browser.
"""

import json
from datetime import date
from typing import Any

import plotly.graph_objects as go

from domain.enums import OrderStatus
from domain.reports import Summary

_LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "height": 320,
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
    "font": {"family": "system-ui, sans-serif", "size": 12, "color": "#1f2933"},
}
_BLUE, _ORANGE, _RED = "#2f6fde", "#f08c2e", "#d64545"


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


def dashboard_charts(summary: Summary) -> dict[str, dict[str, Any]]:
    """Chart id -> figure, in page order."""
    return {
        "chart-funnel": status_funnel(summary),
        "chart-steps": step_durations(summary),
        "chart-sla": sla_breaches(summary.sla_breaches_per_day),
        "chart-returns": return_rate(summary),
    }
