"""Open-loop load (`oms bench --rate 0.5,1,2 --duration 60`, issue 18): orders arrive at a fixed
rate whatever the server's pace. Each arrival is scheduled by the clock (t0 + i / rate) and sent in
a task of its own; nothing waits for an earlier answer, so a slow server meets the same arrivals
and its slowness shows as latency, not as a lower rate (a closed loop hides it: there a slow
answer delays the next send).

Per rate, on one stack: POST /orders p50/p95/p99 (from the moment the request left), the time
from submit to `closed` p50/p99, then the bare insert (bench/bare_api.py) at the same rate for as
long, as the latency floor. The saturation rate is the highest rate the stack kept up with (see
`kept_up`); the target "POST p99 at most 3x the bare insert's p99 at 80 % of saturation" is read
off the measured rates by linear interpolation.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from temporalio.client import Client

from bench.drive import CLIENT, order_body
from bench.report import percentile
from domain import ids

T = TypeVar("T")

# A rate's orders that have not closed this long after their rate's last arrival are counted open.
CLOSE_GRACE_SECONDS = 300.0


@dataclass(frozen=True)
class Arrival(Generic[T]):
    index: int
    scheduled: float  # when it was due (clock seconds)
    started: float  # when its send began: late by the driver's own lag only
    result: T


async def open_loop(
    rate: float,
    duration: float,
    send: Callable[[int], Awaitable[T]],
    *,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[Arrival[T]]:
    """Call `send(i)` at t0 + i / rate for every i below rate x duration (at least one), each in
    its own task, never waiting for an earlier one; then wait for all of them."""
    if rate <= 0 or duration <= 0:
        raise ValueError("rate and duration must be above 0")
    count = max(1, round(rate * duration))
    origin = now()
    pending: list[tuple[int, float, float, asyncio.Task[T]]] = []
    for index in range(count):
        due = origin + index / rate
        delay = due - now()
        if delay > 0:
            await sleep(delay)
        pending.append((index, due, now(), asyncio.ensure_future(send(index))))
    results = await asyncio.gather(*(task for *_, task in pending))
    return [
        Arrival(index, due, started, result)
        for (index, due, started, _), result in zip(pending, results, strict=True)
    ]


@dataclass
class Submitted:
    """One order's open-loop submission: monotonic seconds; `closed_at` None if it never closed."""

    sent: float
    answered: float
    status: int
    closed_at: float | None = None

    @property
    def post_ms(self) -> float:
        return (self.answered - self.sent) * 1000


async def submit_and_follow(
    http: httpx.AsyncClient, client: Client, sku: str, close_timeout: float, path: str = "/orders"
) -> Submitted:
    """One POST (not retried: a refusal is a result here), then, for an order, its close."""
    body = order_body(sku)
    sent = time.monotonic()
    try:
        response = await http.post(path, headers=CLIENT, json=body)
        status = response.status_code
    except httpx.TransportError:
        status = 0
    outcome = Submitted(sent, time.monotonic(), status)
    if path != "/orders" or status != 201:
        return outcome
    handle = client.get_workflow_handle(ids.order_workflow_id(body["order_id"]))
    try:
        result = await asyncio.wait_for(handle.result(), close_timeout)
    except Exception:  # noqa: BLE001 - an order that fails or times out is counted, not fatal
        return outcome
    status_of = result.get("status") if isinstance(result, dict) else getattr(result, "status", None)
    if status_of == "closed":
        outcome.closed_at = time.monotonic()
    return outcome


def _ms(values: list[float], q: float) -> float | None:
    value = percentile(values, q)
    return None if math.isnan(value) else round(value, 1)


