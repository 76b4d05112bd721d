"""Test support: a throwaway, migrated database per test session (never a mocked one).

Uses the server at `OMS_DATABASE_URL` when set, otherwise an embedded PostgreSQL in a
temporary directory.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store.db import normalize_url
from store.embedded import start_embedded_postgres, stop_embedded_postgres
from store.migrate import upgrade
from store.models import Base


@contextmanager
def server_url(base_url: str | None = None) -> Iterator[str]:
    """A URL of a running server: `base_url`, else $OMS_DATABASE_URL, else a temporary embedded one."""
    url = base_url or os.environ.get("OMS_DATABASE_URL")
    if url:
        yield normalize_url(url)
        return
    tmp = Path(tempfile.mkdtemp(prefix="orderflow-pg-"))
    data_dir = tmp / "pg"
    try:
        yield start_embedded_postgres(data_dir, database="postgres")
    finally:
        stop_embedded_postgres(data_dir)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def temporary_database(
    base_url: str | None = None, prefix: str = "orderflow_test"
) -> Iterator[str]:
    """CREATE DATABASE <prefix>_<random>, migrate it to head, yield its URL, drop it afterwards."""
    with ExitStack() as stack:
        server = stack.enter_context(server_url(base_url))
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin = create_engine(
            make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        stack.callback(admin.dispose)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = (
                make_url(server)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
            upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def truncate_all(engine_url_or_engine: object) -> None:
    """Empty every table (between tests that share one database)."""
    from sqlalchemy import Engine

    from store.db import make_engine

    engine = engine_url_or_engine if isinstance(engine_url_or_engine, Engine) else None
    owned = engine is None
    if engine is None:
        engine = make_engine(str(engine_url_or_engine))
    try:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        if owned:
            engine.dispose()
