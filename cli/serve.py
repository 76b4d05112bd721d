"""`oms worker` and `oms api`: the two long-running processes of a deployment.

Both refuse the development keys and secrets outside the dev stack (config/production_guard.py)
and, without OMS_DATABASE_URL, use (and migrate) the embedded PostgreSQL.
"""

from __future__ import annotations

import os
import sys

import typer

from cli.common import (
    configure_logging,
    load_settings,
    refuse_development_defaults,
    run_until_signalled,
    with_database,
)


def worker(
    processes: int = typer.Option(
        1, "--processes", min=1, help="Worker processes to run side by side (one event loop each)."
    ),
) -> None:
    """Run a Temporal worker on the orders task queue until SIGTERM/SIGINT."""
    configure_logging()
    settings = load_settings()
    refuse_development_defaults(settings, "worker")
    if processes > 1:
        _run_worker_processes(processes)
        return
    from worker import run_worker

    # run_worker resolves (and migrates) the database itself.
    run_until_signalled(run_worker(settings))


def _run_worker_processes(processes: int) -> None:
    """A workflow worker is one asyncio loop: CPU-bound on one core. N processes, supervised
    (restarted with backoff), share the task queue; the server balances them."""
    from devstack.supervisor import Child, Supervisor

    settings = with_database(load_settings())  # migrate once, before the children start
    env = {**os.environ, "OMS_DATABASE_URL": settings.database_url or ""}
    sup = Supervisor()
    for index in range(processes):
        sup.add(Child(f"worker{index + 1}", [sys.executable, "-m", "cli", "worker"], env=env))
    sup.run_forever()


def api() -> None:
    """Serve the HTTP API with uvicorn on OMS_API_HOST:OMS_API_PORT."""
    import uvicorn

    configure_logging()
    settings = load_settings()
    refuse_development_defaults(settings, "api")
    settings = with_database(settings)
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
