"""Flash sale (`oms bench --burst 3000`, issue 18): N orders submitted as fast as `clients`
concurrent clients can send them. Every order must be accepted (2xx), or refused with 503 and
Retry-After and accepted when repeated after that wait (api/admission.py), and every accepted
order must close. Any other answer (a 5xx other than 503 with Retry-After, a 4xx) is a
violation, counted and reported; so is an accepted order that does not close (lost).

Figures: the time from the first send until every order was accepted, the time until the last
of them closed (its workflow's close time, read from Temporal), the refusals and retries, and
the peak RSS of every process of the stack (sampled twice a second)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

import httpx
import psutil
from temporalio.client import Client

from bench.drive import CLIENT, order_body
from bench.stack import Stack
from domain import ids

MIB = 1024 * 1024
# How long one order may keep being refused before the driver gives it up (a violation).
GIVE_UP_SECONDS = 600.0
# How long the driver waits for an accepted order to close.
CLOSE_TIMEOUT_SECONDS = 1800.0


@dataclass
class Submission:
    order_id: str
    accepted: bool = False
    status: int = 0  # the last answer's status (0: no answer, a dropped connection)
    refusals: int = 0  # 503s with Retry-After, each waited out and repeated
    transport_errors: int = 0
    violations: list[str] = field(default_factory=list)  # answers the target forbids
    accepted_at: float | None = None  # monotonic


async def submit_until_accepted(
    http: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    give_up_after: float = GIVE_UP_SECONDS,
    now: Callable[[], float] = time.monotonic,
) -> Submission:
    """POST the order; on 503 with Retry-After, wait that long and repeat the same body (safe:
    submissions are idempotent by order id). A 2xx accepts it; anything else is a violation and
    ends this order's attempts (a 503 without Retry-After is one too, but is repeated after 1 s)."""
    outcome = Submission(body["order_id"])
    deadline = now() + give_up_after
    while now() < deadline:
        try:
            response = await http.post("/orders", headers=CLIENT, json=body)
        except httpx.TransportError:
            # A dropped connection is not an answer: the same body is repeated (idempotent).
            outcome.transport_errors += 1
            await sleep(0.5)
            continue
        outcome.status = response.status_code
        if 200 <= response.status_code < 300:
            outcome.accepted = True
            outcome.accepted_at = now()
            return outcome
        if response.status_code == 503:
            retry_after = response.headers.get("retry-after")
            if retry_after is None:
                outcome.violations.append("503 without Retry-After")
                await sleep(1.0)
                continue
            outcome.refusals += 1
            await sleep(_seconds(retry_after))
            continue
        outcome.violations.append(f"{response.status_code} {response.text[:200]}")
        return outcome
    outcome.violations.append(f"still refused after {give_up_after:g} s")
    return outcome


def _seconds(retry_after: str) -> float:
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        return 1.0  # an HTTP date: not what the API sends; wait a second


async def burst(http: httpx.AsyncClient, sku: str, count: int, clients: int) -> list[Submission]:
    """`count` orders, `clients` senders each taking the next order as soon as its last is done."""
    bodies = [order_body(sku) for _ in range(count)]
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    results: list[Submission] = []

    async def sender() -> None:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            results.append(await submit_until_accepted(http, body))

    await asyncio.gather(*(sender() for _ in range(min(clients, count))))
    return results


async def closes(client: Client, order_ids: list[str], concurrency: int = 64) -> dict[str, datetime | None]:
    """Each order's close time once its workflow finished `closed` (None: it did not)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(order_id: str) -> tuple[str, datetime | None]:
        async with gate:
            handle = client.get_workflow_handle(ids.order_workflow_id(order_id))
            try:
                result = await asyncio.wait_for(handle.result(), CLOSE_TIMEOUT_SECONDS)
                status = result.get("status") if isinstance(result, dict) else getattr(result, "status", None)
                if status != "closed":
                    return order_id, None
                return order_id, (await handle.describe()).close_time
            except Exception:  # noqa: BLE001 - a lost order is counted
                return order_id, None

    return dict(await asyncio.gather(*(one(order_id) for order_id in order_ids)))


class PeakMemory:
    """Peak RSS of every process of the stack and of PostgreSQL (postmaster and backends, when
    the bench started it), sampled twice a second in a thread. A process's figure includes its
    children (the worker's supervisor, uvicorn's). PostgreSQL's sums its backends, shared buffers
    counted in each: an upper bound."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.postgres_peak = 0

    def _postgres_rss(self) -> int:
        folder = getattr(self._stack, "_own_postgres", None)
        if folder is None:
            return 0
        try:
            postmaster = psutil.Process(int((folder / "postmaster.pid").read_text().split()[0]))
            return sum(p.memory_info().rss for p in [postmaster, *postmaster.children(recursive=True)])
        except (OSError, ValueError, IndexError, psutil.Error):
            return 0

    def sample(self) -> None:
        self._stack.sample_rss()
        self.postgres_peak = max(self.postgres_peak, self._postgres_rss())

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(Exception):
                self.sample()

    def peaks_mib(self) -> dict[str, float]:
        peaks = {name: round(proc.peak_rss / MIB, 1) for name, proc in self._stack.procs.items()}
        if self.postgres_peak:
            peaks["postgres"] = round(self.postgres_peak / MIB, 1)
        return peaks

    def __enter__(self) -> Self:
        for proc in self._stack.procs.values():
            proc.peak_rss = 0
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def burst_figures(
    submissions: list[Submission],
    closed: dict[str, datetime | None],
    started_mono: float,
    started_wall: datetime,
) -> dict[str, Any]:
    accepted = [s for s in submissions if s.accepted]
    violations = [v for s in submissions for v in s.violations]
    close_times = [t for t in closed.values() if t is not None]
    lost = [order_id for order_id, t in closed.items() if t is None]
    accept_all = max((s.accepted_at for s in accepted if s.accepted_at is not None), default=None)
    return {
        "orders": len(submissions),
        "accepted": len(accepted),
        "accepted_first_time": sum(1 for s in accepted if s.refusals == 0),
        "refused_503_with_retry_after": sum(s.refusals for s in submissions),
        "orders_refused_at_least_once": sum(1 for s in submissions if s.refusals),
        "transport_errors": sum(s.transport_errors for s in submissions),
        "violations": len(violations),
        "violation_samples": sorted(set(violations))[:5],
        "closed": len(close_times),
        "lost": len(lost),
        "lost_samples": lost[:5],
        "time_to_accept_all_s": None if accept_all is None or len(accepted) < len(submissions)
        else round(accept_all - started_mono, 2),
        "time_to_drain_s": round((max(close_times) - started_wall).total_seconds(), 2)
        if close_times and not lost
        else None,
        "ok": not violations and not lost and len(accepted) == len(submissions),
    }


async def run_burst(
    stack: Stack, http: httpx.AsyncClient, client: Client, sku: str, count: int, clients: int
) -> dict[str, Any]:
    from datetime import UTC

    with PeakMemory(stack) as memory:
        started_wall = datetime.now(UTC)
        started = time.monotonic()
        submissions = await burst(http, sku, count, clients)
        accepted = [s.order_id for s in submissions if s.accepted]
        closed = await closes(client, accepted)
    figures = burst_figures(submissions, closed, started, started_wall)
    figures["clients"] = clients
    figures["peak_rss_mib"] = memory.peaks_mib()
    return figures
