"""A small process supervisor for `oms dev`: one process tree, restarts with backoff, ordered stop.

Single-threaded on purpose (children's output is multiplexed with `selectors`), so spawning
with a `preexec_fn` is safe. Children run in their own process group, so a Ctrl-C in the
terminal reaches only the supervisor, which then stops them in order (Temporal last); on Linux
they also get SIGTERM if the supervisor itself dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

_PR_SET_PDEATHSIG = 1


def _child_preexec() -> None:
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # best effort: without it children outlive a killed supervisor


def restart_delay(
    consecutive_failures: int, *, base: float = 0.5, cap: float = 30.0
) -> float:
    """Exponential backoff: 0.5 s, 1 s, 2 s, ... capped at 30 s."""
    return float(min(cap, base * (2 ** max(0, consecutive_failures - 1))))


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    # Lower tiers start first and stop last (Temporal is tier 0).
    tier: int = 1
    # A run longer than this counts as healthy and resets the backoff.
    healthy_after: float = 30.0
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restarts: int = 0
    restart_at: float | None = None
    _buffer: bytes = field(default=b"", repr=False)


class Supervisor:
    def __init__(
        self,
        *,
        stop_timeout: float = 10.0,
        out: IO[str] | None = None,
        prefix_output: bool = True,
        restart: bool = True,
    ) -> None:
        self.children: list[Child] = []
        self.stop_timeout = stop_timeout
        self.out = out if out is not None else sys.stdout
        self.prefix_output = prefix_output
        self.restart = restart
        self._selector = selectors.DefaultSelector()
        self._width = 9
        self._stopping = False

    # -- starting -------------------------------------------------------------------------
    def add(self, child: Child, *, start: bool = True) -> Child:
        self.children.append(child)
        self._width = max(self._width, len(child.name))
        if start:
            self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        env = dict(os.environ if child.env is None else child.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        proc = subprocess.Popen(
            list(child.argv),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_preexec if os.name == "posix" else None,  # noqa: PLW1509
        )
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        self._selector.register(proc.stdout, selectors.EVENT_READ, child)
        child.proc = proc
        child.started_at = time.monotonic()
        child.restart_at = None
        self.log(f"started {child.name} (pid {proc.pid})")

    # -- output ---------------------------------------------------------------------------
    def log(self, message: str) -> None:
        self._write("oms", message)

    def _write(self, name: str, line: str) -> None:
        if self.prefix_output:
            self.out.write(f"{name:<{self._width}} | {line}\n")
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def _drain(self, child: Child, *, final: bool = False) -> None:
        proc = child.proc
        if proc is None or proc.stdout is None:
            return
        while True:
            try:
                chunk = os.read(proc.stdout.fileno(), 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                final = True
                break
            child._buffer += chunk
            *lines, child._buffer = child._buffer.split(b"\n")
            for raw in lines:
                self._write(child.name, raw.decode(errors="replace").rstrip("\r"))
        if final and child._buffer:
            self._write(child.name, child._buffer.decode(errors="replace"))
            child._buffer = b""

    def _close(self, child: Child) -> None:
        proc = child.proc
        if proc is not None and proc.stdout is not None:
            self._drain(child, final=True)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(proc.stdout)
            proc.stdout.close()

    def pump(self, timeout: float = 0.2) -> None:
        """Copy children's output for up to `timeout` seconds, then reap and restart the dead."""
        if self._selector.get_map():
            for key, _ in self._selector.select(timeout):
                self._drain(key.data)
        else:
            time.sleep(timeout)
        self._reap()

    # -- supervision ----------------------------------------------------------------------
    def _reap(self) -> None:
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if proc is not None and proc.poll() is not None:
                self._close(child)
                child.proc = None
                if self._stopping:
                    self.log(f"stopped {child.name} ({proc.returncode})")
                    continue
                ran = now - child.started_at
                child.failures = 1 if ran >= child.healthy_after else child.failures + 1
                if not self.restart:
                    self.log(f"{child.name} exited with {proc.returncode}")
                    continue
                delay = restart_delay(child.failures)
                child.restart_at = now + delay
                self.log(
                    f"{child.name} exited with {proc.returncode} after {ran:.1f}s; restarting in {delay:.1f}s"
                )
            elif (
                proc is None
                and child.restart_at is not None
                and now >= child.restart_at
                and not self._stopping
            ):
                child.restarts += 1
                self._spawn(child)

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float, interval: float = 0.2
    ) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.pump(interval)
        return predicate()

    def run_forever(self) -> None:
        """Supervise until SIGINT/SIGTERM, then stop everything."""
        previous = _install_interrupt_handlers()
        try:
            while True:
                self.pump(0.2)
        except KeyboardInterrupt:
            self.log("stopping ...")
        finally:
            self.stop_all()
            _restore_handlers(previous)

    # -- stopping -------------------------------------------------------------------------
    def stop_all(self) -> None:
        """SIGTERM each tier (highest first), SIGKILL what is left after `stop_timeout`."""
        self._stopping = True
        tiers = sorted({c.tier for c in self.children}, reverse=True)
        for tier in tiers:
            group = [c for c in self.children if c.tier == tier and c.proc is not None]
            self._stop_group(group)
        self._stopping = False

    def _stop_group(self, group: list[Child]) -> None:
        for child in group:
            self._signal(child, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        try:
            while any(c.proc is not None and c.proc.poll() is None for c in group):
                if time.monotonic() >= deadline:
                    break
                self.pump(0.1)
        except KeyboardInterrupt:
            self.log("interrupted again: killing")
        for child in group:
            if child.proc is not None and child.proc.poll() is None:
                self.log(
                    f"{child.name} did not stop in {self.stop_timeout:.0f}s; killing"
                )
                self._signal(child, signal.SIGKILL)
                child.proc.wait()
            if child.proc is not None:
                self._close(child)
                self.log(f"stopped {child.name} ({child.proc.returncode})")
                child.proc = None
            child.restart_at = None

    @staticmethod
    def _signal(child: Child, sig: signal.Signals) -> None:
        proc = child.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            # The whole group, so grandchildren (e.g. uvicorn's) go too.
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _install_interrupt_handlers() -> dict[int, Any]:
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _raise_interrupt)
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


install_interrupt_handlers = _install_interrupt_handlers
