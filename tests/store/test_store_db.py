"""Engine URLs, migrations and the embedded server."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from store.db import make_engine, normalize_url
from store.embedded import start_embedded_postgres, stop_embedded_postgres
from store.migrate import current_revision, upgrade
from store.models import Base


def test_urls_are_normalized_to_psycopg2() -> None:
    assert (
        normalize_url("postgresql://u:p@h:5432/db")
        == "postgresql+psycopg2://u:p@h:5432/db"
    )
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert (
        normalize_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    )
    socket = "postgresql://postgres:@/postgres?host=/tmp/x"
    assert (
        normalize_url(socket) == "postgresql+psycopg2://postgres:@/postgres?host=/tmp/x"
    )
    engine = make_engine(socket)
    assert engine.url.query["host"] == "/tmp/x"
    assert engine.url.drivername == "postgresql+psycopg2"
    engine.dispose()


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_safe_concurrently_and_repeatedly(database_url: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: upgrade(database_url), range(4)))
    upgrade(database_url)
    assert current_revision(database_url) == _head(database_url)


def test_embedded_postgres_starts_creates_database_and_restarts_fast(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "pg"
    url = start_embedded_postgres(data_dir)
    try:
        assert url.startswith("postgresql+psycopg2://") and "/orderflow?host=" in url
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT current_database()")).scalar() == "orderflow"
            )
        engine.dispose()
    finally:
        stop_embedded_postgres(data_dir)

    started = time.monotonic()
    again = start_embedded_postgres(data_dir)
    restart = time.monotonic() - started
    try:
        assert current_revision(again) == _head(again)  # the data survived the restart
        assert restart < 5, f"second start took {restart:.1f}s"
    finally:
        stop_embedded_postgres(data_dir)


def _head(url: str) -> str | None:
    """The newest migration in the tree, so the tests need no edit for each new migration."""
    from alembic.script import ScriptDirectory

    from store.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()
