"""The supervisor that runs the dev stack (devstack/supervisor.py): restarts with backoff, stops in tier order."""

import sys
import time
from pathlib import Path

import pytest

from devstack.supervisor import Child, Supervisor, restart_delay


def test_restart_backoff_grows_and_caps() -> None:
    assert [restart_delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert restart_delay(50) == 30.0


class Sink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
def test_supervisor_restarts_a_dead_child_and_stops_in_tier_order(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "stops"
    code = (
        "import signal, sys, time\n"
        "name = sys.argv[1]\n"
        "def bye(*a):\n"
        f"    open({str(marker)!r}, 'a').write(name + '\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('hello from', name, flush=True)\n"
        "if name == 'flaky':\n"
        "    sys.exit(3)\n"
        "while True: time.sleep(0.05)\n"
    )
    sink = Sink()
    sup = Supervisor(stop_timeout=5, out=sink)  # type: ignore[arg-type]
    sup.add(Child("base", [sys.executable, "-c", code, "base"], tier=0))
    flaky = sup.add(Child("flaky", [sys.executable, "-c", code, "flaky"]))
    sup.add(Child("app", [sys.executable, "-c", code, "app"]))
    # Each child prints only after installing its SIGTERM handler.
    ready = ("hello from base", "app       | hello from app")
    assert sup.wait_until(
        lambda: flaky.restarts >= 1 and all(r in sink.text for r in ready), timeout=15
    )
    assert "flaky exited with 3" in sink.text
    started = time.monotonic()
    sup.stop_all()
    assert time.monotonic() - started < 5
    assert all(c.proc is None for c in sup.children)
    stops = marker.read_text().split()
    assert stops[-1] == "base"  # the lowest tier (Temporal) stops last
    assert "app" in stops


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_supervisor_kills_a_child_that_ignores_sigterm() -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(60)\n"
    sink = Sink()
    sup = Supervisor(stop_timeout=0.5, out=sink)  # type: ignore[arg-type]
    child = sup.add(Child("stubborn", [sys.executable, "-c", code]))
    assert sup.wait_until(lambda: "up" in sink.text, timeout=10)
    sup.stop_all()
    assert child.proc is None
    assert "killing" in sink.text
