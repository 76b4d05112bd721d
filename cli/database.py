"""`oms migrate` and `oms seed`: the database schema and the demo data, on their own."""

from __future__ import annotations

import typer

from cli.common import configure_logging, load_settings, mask_url


def migrate() -> None:
    """Apply the database migrations (embedded PostgreSQL unless OMS_DATABASE_URL)."""
    from config.database import resolve_database_url

    configure_logging()
    url = resolve_database_url(load_settings())
    typer.echo(f"migrated {mask_url(url)}")


def seed_command() -> None:
    """Migrate, then load the demo catalog, warehouses and stock."""
    from config.database import resolve_database_url, seed

    configure_logging()
    url = resolve_database_url(load_settings())
    seed(url)
    typer.echo(f"seeded {mask_url(url)}")
