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
    rate: str = typer.Option(
        "", "--rate", help="Instead: open-loop arrivals at these orders/s, comma-separated (e.g. 0.5,1,2,4)."
    ),
    duration: float = typer.Option(60.0, "--duration", min=0.1, help="Seconds of arrivals per --rate."),
    burst: int = typer.Option(
        0, "--burst", min=0, help="Instead: a flash sale of this many orders at once (the issue's size: 3000)."
    ),
    burst_clients: int = typer.Option(200, "--burst-clients", min=1, help="Concurrent clients of --burst."),
    wake_together: bool = typer.Option(
        False, "--wake-together", help="With --park N (default 2000): their return windows end together; all must close."
    ),
    max_in_flight: int | None = typer.Option(
        None, "--max-in-flight", min=0, help="The API's admission limit (OMS_MAX_SUBMISSIONS_IN_FLIGHT)."
    ),
    max_concurrent_workflow_tasks: int | None = typer.Option(
        None, "--max-concurrent-workflow-tasks", min=2,
        help="The worker's workflow task slots (OMS_MAX_CONCURRENT_WORKFLOW_TASKS).",
    ),
) -> None:
    """Benchmark the order lifecycle against a bare Temporal workflow and a bare insert route
    (starts its own Temporal and PostgreSQL unless OMS_TEMPORAL_ADDRESS / OMS_DATABASE_URL)."""
    from bench.open_loop import parse_rates
    from bench.run import BenchOptions, run_bench

    configure_logging()
    try:
        rates = tuple(parse_rates(rate)) if rate else ()
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--rate") from None
    if sum(map(bool, (rates, burst, wake_together))) > 1:
        raise typer.BadParameter("choose one of --rate, --burst and --wake-together per run", param_hint="--rate")
    if wake_together and not park:
        park = 2000  # the size (`--park N --wake-together` for another)
    if wake_together and return_window == "1s":
        # The windows must outlast the parking (bench/wakeup.py): about 1 s per order.
        from bench.wakeup import default_window

        return_window = f"{int(default_window(park).total_seconds())}s"
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
            rates=rates,
            duration=duration,
            burst=burst,
            burst_clients=burst_clients,
            wake_together=wake_together,
            max_in_flight=max_in_flight,
            max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        )
    )
