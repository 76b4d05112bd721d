"""One benchmark run: start the stack, probe one order to count its steps, then drive our orders,
the bare workflow with the same steps and the bare insert route, one after the other on the
same server, and report each figure beside its baseline."""

from __future__ import annotations

import asyncio
import platform
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.bare_workflow import BareShape
from bench.drive import (
    Outcome,
    drive_bare_inserts,
    drive_bare_workflows,
    drive_orders,
    drive_to_delivered,
    one_order,
    prepare_sku,
)
from bench.report import latencies_ms, print_table, throughput, write_chart, write_json
from bench.report_baselines import print_baselines_table, target_verdicts
from bench.stack import Proc, Stack
from cli.terminal import literal
from config.settings import Settings
from domain import ids

MIB = 1024 * 1024
# How many parked orders `--park` wakes with a query after parking them, spread over the run.
PARK_WAKE_SAMPLE = 500


@dataclass(frozen=True)
class BenchOptions:
    orders: int = 2000
    concurrency: int = 48
    return_window: str = "1s"
    worker_processes: int = 1
    out_dir: Path = Path("bench-results")
    skip_baselines: bool = False
    show_progress: bool = True
    # Instead of the lifecycle: this many orders driven to delivered and left parked in their
    # return window (give a long --return-window), then the worker's memory is read.
    park: int = 0
    max_cached_workflows: int | None = None
    # The load modes (issue 18, bench/modes.py): open-loop rates, a burst, a mass wake-up.
    rates: tuple[float, ...] = ()
    duration: float = 60.0
    burst: int = 0
    burst_clients: int = 200
    wake_together: bool = False
    max_in_flight: int | None = None
    max_concurrent_workflow_tasks: int | None = None


async def history_counts(client: Client, workflow_id: str) -> Counter[str]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return Counter(EventType.Name(event.event_type).removeprefix("EVENT_TYPE_") for event in history.events)


async def probe(client: Client, http: httpx.AsyncClient, sku: str) -> tuple[dict[str, Any], BareShape]:
    """One order alone: its history (with its parcel's) and the bare workflow of the same shape."""
    outcome = await one_order(http, client, sku)
    if not outcome.ok:
        raise RuntimeError(f"the probe order {outcome.key} did not close; see the logs")
    order_id = outcome.key
    order = await history_counts(client, ids.order_workflow_id(order_id))
    parcel = await history_counts(client, ids.shipment_workflow_id(ids.shipment_id(order_id, 1)))
    both = order + parcel
    shape = BareShape(
        local_activities=both["MARKER_RECORDED"],
        activities=both["ACTIVITY_TASK_SCHEDULED"],
        signals=both["WORKFLOW_EXECUTION_SIGNALED"],
        wait=timedelta(0),
    )
    return {
        "order_id": order_id,
        "order": sum(order.values()),
        "with_children": sum(both.values()),
        "order_by_type": dict(order),
        "parcel_by_type": dict(parcel),
    }, shape


class Sampler:
    """Peak RSS of every process, sampled twice a second in a thread while the run goes."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._stack.sample_rss()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_of(procs: list[Proc]) -> float:
    return sum(p.cpu_seconds() for p in procs)


def stack_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of each process of the stack (worker processes summed), PostgreSQL too."""
    parts: dict[str, float] = {}
    for name, proc in stack.procs.items():
        part = "worker" if name.startswith("worker") else name
        parts[part] = parts.get(part, 0.0) + proc.cpu_seconds()
    postgres = stack.postgres_cpu_seconds()
    if postgres is not None:
        parts["postgres"] = postgres
    return parts


def cpu_per_order(before: dict[str, float], after: dict[str, float], parts: tuple[str, ...], done: int) -> dict[str, float]:
    """CPU milliseconds per finished item of each of `parts` over a phase, and their sum (`all`):
    the whole cost of an order on this machine, not only the worker's."""
    per = {
        part: round((after[part] - before.get(part, 0.0)) * 1000 / max(done, 1), 2) for part in parts if part in after
    }
    per["all"] = round(sum(per.values()), 2)
    return per


