"""`oms bench`: the benchmark harness (bench/) behind one command."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import configure_logging


def bench(
    orders: int = typer.Option(2000, "--orders", min=1, help="Orders to drive from submit to closed."),
    concurrency: int = typer.Option(48, "--concurrency", min=1, help="Orders (and baseline runs) in flight."),
    return_window: str = typer.Option("1s", "--return-window", help="The orders' return window, e.g. 1s."),
    processes: int = typer.Option(1, "--processes", min=1, help="Worker processes."),
    out: str = typer.Option("bench-results", "--out", help="Folder for bench.json and bench.png."),
    baselines: bool = typer.Option(True, "--baselines/--no-baselines", help="Run the bare baselines too."),
    park: int = typer.Option(
        0, "--park", min=0, help="Instead: drive this many orders to delivered, leave them parked, read worker RSS."
    ),
    max_cached_workflows: int | None = typer.Option(
        None, "--max-cached-workflows", min=0, help="The worker's sticky cache size (OMS_MAX_CACHED_WORKFLOWS)."
    ),
) -> None:
    """Benchmark the order lifecycle against a bare Temporal workflow and a bare insert route
    (starts its own Temporal and PostgreSQL unless OMS_TEMPORAL_ADDRESS / OMS_DATABASE_URL)."""
    from bench.run import BenchOptions, run_bench

    configure_logging()
    run_bench(
        BenchOptions(
            orders=orders,
            concurrency=concurrency,
            return_window=return_window,
            worker_processes=processes,
            out_dir=Path(out),
            skip_baselines=not baselines,
            park=park,
            max_cached_workflows=max_cached_workflows,
        )
    )
