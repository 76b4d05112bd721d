"""The load modes of `oms bench` end to end at a tiny size (issue 18), on the test session's
Temporal server and database: open loop, burst against admission control, mass wake-up. No
timing is asserted (speed is the benchmark's business, not a test's)."""

import json
from pathlib import Path

from temporalio.client import Client

from bench.run import BenchOptions, run_bench
from config.settings import Settings


def _settings(client: Client, database_url: str) -> Settings:
    return Settings(temporal_address=client.service_client.config.target_host, database_url=database_url)


def test_open_loop_reports_each_rate_and_draws_the_chart(
    client: Client, database_url: str, tmp_path: Path
) -> None:
    results = run_bench(
        BenchOptions(rates=(2.0,), duration=1.5, out_dir=tmp_path, show_progress=False),
        settings=_settings(client, database_url),
    )
    (row,) = results["open_loop"]["rates"]
    assert row["rate"] == 2.0 and row["orders"] == 3 and row["statuses"] == {"201": 3}
    assert row["closed"] == 3
    assert set(row["post_ms"]) == {"p50", "p95", "p99"} and set(row["submit_to_closed_ms"]) == {"p50", "p99"}
    assert row["bare_insert_ms"]["p99"] is not None
    assert "sustained_rate" in results["open_loop"]["saturation"]
    assert (tmp_path / "bench-rate.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((tmp_path / "bench.json").read_text())["mode"] == "open_loop"


def test_burst_is_refused_with_retry_after_then_accepted_and_all_close(
    client: Client, database_url: str, tmp_path: Path
) -> None:
    """One submission in flight at a time, six clients at once: some are refused (503 with
    Retry-After), every one is accepted on a retry, and every one closes."""
    results = run_bench(
        BenchOptions(burst=6, burst_clients=6, max_in_flight=1, out_dir=tmp_path, show_progress=False),
        settings=_settings(client, database_url),
    )
    burst = results["burst"]
    assert burst["ok"], burst
    assert burst["accepted"] == 6 and burst["closed"] == 6 and burst["lost"] == 0
    assert burst["violations"] == 0
    assert burst["refused_503_with_retry_after"] >= 1
    assert burst["time_to_accept_all_s"] is not None and burst["time_to_drain_s"] is not None
    assert burst["peak_rss_mib"]["api"] > 0 and burst["peak_rss_mib"]["worker"] > 0


def test_wake_together_closes_every_parked_order(client: Client, database_url: str, tmp_path: Path) -> None:
    results = run_bench(
        BenchOptions(park=2, wake_together=True, concurrency=2, return_window="45s", out_dir=tmp_path,
                     show_progress=False),
        settings=_settings(client, database_url),
    )
    woken = results["wake_together"]
    assert woken["parked"] == 2 and woken["open_at_the_wake"] == 2, woken
    assert woken["closed"] == 2 and woken["not_closed"] == 0
    assert woken["workflow_task_failed_since_the_wake"] == 0
    assert woken["time_to_close_all_s"] is not None
