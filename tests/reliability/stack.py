"""The product's processes, run as the product runs them, so a test can kill and restart each one.

PostgreSQL is embedded (store/embedded.py) and lives in this process's control: the test stops and
starts it. Temporal is `temporal server start-dev` on a database file (config/temporal.py's
command line), the worker and the API are `oms worker` / `oms api` subprocesses and the simulator
is `oms simulate`; all talk to each other over real sockets. Nothing is mocked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import Engine, text

from config.settings import Settings
from config.temporal import dev_server_command, free_port, wait_for_port
from store.db import make_engine, make_session_factory
from store.embedded import start_embedded_postgres, stop_embedded_postgres
from store.migrate import upgrade
from store.seed import seed_demo

OMS = str(Path(sys.executable).parent / "oms")
OPS = {"X-API-Key": "dev-ops-key"}
CLIENT = {"X-API-Key": "dev-client-key"}


@dataclass
class Process:
    """One child process with its output in a log file (read back when a test fails)."""

    name: str
    argv: Sequence[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        self._log = self.log_path.open("ab")
        self._log.write(f"\n----- start #{self.starts + 1}: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        # Own process group: a kill reaches the whole child tree and never the test runner.
        self.proc = subprocess.Popen(
            list(self.argv), env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: signal.Signals = signal.SIGKILL, timeout: float = 30.0) -> int:
        """Send `sig` to the process group and wait for the exit; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
        code = self.proc.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.kill(signal.SIGTERM, timeout=15)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Stack:
    """PostgreSQL, Temporal, worker, API and simulator of one test, on free ports under `root`."""

    def __init__(self, root: Path, **settings: str) -> None:
        self.root = root
        self.pg_dir = root / "pg"
        self.temporal_port = free_port()
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.database_url = start_embedded_postgres(self.pg_dir, keep_running=True)
        upgrade(self.database_url)
        self.engine: Engine = make_engine(self.database_url)
        seed_demo(make_session_factory(self.engine))
        self.settings = Settings(
            data_dir=root,
            temporal_port=self.temporal_port,
            temporal_ui_port=free_port(),
            api_port=self.api_port,
        )
        env = {
            **os.environ,
            # A dev stack: `oms worker`/`oms api` may run on the development keys (config/production_guard.py).
            "OMS_DEV_STACK": "1",
            "OMS_DATABASE_URL": self.database_url,
            "OMS_TEMPORAL_PORT": str(self.temporal_port),
            "OMS_API_PORT": str(self.api_port),
            "OMS_API_URL": self.api_url,
            "OMS_API_ACCESS_LOG": "false",
            "OMS_LOG_LEVEL": "WARNING",
            # One test client submits hundreds of orders: the per-key limit is not under test here.
            "OMS_RATE_LIMIT_PER_SECOND": "0",
            # Orders close shortly after delivery, so "every order reaches its end" is observable.
            "OMS_RETURN_WINDOW": "2s",
            # One simulated hour per 0.25 s: pick, hand-over, out for delivery, delivered.
            "OMS_SIMULATOR_SPEED": "14400",
            "OMS_SIMULATOR_POLL_INTERVAL": "0.5",
        }
        env.update({f"OMS_{name.upper()}": value for name, value in settings.items()})
        env.pop("OMS_DATA_DIR", None)
        self.env = env
        self.temporal = Process(
            "temporal",
            dev_server_command(self.settings, headless=True, persistent=True),
            env,
            root / "temporal.log",
        )
        self.worker = Process("worker", [OMS, "worker"], env, root / "worker.log")
        self.api = Process("api", [OMS, "api"], env, root / "api.log")
        self.simulator = Process("simulator", [OMS, "simulate"], env, root / "simulator.log")
        self.processes = [self.simulator, self.api, self.worker, self.temporal]

    # -- Temporal --------------------------------------------------------------------------
    def start_temporal(self) -> None:
        self.temporal.start()
        if not wait_for_port("127.0.0.1", self.temporal_port, timeout=60):
            raise RuntimeError("Temporal dev server did not open its port:\n" + self.temporal.tail())

    # -- PostgreSQL ------------------------------------------------------------------------
    def stop_postgres(self) -> None:
        self.engine.dispose()
        stop_embedded_postgres(self.pg_dir)

    def start_postgres(self) -> None:
        url = start_embedded_postgres(self.pg_dir, keep_running=True)
        assert url == self.database_url, "the restarted server answers at the same address"

    # -- API -------------------------------------------------------------------------------
    def start_api(self) -> None:
        self.api.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.api.running:
                raise RuntimeError("the API exited:\n" + self.api.tail())
            try:
                if httpx.get(f"{self.api_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the API did not become ready:\n" + self.api.tail())

    def start(self, *, simulator: bool = True) -> None:
        self.start_temporal()
        self.worker.start()
        self.start_api()
        if simulator:
            self.simulator.start()

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        self.engine.dispose()
        stop_embedded_postgres(self.pg_dir)

    def logs(self) -> str:
        return "\n".join(f"===== {p.name} (last lines)\n{p.tail()}" for p in self.processes if p.starts)

    # -- reading the store -----------------------------------------------------------------
    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    def open_orders(self, order_ids: Sequence[str], limit: int = 10) -> list[Any]:
        """A few of `order_ids` not yet closed, with what the projection says of them: a failing
        "every order closed" names the orders it waited for."""
        return self.rows(
            "SELECT order_id, status, needs_attention, updated_at FROM orders"
            " WHERE order_id = ANY(:ids) AND status <> 'closed' ORDER BY updated_at LIMIT :limit",
            ids=list(order_ids),
            limit=limit,
        )

    def statuses(self, order_ids: Sequence[str]) -> dict[str, int]:
        """How many of `order_ids` are in each status (the projection)."""
        rows = self.rows(
            "SELECT status, count(*) FROM orders WHERE order_id = ANY(:ids) GROUP BY status",
            ids=list(order_ids),
        )
        return dict(rows)
