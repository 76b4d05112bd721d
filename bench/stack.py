"""The processes a benchmark measures: its own Temporal dev server and PostgreSQL (unless given),
our worker and API, the simulator, and the two baselines' worker and route, each a subprocess
so its CPU time and memory can be read on its own (psutil)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from config.settings import Settings
from config.temporal import dev_server_command, free_port, wait_for_port


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    handle: psutil.Process
    peak_rss: int = 0

    def tree(self) -> list[psutil.Process]:
        try:
            return [self.handle, *self.handle.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss(self) -> int:
        total = 0
        for proc in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        self.peak_rss = max(self.peak_rss, total)
        return total


@dataclass
class Stack:
    """Start with `start()`, always `stop()`; `env` is what every child sees."""

    settings: Settings
    work_dir: Path
    worker_processes: int = 1
    env: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)  # OMS_* overrides for every child
    procs: dict[str, Proc] = field(default_factory=dict)
    api_url: str = ""
    bare_api_url: str = ""
    temporal_address: str = ""
    database_url: str = ""
    _own_postgres: Path | None = None

    def spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> Proc:
        log = open(self.work_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        popen = subprocess.Popen(
            argv,
            env={**self.env, **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, popen, psutil.Process(popen.pid))
        self.procs[name] = proc
        return proc

    def start(self, *, return_window: str) -> None:
        from config.database import resolve_database_url, seed

        self.work_dir.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        if settings.temporal_address:
            self.temporal_address = settings.temporal_address
        else:
            port = free_port()
            ours = settings.model_copy(
                update={"temporal_port": port, "temporal_ui_port": free_port(), "data_dir": self.work_dir}
            )
            self.env = dict(os.environ)
            self.spawn("temporal", dev_server_command(ours, headless=True))
            if not wait_for_port("127.0.0.1", port, timeout=60):
                raise RuntimeError("the Temporal dev server did not come up within 60s")
            self.temporal_address = f"127.0.0.1:{port}"
        if settings.database_url:
            self.database_url = resolve_database_url(settings)
        else:
            self._own_postgres = self.work_dir / "pg"
            self.database_url = resolve_database_url(settings.model_copy(update={"data_dir": self.work_dir}))
        seed(self.database_url)

        api_port, bare_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.bare_api_url = f"http://127.0.0.1:{bare_port}"
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # A dev stack: `oms worker`/`oms api` may run on the development keys (config/production_guard.py).
            "OMS_DEV_STACK": "1",
            "OMS_DATABASE_URL": self.database_url,
            "OMS_TEMPORAL_ADDRESS": self.temporal_address,
            "OMS_DATA_DIR": str(self.work_dir),
            "OMS_API_HOST": "127.0.0.1",
            "OMS_API_PORT": str(api_port),
            "OMS_API_ACCESS_LOG": "false",
            "OMS_LOG_LEVEL": "WARNING",
            # The bench is one client sending thousands of orders: no per-key rate limit.
            "OMS_RATE_LIMIT_PER_SECOND": "0",
            "OMS_RETURN_WINDOW": return_window,
            # The simulator at full speed: it acts as soon as it sees a parcel, polling 20x/s.
            "OMS_SIMULATOR_SPEED": "1e9",
            "OMS_SIMULATOR_POLL_INTERVAL": "0.05",
            **self.extra_env,
        }
        me = [sys.executable, "-m"]
        for index in range(self.worker_processes):
            self.spawn(f"worker{index or ''}", [*me, "cli", "worker"])
        self.spawn("api", [*me, "cli", "api"])
        self.spawn("bare_api", [*me, "bench.bare_api"], {"OMS_API_PORT": str(bare_port)})
        self.spawn("bare_worker", [*me, "bench.bare_workflow"])
        self.spawn("naive_worker", [*me, "bench.naive_workflow"])
        for port in (api_port, bare_port):
            if not wait_for_port("127.0.0.1", port, timeout=90):
                raise RuntimeError(f"nothing answers on port {port} within 90s (see {self.work_dir}/*.log)")

    def start_simulator(self) -> None:
        self.spawn("simulator", [sys.executable, "-m", "cli", "simulate"])

    def postgres_cpu_seconds(self) -> float | None:
        """CPU of our own embedded PostgreSQL (postmaster and its backends); None when the
        database is someone else's (OMS_DATABASE_URL)."""
        if self._own_postgres is None:
            return None
        try:
            pid = int((self._own_postgres / "postmaster.pid").read_text().split()[0])
            postmaster = psutil.Process(pid)
            total = 0.0
            for proc in [postmaster, *postmaster.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
            return total
        except (OSError, ValueError, IndexError, psutil.Error):
            return None

    def workers(self) -> list[Proc]:
        return [p for name, p in self.procs.items() if name.startswith("worker")]

    def sample_rss(self) -> None:
        for proc in self.procs.values():
            proc.rss()

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, 15)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, 9)
                proc.popen.wait()
        if self._own_postgres is not None:
            from store.embedded import stop_embedded_postgres

            stop_embedded_postgres(self._own_postgres)


__all__ = ["Proc", "Stack"]
