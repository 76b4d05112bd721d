"""Ours against both workflow baselines, in one table: the naive implementation
(bench/naive_workflow.py) and the same-shape one (bench/bare_workflow.py), with the targets of
issue 18 where they apply and whether this run met them. Each ratio is taken within one run."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table

from bench.report import ratio

# Issue 18's targets that these figures can check: (figure, against which baseline, bound).
THROUGHPUT_OVER_NAIVE = 1.3  # ours at least 1.3x the naive baseline
CPU_OVER_SAME_SHAPE = 2.0  # whole-stack CPU per order at most 2x the same-shape baseline
MAX_ORDER_EVENTS = 60  # the order's own history, single-parcel order


class Row(NamedTuple):
    figure: str
    ours: Any
    naive: Any
    over_naive: float | None
    same_shape: Any
    over_same_shape: float | None
    target: str
    met: bool | None


def _ratio(ours: Any, base: Any) -> float | None:
    if ours is None or base is None:
        return None
    return ratio(float(ours), float(base))


def _row(figure: str, ours: Any, naive: Any, same: Any, target: str = "", met: bool | None = None) -> Row:
    return Row(figure, ours, naive, _ratio(ours, naive), same, _ratio(ours, same), target, met)


def baseline_rows(results: dict[str, Any]) -> list[Row]:
    o, n, b = results["orders"], results["naive"], results["bare_workflow"]
    rows: list[Row] = []
    tput = _row("throughput (orders/s)", o["throughput"], n["throughput"], b["throughput"])
    rows.append(tput._replace(
        target=f">= {THROUGHPUT_OVER_NAIVE} x naive",
        met=None if tput.over_naive is None else tput.over_naive >= THROUGHPUT_OVER_NAIVE,
    ))
    cpu = _row(
        "CPU ms / order, whole stack",
        o.get("cpu_ms_per_order", {}).get("all"),
        n.get("cpu_ms_per_order", {}).get("all"),
        b.get("cpu_ms_per_order", {}).get("all"),
    )
    rows.append(cpu._replace(
        target=f"<= {CPU_OVER_SAME_SHAPE:g} x same-shape",
        met=None if cpu.over_same_shape is None else cpu.over_same_shape <= CPU_OVER_SAME_SHAPE,
    ))
    rows.append(_row("worker CPU ms / order", o["worker_cpu_ms_per_order"], n["worker_cpu_ms_per_order"],
                     b["worker_cpu_ms_per_order"]))
    rows.append(_row("server CPU ms / order", o["server_cpu_ms_per_order"], n["server_cpu_ms_per_order"],
                     b["server_cpu_ms_per_order"]))
    order_events = o["history"]["order"]
    rows.append(_row(
        "history events: order", order_events, n["history"]["order"], b["history"],
        f"<= {MAX_ORDER_EVENTS} (ours)", order_events <= MAX_ORDER_EVENTS,
    ))
    # The same-shape baseline is one workflow: its history is its whole story.
    rows.append(_row("history events: order + parcel", o["history"]["with_children"],
                     n["history"]["with_children"], b["history"]))
    rows.append(_row("worker peak RSS (MiB)", o["worker_peak_rss_mib"], n["worker_peak_rss_mib"],
                     b["worker_peak_rss_mib"]))
    return rows


def target_verdicts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The targeted rows for bench.json: each figure, both ratios, the target and whether met."""
    keys = {
        "throughput (orders/s)": "throughput",
        "CPU ms / order, whole stack": "cpu_ms_per_order_whole_stack",
        "history events: order": "history_events_order",
    }
    return {keys[row.figure]: row._asdict() for row in baseline_rows(results) if row.figure in keys}


# Wide enough for every column unwrapped: a log file (no terminal) would otherwise get 80 columns.
TABLE_WIDTH = 124


def print_baselines_table(results: dict[str, Any], console: Console) -> None:
    table = Table(title="ours against the naive and the same-shape baselines (same run)")
    for column in ("figure", "ours", "naive", "ours / naive", "same-shape", "ours / same-shape", "target", "met"):
        table.add_column(column, justify="left" if column == "figure" else "right", no_wrap=True)
    for row in baseline_rows(results):
        met = "" if row.met is None else ("yes" if row.met else "NO")
        table.add_row(row.figure, _fmt(row.ours), _fmt(row.naive), _fmt(row.over_naive), _fmt(row.same_shape),
                      _fmt(row.over_same_shape), row.target, met)
    if console.is_terminal:
        console.print(table)
        return
    width = console.width
    console.width = max(width, TABLE_WIDTH)
    try:
        console.print(table)
    finally:
        console.width = width


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)
