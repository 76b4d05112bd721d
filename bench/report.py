"""Figures from the drivers' outcomes, the table printed beside the baselines, the JSON file and
the chart."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.drive import Outcome


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a latency someone actually saw)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def throughput(outcomes: list[Outcome]) -> float:
    """Finished items per second from the first send to the last finish."""
    done = [o for o in outcomes if o.ok]
    if not done:
        return 0.0
    span = max(o.finished for o in done) - min(o.sent for o in outcomes)
    return len(done) / span if span > 0 else math.inf


def latencies_ms(outcomes: list[Outcome]) -> dict[str, float]:
    values = [o.latency * 1000 for o in outcomes if o.ok]
    return {f"p{int(q * 100)}": round(percentile(values, q), 1) for q in (0.5, 0.95, 0.99)}


def ratio(ours: float, base: float) -> float | None:
    return round(ours / base, 3) if base and not math.isnan(base) and not math.isnan(ours) else None


def comparison_rows(results: dict[str, Any]) -> list[tuple[str, Any, Any, float | None, str]]:
    """(figure, ours, baseline, ratio, target) for the printed table and the docs."""
    o, b = results["orders"], results["bare_workflow"]
    ins = results["bare_insert"]
    rows: list[tuple[str, Any, Any, float | None, str]] = [
        ("throughput (orders/s)", o["throughput"], b["throughput"], ratio(o["throughput"], b["throughput"]), ""),
    ]
    for p in ("p50", "p95", "p99"):
        target = "<= 3" if p == "p99" else ""
        rows.append((f"POST /orders {p} (ms)", o["latency_ms"][p], ins["latency_ms"][p],
                     ratio(o["latency_ms"][p], ins["latency_ms"][p]), target))
    rows.append(("history events: order", o["history"]["order"], b["history"], ratio(o["history"]["order"], b["history"]), "<= 60 (ours)"))
    rows.append(("history events: order + parcel", o["history"]["with_children"], b["history"],
                 ratio(o["history"]["with_children"], b["history"]), ""))
    rows.append(("worker CPU ms / order", o["worker_cpu_ms_per_order"], b["worker_cpu_ms_per_order"],
                 ratio(o["worker_cpu_ms_per_order"], b["worker_cpu_ms_per_order"]), ""))
    rows.append(("server CPU ms / order", o["server_cpu_ms_per_order"], b["server_cpu_ms_per_order"],
                 ratio(o["server_cpu_ms_per_order"], b["server_cpu_ms_per_order"]), ""))
    ours_all, bare_all = o.get("cpu_ms_per_order", {}).get("all"), b.get("cpu_ms_per_order", {}).get("all")
    rows.append(("CPU ms / order, whole stack", ours_all, bare_all, ratio(ours_all or math.nan, bare_all or math.nan), "<= 2"))
    rows.append(("worker peak RSS (MiB)", o["worker_peak_rss_mib"], b["worker_peak_rss_mib"],
                 ratio(o["worker_peak_rss_mib"], b["worker_peak_rss_mib"]), ""))
    rows.append(("Temporal server peak RSS (MiB)", results.get("server_peak_rss_mib"), None, None, ""))
    rows.append(("API peak RSS (MiB)", results.get("api_peak_rss_mib"), results.get("bare_api_peak_rss_mib"), None, ""))
    return rows


def print_table(results: dict[str, Any], console: Console) -> None:
    table = Table(title=f"oms bench: {results['orders']['count']} orders, concurrency {results['concurrency']}")
    for column in ("figure", "ours", "baseline", "ratio", "target"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for name, ours, base, r, target in comparison_rows(results):
        table.add_row(name, _fmt(ours), _fmt(base), _fmt(r), target)
    console.print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, default=str))


def series(outcomes: list[Outcome], origin: float, bucket: float = 1.0) -> dict[str, list[float]]:
    """Per-bucket completions/s and the latency of each send, seconds since `origin`."""
    finished = [o.finished - origin for o in outcomes if o.ok]
    buckets = int(max(finished, default=0) // bucket) + 1
    counts = [0] * buckets
    for t in finished:
        counts[int(t // bucket)] += 1
    return {
        "t": [i * bucket for i in range(buckets)],
        "rate": [c / bucket for c in counts],
        "sent": [o.sent - origin for o in outcomes],
        "latency_ms": [o.latency * 1000 for o in outcomes],
    }


def write_chart(phases: dict[str, list[Outcome]], path: Path) -> None:
    """Throughput over time per phase (top) and each request's answer latency (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), constrained_layout=True)
    for name, outcomes in phases.items():
        if not outcomes:
            continue
        origin = min(o.sent for o in outcomes)
        data = series(outcomes, origin)
        if name != "bare insert":
            top.plot(data["t"], data["rate"], label=name)
        bottom.scatter(data["sent"], data["latency_ms"], s=4, label=name)
    top.set_title("finished per second (from each phase's start)")
    top.set_xlabel("s")
    top.set_ylabel("per s")
    top.legend()
    bottom.set_title("answer latency: POST /orders, Update-with-Start (bare), POST /bare")
    bottom.set_xlabel("s since the phase started")
    bottom.set_ylabel("ms")
    bottom.set_yscale("log")
    bottom.legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)
