"""The load modes of `oms bench` (issue 18), each instead of the closed-loop run of bench/run.py,
on the same stack (bench/stack.py):

- `--rate 0.5,1,2 --duration 60`: open-loop arrivals (bench/open_loop.py);
- `--burst 3000`: a flash sale against admission control (bench/burst.py);
- `--park 2000 --wake-together`: a mass wake-up of parked orders (bench/wakeup.py).

bench/run.py calls `mode_env` before the stack starts and `run_load_mode` instead of its own
phases when `load_mode` says one was asked for."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from rich.console import Console

from bench.drive import prepare_sku
from bench.stack import Stack
from cli.terminal import literal

if TYPE_CHECKING:
    from bench.run import BenchOptions


def load_mode(options: BenchOptions) -> str | None:
    if options.rates:
        return "open_loop"
    if options.burst:
        return "burst"
    if options.wake_together:
        return "wake_together"
    return None


def mode_env(options: BenchOptions) -> dict[str, str]:
    """OMS_* overrides for the stack's processes."""
    env: dict[str, str] = {}
    if options.max_in_flight is not None:
        env["OMS_MAX_SUBMISSIONS_IN_FLIGHT"] = str(options.max_in_flight)
    if options.max_concurrent_workflow_tasks is not None:
        env["OMS_MAX_CONCURRENT_WORKFLOW_TASKS"] = str(options.max_concurrent_workflow_tasks)
    return env


def window_of(text: str) -> timedelta:
    from pydantic import TypeAdapter

    from config.settings import Duration

    return TypeAdapter(Duration).validate_python(text)


async def run_load_mode(stack: Stack, options: BenchOptions, console: Console) -> dict[str, Any]:
    from bench.run import machine
    from config.temporal import connect

    mode = load_mode(options)
    settings = stack.settings.model_copy(update={"temporal_address": stack.temporal_address})
    client = await connect(settings)
    results: dict[str, Any] = {
        "mode": mode,
        "machine": machine(),
        "worker_processes": options.worker_processes,
        "return_window": options.return_window,
        "env": mode_env(options),
    }

    def say(text: str) -> None:
        console.print(literal(text))

    # Enough connections that the client never queues a request of its own (an open loop must
    # not wait for a free connection; a burst is as many clients as it says).
    limits = httpx.Limits(max_connections=max(1000, options.burst_clients + 8), max_keepalive_connections=256)
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=300, limits=limits) as http,
        httpx.AsyncClient(base_url=stack.bare_api_url, timeout=300, limits=limits) as bare_http,
    ):
        stock = options.burst + options.park + 100
        if options.rates:
            stock += int(sum(rate * options.duration for rate in options.rates)) + len(options.rates)
        sku = await prepare_sku(http, stock)
        stack.start_simulator()
        if mode == "open_loop":
            from bench.open_loop import run_open_loop, write_rate_chart

            figures = await run_open_loop(
                http, bare_http, client, sku, list(options.rates), options.duration,
                with_bare=not options.skip_baselines, say=say,
            )
            options.out_dir.mkdir(parents=True, exist_ok=True)
            write_rate_chart(figures["rates"], figures["saturation"], options.out_dir / "bench-rate.png")
            results["open_loop"] = figures
            say(f"saturation: {figures['saturation']}; chart: {options.out_dir / 'bench-rate.png'}")
        elif mode == "burst":
            from bench.burst import run_burst

            say(f"burst: {options.burst} orders from {options.burst_clients} clients")
            results["burst"] = await run_burst(stack, http, client, sku, options.burst, options.burst_clients)
            say(f"burst: {results['burst']}")
        elif mode == "wake_together":
            from bench.wakeup import run_wakeup

            results["wake_together"] = await run_wakeup(
                stack, http, client, sku, options.park, options.concurrency,
                window_of(options.return_window), say=say,
            )
            say(f"wake-together: {results['wake_together']}")
    return results