# The processes that do the work of each phase: ours needs all of them; the bare workflow only its
# worker and the Temporal server (the driver is this process, in both phases).
OUR_PARTS = ("worker", "temporal", "api", "simulator", "postgres")
BARE_PARTS = ("bare_worker", "temporal")
NAIVE_PARTS = ("naive_worker", "temporal")


def reset_peaks(procs: list[Proc]) -> None:
    for proc in procs:
        proc.peak_rss = proc.rss()


def phase_figures(outcomes: list[Outcome], cpu_worker: float, cpu_server: float, workers: list[Proc]) -> dict[str, Any]:
    done = sum(1 for o in outcomes if o.ok)
    per = max(done, 1)
    return {
        "count": len(outcomes),
        "finished": done,
        "failed": len(outcomes) - done,
        "throughput": round(throughput(outcomes), 3),
        "latency_ms": latencies_ms(outcomes),
        "worker_cpu_ms_per_order": round(cpu_worker * 1000 / per, 2),
        "server_cpu_ms_per_order": round(cpu_server * 1000 / per, 2) if cpu_server else None,
        "worker_peak_rss_mib": round(sum(w.peak_rss for w in workers) / MIB, 1),
    }


def machine() -> dict[str, Any]:
    import os

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model or platform.processor(), "python": platform.python_version()}


async def measure(stack: Stack, options: BenchOptions, console: Console) -> dict[str, Any]:
    from bench.modes import load_mode, run_load_mode
    from config.temporal import connect

    if load_mode(options):
        return await run_load_mode(stack, options, console)
    settings = stack.settings.model_copy(update={"temporal_address": stack.temporal_address})
    client = await connect(settings)
    limits = httpx.Limits(max_connections=options.concurrency + 8)
    results: dict[str, Any] = {
        "machine": machine(),
        "concurrency": options.concurrency,
        "return_window": options.return_window,
        "worker_processes": options.worker_processes,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    server = [p for n, p in stack.procs.items() if n == "temporal"]
    workers = stack.workers()
    bare_worker = [stack.procs["bare_worker"]]
    phases: dict[str, list[Outcome]] = {}
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=120, limits=limits) as http,
        httpx.AsyncClient(base_url=stack.bare_api_url, timeout=120, limits=limits) as bare_http,
    ):
        sku = await prepare_sku(http, options.orders + options.park + 100)
        stack.start_simulator()
        if options.park:
            results["parked"] = await park(stack, client, http, sku, options, console)
            return results
        history, shape = await probe(client, http, sku)
        shape = shape.model_copy(update={"wait": _parse_window(options.return_window)})
        results["bare_shape"] = shape.model_dump(mode="json")
        progress = Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not options.show_progress,
        )
        with progress, Sampler(stack):
            task = progress.add_task("orders", total=options.orders)
            reset_peaks(workers)
            cpu0, srv0, all0 = cpu_of(workers), cpu_of(server), stack_cpu(stack)
            ours = await drive_orders(
                http, client, sku, options.orders, options.concurrency, lambda: progress.advance(task)
            )
            results["orders"] = phase_figures(ours, cpu_of(workers) - cpu0, cpu_of(server) - srv0, workers)
            results["orders"]["cpu_ms_per_order"] = cpu_per_order(
                all0, stack_cpu(stack), OUR_PARTS, results["orders"]["finished"]
            )
            results["orders"]["history"] = history
            phases["orders"] = ours
            if not options.skip_baselines:
                results["naive"], phases["naive"] = await naive_phase(stack, client, options, progress)
                task = progress.add_task("bare workflow", total=options.orders)
                reset_peaks(bare_worker)
                cpu0, srv0, all0 = cpu_of(bare_worker), cpu_of(server), stack_cpu(stack)
                bare = await drive_bare_workflows(
                    client, shape, options.orders, options.concurrency, lambda: progress.advance(task)
                )
                results["bare_workflow"] = phase_figures(
                    bare, cpu_of(bare_worker) - cpu0, cpu_of(server) - srv0, bare_worker
                )
                results["bare_workflow"]["cpu_ms_per_order"] = cpu_per_order(
                    all0, stack_cpu(stack), BARE_PARTS, results["bare_workflow"]["finished"]
                )
                bare_id = "bench-bare-history"
                results["bare_workflow"]["history"] = await _bare_history(client, shape, bare_id)
                phases["bare workflow"] = bare
                task = progress.add_task("bare insert", total=options.orders)
                inserts = await drive_bare_inserts(
                    bare_http, options.orders, options.concurrency, lambda: progress.advance(task)
                )
                results["bare_insert"] = {"count": len(inserts), "latency_ms": latencies_ms(inserts)}
                phases["bare insert"] = inserts
    stack.sample_rss()
    for name, key in (("temporal", "server_peak_rss_mib"), ("api", "api_peak_rss_mib"), ("bare_api", "bare_api_peak_rss_mib")):
        if name in stack.procs:
            results[key] = round(stack.procs[name].peak_rss / MIB, 1)
    results["phases"] = {
        name: [(round(o.sent, 4), round(o.answered, 4), round(o.finished, 4), o.ok) for o in outs]
        for name, outs in phases.items()
    }
    options.out_dir.mkdir(parents=True, exist_ok=True)
    write_chart(phases, options.out_dir / "bench.png")
    return results


