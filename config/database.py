"""Which PostgreSQL the process uses: a configured one, or the embedded one under the data dir."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings


def resolve_database_url(settings: Settings, *, migrate: bool = True) -> str:
    """`OMS_DATABASE_URL` if set, else start embedded PostgreSQL in `<data_dir>/pg`; then migrate."""
    if settings.database_url:
        url = settings.database_url
    else:
        from store.embedded import start_embedded_postgres

        data_dir = Path(settings.data_dir) / "pg"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        url = start_embedded_postgres(data_dir)
    if migrate:
        from store.migrate import upgrade

        upgrade(url)
    return url


def seed(url: str) -> None:
    """Load the demo catalog, warehouses and stock (idempotent on the store side)."""
    from store.db import make_engine, make_session_factory
    from store.seed import seed_demo

    engine = make_engine(url)
    try:
        seed_demo(make_session_factory(engine))
    finally:
        engine.dispose()