def kept_up(arrivals: list[Arrival[Submitted]]) -> bool:
    """Did the stack keep up with this rate? Every order accepted and closed, and submit-to-closed
    not growing over the run: the median of the last third of arrivals within 1.5x (plus 0.5 s)
    of the first third's. Past saturation the backlog grows with every arrival, and so does it."""
    if not arrivals or any(a.result.status != 201 or a.result.closed_at is None for a in arrivals):
        return False
    totals = [a.result.closed_at - a.result.sent for a in arrivals if a.result.closed_at is not None]
    third = max(1, len(totals) // 3)
    first, last = percentile(totals[:third], 0.5), percentile(totals[-third:], 0.5)
    return last <= 1.5 * first + 0.5


def rate_figures(
    rate: float, orders: list[Arrival[Submitted]], bare: list[Arrival[Submitted]] | None
) -> dict[str, Any]:
    post = [a.result.post_ms for a in orders if a.result.status == 201]
    totals = [
        (a.result.closed_at - a.result.sent) * 1000 for a in orders if a.result.closed_at is not None
    ]
    # How late each request left against its schedule: the driver's own lag (its event loop).
    lag = [max(0.0, a.result.sent - a.scheduled) * 1000 for a in orders]
    statuses: dict[str, int] = {}
    for a in orders:
        statuses[str(a.result.status)] = statuses.get(str(a.result.status), 0) + 1
    figures: dict[str, Any] = {
        "rate": rate,
        "orders": len(orders),
        "statuses": statuses,
        "closed": len(totals),
        "post_ms": {"p50": _ms(post, 0.5), "p95": _ms(post, 0.95), "p99": _ms(post, 0.99)},
        "submit_to_closed_ms": {"p50": _ms(totals, 0.5), "p99": _ms(totals, 0.99)},
        "send_lag_ms_p99": _ms(lag, 0.99),
        "kept_up": kept_up(orders),
    }
    if bare is not None:
        bare_ms = [a.result.post_ms for a in bare if a.result.status == 201]
        figures["bare_insert_ms"] = {"p50": _ms(bare_ms, 0.5), "p95": _ms(bare_ms, 0.95), "p99": _ms(bare_ms, 0.99)}
    return figures


def _interpolate(points: list[tuple[float, float]], x: float) -> float | None:
    points = sorted(points)
    if not points:
        return None
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 != x0 else y1
    return points[-1][1]


def saturation(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest rate kept up with (below the first one that was not), the POST p99 and the
    bare insert's p99 at 80 % of it, and their ratio (target: at most 3)."""
    ordered = sorted(rows, key=lambda row: row["rate"])
    sustained: float | None = None
    first_failed: float | None = None
    for row in ordered:
        if row["kept_up"]:
            sustained = row["rate"]
        else:
            first_failed = row["rate"]
            break
    summary: dict[str, Any] = {
        "sustained_rate": sustained,
        "first_rate_not_kept_up": first_failed,
        # With every rate kept up, saturation lies above the highest: a lower bound.
        "saturation_is_lower_bound": first_failed is None,
    }
    if sustained is None:
        return summary
    at = round(0.8 * sustained, 3)
    below = [row for row in ordered if row["rate"] <= sustained]
    post = [(r["rate"], r["post_ms"]["p99"]) for r in below if r["post_ms"]["p99"] is not None]
    bare = [
        (r["rate"], r["bare_insert_ms"]["p99"])
        for r in below
        if r.get("bare_insert_ms", {}).get("p99") is not None
    ]
    post_p99, bare_p99 = _interpolate(post, at), _interpolate(bare, at)
    summary.update(
        {
            "at_80_percent_rate": at,
            "post_p99_ms": None if post_p99 is None else round(post_p99, 1),
            "bare_insert_p99_ms": None if bare_p99 is None else round(bare_p99, 1),
            "ratio": round(post_p99 / bare_p99, 2) if post_p99 and bare_p99 else None,
            "target": "<= 3",
        }
    )
    return summary


def write_rate_chart(rows: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    """Latency against rate: POST p50/p95/p99 and the bare insert's p99 (top), submit-to-closed
    p50/p99 (bottom); the saturation rate marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(rows, key=lambda row: row["rate"])
    rates = [row["rate"] for row in ordered]

    def line(key: str, p: str) -> list[float]:
        return [math.nan if row.get(key, {}).get(p) is None else row[key][p] for row in ordered]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), constrained_layout=True, sharex=True)
    for p, style in (("p50", "-o"), ("p95", "-s"), ("p99", "-^")):
        top.plot(rates, line("post_ms", p), style, label=f"POST /orders {p}")
    top.plot(rates, line("bare_insert_ms", "p99"), "--x", label="bare insert p99")
    top.set_ylabel("ms")
    top.set_yscale("log")
    top.set_title("open-loop latency against arrival rate")
    for p, style in (("p50", "-o"), ("p99", "-^")):
        bottom.plot(rates, [v / 1000 for v in line("submit_to_closed_ms", p)], style, label=f"submit to closed {p}")
    bottom.set_ylabel("s")
    bottom.set_xlabel("orders per second (arrivals)")
    sustained = summary.get("sustained_rate")
    for axis in (top, bottom):
        if sustained is not None:
            axis.axvline(sustained, color="grey", linestyle=":", label="highest rate kept up with")
        axis.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_rates(text: str) -> list[float]:
    """`0.5,1,2` -> [0.5, 1.0, 2.0]; every rate above 0."""
    rates = [float(part) for part in text.split(",") if part.strip()]
    if not rates or any(rate <= 0 or math.isnan(rate) or math.isinf(rate) for rate in rates):
        raise ValueError(f"--rate wants rates above 0, comma-separated: {text!r}")
    return rates


async def run_open_loop(
    http: httpx.AsyncClient,
    bare_http: httpx.AsyncClient,
    client: Client,
    sku: str,
    rates: list[float],
    duration: float,
    *,
    with_bare: bool = True,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    close_timeout = duration + CLOSE_GRACE_SECONDS
    for rate in rates:
        say(f"open loop: {rate} orders/s for {duration:g} s")
        orders = await open_loop(rate, duration, lambda _: submit_and_follow(http, client, sku, close_timeout))
        bare = None
        if with_bare:
            say(f"open loop: bare insert at {rate}/s for {duration:g} s")
            bare = await open_loop(
                rate, duration, lambda _: submit_and_follow(bare_http, client, sku, close_timeout, path="/bare")
            )
        rows.append(rate_figures(rate, orders, bare))
        say(f"  {rows[-1]}")
    return {"duration_s": duration, "rates": rows, "saturation": saturation(rows)}
