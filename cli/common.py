"""What every `oms` command shares: the settings, the log format, the database, running until a signal.

Every command reads configuration only from `OMS_*` variables (config/settings.py). Imports of the
heavy parts (store, SQLAlchemy) happen inside these helpers so `oms --help` stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Coroutine
from typing import Any

import typer

from config.settings import Settings


def load_settings() -> Settings:
    """The settings from OMS_*; a malformed one (e.g. a too-short API key) ends the command with
    pydantic's message, which names the variable and never quotes its value."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as error:
        typer.echo(f"invalid configuration: {error}", err=True)
        raise typer.Exit(2) from None


def refuse_development_defaults(settings: Settings, command: str) -> None:
    """`oms api` and `oms worker` start only on an operator's own keys and secrets, unless they run
    inside the dev stack (OMS_DEV_STACK=1, config/production_guard.py). Checked before anything
    starts, the embedded database included."""
    from config.production_guard import production_refusals

    refusals = production_refusals(settings)
    if not refusals:
        return
    typer.echo(f"oms {command}: refusing to start on development defaults outside the dev stack:", err=True)
    for refusal in refusals:
        typer.echo(f"  - {refusal}", err=True)
    typer.echo("(`oms dev` runs the development stack with its built-in keys)", err=True)
    raise typer.Exit(2)


def configure_logging() -> None:
    """One format for every command, customers' e-mail addresses and phone numbers masked (config/logs.py)."""
    from config.logs import configure_logging as configure

    configure(os.environ.get("OMS_LOG_LEVEL", "INFO"))


def with_database(settings: Settings) -> Settings:
    """Standalone `oms worker`/`oms api` without OMS_DATABASE_URL use (and migrate) the embedded server."""
    if settings.database_url:
        return settings
    from config.database import resolve_database_url

    return settings.model_copy(update={"database_url": resolve_database_url(settings)})


def run_until_signalled(coro: Coroutine[Any, Any, Any]) -> None:
    """Run `coro`; SIGINT/SIGTERM cancel it so it can shut down gracefully."""

    async def main() -> None:
        task = asyncio.ensure_future(coro)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())


def terminate_on_sigterm() -> None:
    """Sync commands (simulate, seed) exit cleanly on SIGTERM like on Ctrl-C."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def mask_url(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    return parsed.render_as_string(hide_password=True) if parsed.password else url
