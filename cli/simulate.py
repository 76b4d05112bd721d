"""`oms simulate`: the warehouse and carrier simulator (devstack/simulator.py) as a process of its own."""

from __future__ import annotations

import contextlib

from cli.common import configure_logging, load_settings, terminate_on_sigterm


def simulate() -> None:
    """Play warehouse and carriers against the running API (confirm picks, post tracking)."""
    from devstack.simulator import run_simulator

    configure_logging()
    terminate_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt):
        run_simulator(load_settings())
