"""The benchmark harness end to end at a tiny size, on the test session's Temporal server and
database: it must drive orders to closed, run both baselines and write its files. No timing is
asserted (speed is the benchmark's business, not a test's)."""

import json
from pathlib import Path

from temporalio.client import Client

from bench.run import BenchOptions, run_bench
from config.settings import Settings


def test_bench_runs_orders_and_baselines_end_to_end(client: Client, database_url: str, tmp_path: Path) -> None:
    settings = Settings(temporal_address=client.service_client.config.target_host, database_url=database_url)
    results = run_bench(
        BenchOptions(orders=3, concurrency=3, out_dir=tmp_path, show_progress=False), settings=settings
    )

    assert results["orders"]["finished"] == 3 and results["orders"]["failed"] == 0
    assert results["bare_workflow"]["finished"] == 3 and results["bare_insert"]["count"] == 3
    shape = results["bare_shape"]
    assert shape["activities"] + shape["local_activities"] > 0 and shape["signals"] > 0
    history = results["orders"]["history"]
    assert 0 < history["order"] < history["with_children"]
    assert results["orders"]["worker_cpu_ms_per_order"] > 0
    # The whole stack's CPU per order: each part measured, summed (the Temporal server and the
    # database given here are not the bench's own processes, so they are left out).
    ours = results["orders"]["cpu_ms_per_order"]
    assert set(ours) == {"worker", "api", "simulator", "all"} and ours["worker"] > 0 and ours["api"] > 0
    assert ours["all"] == round(sum(v for k, v in ours.items() if k != "all"), 2)
    assert set(results["bare_workflow"]["cpu_ms_per_order"]) == {"bare_worker", "all"}
    assert set(results["orders"]["latency_ms"]) == {"p50", "p95", "p99"}
    # The naive baseline: its own phase, its own worker; its history counted from a probe order.
    naive = results["naive"]
    assert naive["finished"] == 3 and naive["failed"] == 0
    assert set(naive["cpu_ms_per_order"]) == {"naive_worker", "all"} and naive["worker_cpu_ms_per_order"] > 0
    assert naive["history"]["order_by_type"]["ACTIVITY_TASK_SCHEDULED"] == 16
    assert naive["history"]["parcel_by_type"]["ACTIVITY_TASK_SCHEDULED"] == 10
    assert 0 < naive["history"]["order"] < naive["history"]["with_children"]
    targets = results["targets"]
    assert set(targets) == {"throughput", "cpu_ms_per_order_whole_stack", "history_events_order"}
    assert targets["history_events_order"]["ours"] == history["order"]
    assert targets["history_events_order"]["naive"] == naive["history"]["order"]
    assert json.loads((tmp_path / "bench.json").read_text())["orders"]["count"] == 3
    assert (tmp_path / "bench.png").read_bytes().startswith(b"\x89PNG")


def test_bench_parks_orders_and_wakes_them(client: Client, database_url: str, tmp_path: Path) -> None:
    """`--park`: orders left delivered in a long return window stay open on the server, and a
    query wakes each of them in the worker (a replay when it was evicted from the cache)."""
    settings = Settings(temporal_address=client.service_client.config.target_host, database_url=database_url)
    results = run_bench(
        BenchOptions(
            park=3, concurrency=3, return_window="30d", max_cached_workflows=1, out_dir=tmp_path, show_progress=False
        ),
        settings=settings,
    )

    parked = results["parked"]
    assert parked["delivered"] == 3 and parked["woken_sample"] == 3
    assert parked["open_order_workflows"] >= 3, "parked orders are still running"
    assert parked["worker_rss_mib_after_waking"] > 0 and parked["max_cached_workflows"] == 1