async def park(
    stack: Stack, client: Client, http: httpx.AsyncClient, sku: str, options: BenchOptions, console: Console
) -> dict[str, Any]:
    """Drive `options.park` orders to delivered, let the worker settle, read its memory; then
    wake a sample of them (a query brings an evicted order back into the worker by replaying its
    history) and read it again."""
    workers = stack.workers()
    progress = Progress(
        TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=not options.show_progress,
    )
    rss_curve: list[tuple[int, float]] = []
    with progress:
        task = progress.add_task("parking", total=options.park)
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            progress.advance(task)
            if done % max(1, options.park // 20) == 0:
                rss_curve.append((done, round(sum(w.rss() for w in workers) / MIB, 1)))
                # Printed as it goes too: a long run stopped early still leaves its curve.
                console.print(f"parked {done}: worker RSS {rss_curve[-1][1]} MiB")

        outcomes = await drive_to_delivered(http, sku, options.park, options.concurrency, tick)
    await asyncio.sleep(5)  # the last workflow tasks finish; the worker is idle
    rss = [round(sum(w.rss() for w in workers) / MIB, 1) for _ in range(3)]
    open_orders = (await client.count_workflows("WorkflowType = 'OrderWorkflow' AND ExecutionStatus = 'Running'")).count
    parked = [o.key for o in outcomes if o.ok]
    sample = parked[:: max(1, len(parked) // PARK_WAKE_SAMPLE)][:PARK_WAKE_SAMPLE]
    gate = asyncio.Semaphore(16)

    async def wake(order_id: str) -> None:
        async with gate:
            await client.get_workflow_handle(ids.order_workflow_id(order_id)).query("state")

    started = time.monotonic()
    await asyncio.gather(*(wake(order_id) for order_id in sample))
    woken_in = time.monotonic() - started
    return {
        "orders": options.park,
        "open_order_workflows": open_orders,
        "woken_sample": len(sample),
        "woken_ms_per_order": round(woken_in * 1000 / max(len(sample), 1), 1),
        "worker_rss_mib_after_waking": round(sum(w.rss() for w in workers) / MIB, 1),
        "delivered": sum(1 for o in outcomes if o.ok),
        "throughput_to_delivered": round(throughput(outcomes), 3),
        "max_cached_workflows": options.max_cached_workflows,
        "worker_rss_mib_idle": rss[-1],
        "worker_peak_rss_mib": round(sum(w.peak_rss for w in workers) / MIB, 1),
        "rss_curve_mib": rss_curve,
    }


async def _bare_history(client: Client, shape: BareShape, workflow_id: str) -> int:
    """One more bare run, to count its history like the probe order's."""
    from bench.bare_workflow import BARE_TASK_QUEUE, BareWorkflow

    handle = await client.start_workflow(BareWorkflow.run, shape, id=workflow_id + "-" + str(time.time_ns()),
                                         task_queue=BARE_TASK_QUEUE)
    await handle.execute_update(BareWorkflow.submit, shape)
    for _ in range(shape.signals):
        await handle.signal(BareWorkflow.step)
    await handle.result()
    return sum((await history_counts(client, handle.id)).values())


async def naive_phase(
    stack: Stack, client: Client, options: BenchOptions, progress: Progress
) -> tuple[dict[str, Any], list[Outcome]]:
    """The naive baseline (bench/naive_workflow.py): a probe order alone for its history (the
    order's own, and with its parcel), then as many orders as ours at the same concurrency."""
    from bench.naive_drive import drive_naive_orders, one_naive_order
    from bench.naive_workflow import parcel_workflow_id

    wait = _parse_window(options.return_window).total_seconds()
    probe_id = f"bench-naive-probe-{time.time_ns()}"
    outcome, _ = await one_naive_order(client, probe_id, wait)
    if not outcome.ok:
        raise RuntimeError(f"the naive probe order {probe_id} did not close; see naive_worker.log")
    order = await history_counts(client, probe_id)
    parcel = await history_counts(client, parcel_workflow_id(probe_id))
    naive_worker = [stack.procs["naive_worker"]]
    server = [p for n, p in stack.procs.items() if n == "temporal"]
    task = progress.add_task("naive", total=options.orders)
    reset_peaks(naive_worker)
    cpu0, srv0, all0 = cpu_of(naive_worker), cpu_of(server), stack_cpu(stack)
    outcomes, resent = await drive_naive_orders(
        client, wait, options.orders, options.concurrency, lambda: progress.advance(task)
    )
    figures = phase_figures(outcomes, cpu_of(naive_worker) - cpu0, cpu_of(server) - srv0, naive_worker)
    figures["cpu_ms_per_order"] = cpu_per_order(all0, stack_cpu(stack), NAIVE_PARTS, figures["finished"])
    figures["history"] = {
        "order_id": probe_id,
        "order": sum(order.values()),
        "with_children": sum((order + parcel).values()),
        "order_by_type": dict(order),
        "parcel_by_type": dict(parcel),
    }
    # Parcel signals that found no parcel yet and were sent again (bench/naive_drive.py).
    figures["parcel_signals_resent_per_order"] = round(resent / max(len(outcomes), 1), 2)
    return figures, outcomes


def _parse_window(text: str) -> timedelta:
    from config.settings import parse_duration

    value = parse_duration(text)
    assert isinstance(value, timedelta)
    return value


def run_bench(options: BenchOptions, settings: Settings | None = None, console: Console | None = None) -> dict[str, Any]:
    """Start the stack, measure, print and write the results; always stops what it started."""
    console = console or Console()
    settings = settings or Settings()
    options.out_dir.mkdir(parents=True, exist_ok=True)
    # A bench stopped with SIGTERM (kill, a CI timeout) must still stop the servers it started:
    # as SystemExit the signal unwinds through the `finally` below.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    with tempfile.TemporaryDirectory(prefix="oms-bench-") as tmp:
        stack = Stack(settings, Path(tmp), worker_processes=options.worker_processes)
        if options.max_cached_workflows is not None:
            stack.extra_env["OMS_MAX_CACHED_WORKFLOWS"] = str(options.max_cached_workflows)
        from bench.modes import mode_env

        stack.extra_env.update(mode_env(options))
        try:
            stack.start(return_window=options.return_window)
            results = asyncio.run(measure(stack, options, console))
        except BaseException:
            for log in sorted(Path(tmp).glob("*.log")):
                console.print(literal(f"--- {log.name} (tail)", style="dim"))
                # The logs quote requests (names, addresses): literal, control characters shown.
                console.print(literal(log.read_text(errors="replace")[-2000:]))
            raise
        finally:
            stack.stop()
    if "naive" in results and "bare_workflow" in results:
        results["targets"] = target_verdicts(results)
    write_json(results, options.out_dir / "bench.json")
    if "parked" in results:
        console.print(results["parked"])
    if "bare_workflow" in results:
        print_table(results, console)
    if "naive" in results and "bare_workflow" in results:
        print_baselines_table(results, console)
    console.print(literal(f"results: {options.out_dir / 'bench.json'}, chart: {options.out_dir / 'bench.png'}"))
    return results
