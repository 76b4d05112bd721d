"""The table of ours against the naive and the same-shape baselines: the ratios, and the targets
of issue 18 judged from them (figures made up; nothing is measured here)."""

from typing import Any

from bench.report_baselines import baseline_rows, target_verdicts


def results(ours_tput: float, naive_tput: float, ours_cpu: float, same_cpu: float, events: int) -> dict[str, Any]:
    def phase(tput: float, cpu: float, order: int, both: int) -> dict[str, Any]:
        return {
            "throughput": tput,
            "cpu_ms_per_order": {"all": cpu},
            "worker_cpu_ms_per_order": cpu / 2,
            "server_cpu_ms_per_order": cpu / 2,
            "worker_peak_rss_mib": 100.0,
            "history": {"order": order, "with_children": both},
        }

    return {
        "orders": phase(ours_tput, ours_cpu, events, events + 58),
        "naive": phase(naive_tput, 600.0, 70, 120),
        "bare_workflow": {**phase(9.0, same_cpu, 57, 57), "history": 57},
    }


def test_targets_met_and_missed_are_told_apart() -> None:
    met = target_verdicts(results(ours_tput=4.0, naive_tput=3.0, ours_cpu=400.0, same_cpu=250.0, events=57))
    assert met["throughput"]["over_naive"] == round(4.0 / 3.0, 3) and met["throughput"]["met"] is True
    assert met["cpu_ms_per_order_whole_stack"]["over_same_shape"] == 1.6
    assert met["cpu_ms_per_order_whole_stack"]["met"] is True
    assert met["history_events_order"]["met"] is True

    missed = target_verdicts(results(ours_tput=2.7, naive_tput=3.0, ours_cpu=801.0, same_cpu=248.0, events=61))
    assert [missed[k]["met"] for k in ("throughput", "cpu_ms_per_order_whole_stack", "history_events_order")] == [
        False,
        False,
        False,
    ]


def test_rows_show_both_parcel_counts_and_leave_untargeted_rows_unjudged() -> None:
    rows = {row.figure: row for row in baseline_rows(results(4.0, 3.0, 400.0, 250.0, 57))}
    both = rows["history events: order + parcel"]
    assert (both.ours, both.naive, both.same_shape) == (115, 120, 57)
    assert both.met is None and both.target == ""
    assert rows["worker CPU ms / order"].over_naive == round(200 / 300, 3)
