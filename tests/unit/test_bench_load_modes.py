"""The load modes' drivers (issue 18): the open loop keeps its schedule whatever the answers'
pace, the burst repeats a 503 with Retry-After after that wait and counts every other answer as a
violation, and the saturation rate is read off the measured rates."""

import asyncio
import json
from typing import Any

import httpx
import pytest

from bench.burst import submit_until_accepted
from bench.drive import order_body
from bench.open_loop import Arrival, Submitted, kept_up, open_loop, parse_rates, saturation


class VirtualClock:
    """A clock that moves only when the driver sleeps: the schedule is exact, no real waiting."""

    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0)


async def test_open_loop_sends_at_the_fixed_rate_while_no_answer_came() -> None:
    clock = VirtualClock()
    answer = asyncio.Event()
    started: list[tuple[int, float]] = []
    answered: list[int] = []

    async def slow_send(index: int) -> int:
        started.append((index, clock.now()))
        await answer.wait()  # the server answers nothing until every arrival was sent
        answered.append(index)
        return index

    async def release_when_all_sent() -> None:
        while len(started) < 20:
            await asyncio.sleep(0)
        assert answered == []  # all 20 sent, not one answered: nothing waited for an answer
        answer.set()

    releaser = asyncio.create_task(release_when_all_sent())
    arrivals = await open_loop(4.0, 5.0, slow_send, now=clock.now, sleep=clock.sleep)
    await releaser
    assert len(arrivals) == 20
    assert [index for index, _ in started] == list(range(20))
    # Each send was started at t0 + i / rate, exactly, on the virtual clock (and it runs as soon
    # as the driver next yields: by the next arrival's time at the latest).
    assert [a.started - 100.0 for a in arrivals] == pytest.approx([i / 4.0 for i in range(20)])
    assert [a.scheduled - 100.0 for a in arrivals] == pytest.approx([i / 4.0 for i in range(20)])
    assert all(t - 100.0 <= (i + 1) / 4.0 + 1e-9 for i, t in started)
    assert [a.result for a in arrivals] == list(range(20))


async def test_open_loop_on_the_real_clock_is_not_slowed_by_slow_answers() -> None:
    loop = asyncio.get_running_loop()

    async def send(index: int) -> float:
        await asyncio.sleep(1.0)  # every answer takes 1 s; 10 arrivals in 0.2 s
        return loop.time()

    began = loop.time()
    arrivals = await open_loop(50.0, 0.2, send, now=loop.time)
    took = loop.time() - began
    assert len(arrivals) == 10
    assert took < 3.0  # a closed loop would take 10 s
    assert max(a.started - a.scheduled for a in arrivals) < 0.5


def test_parse_rates() -> None:
    assert parse_rates("0.5,1, 2,4") == [0.5, 1.0, 2.0, 4.0]
    for bad in ("", "0", "-1", "nan", "1,x"):
        with pytest.raises(ValueError):
            parse_rates(bad)


def _transport(answers: list[httpx.Response], bodies: list[dict[str, Any]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answers.pop(0)

    return httpx.MockTransport(handler)


async def test_burst_waits_out_retry_after_and_repeats_the_same_body() -> None:
    waits: list[float] = []
    bodies: list[dict[str, Any]] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    answers = [
        httpx.Response(503, headers={"Retry-After": "1"}, json={"type": "/problems/overloaded"}),
        httpx.Response(503, headers={"Retry-After": "2"}, json={"type": "/problems/overloaded"}),
        httpx.Response(201, json={}),
    ]
    body = order_body("SKU-X")
    async with httpx.AsyncClient(transport=_transport(answers, bodies), base_url="http://t") as http:
        outcome = await submit_until_accepted(http, body, sleep=sleep)
    assert outcome.accepted and outcome.status == 201
    assert outcome.refusals == 2 and outcome.violations == []
    assert waits == [1.0, 2.0]
    assert [b["order_id"] for b in bodies] == [body["order_id"]] * 3  # idempotent repeats


async def test_burst_counts_other_answers_as_violations() -> None:
    async def sleep(seconds: float) -> None:
        return None

    bodies: list[dict[str, Any]] = []
    answers = [httpx.Response(503, json={}), httpx.Response(500, json={"detail": "boom"})]
    async with httpx.AsyncClient(transport=_transport(answers, bodies), base_url="http://t") as http:
        outcome = await submit_until_accepted(http, order_body("SKU-X"), sleep=sleep)
    assert not outcome.accepted and outcome.status == 500
    assert outcome.violations[0] == "503 without Retry-After"
    assert outcome.violations[1].startswith("500")
    assert len(bodies) == 2  # a 500 is not repeated


def _arrivals(totals: list[float], status: int = 201) -> list[Arrival[Submitted]]:
    return [
        Arrival(i, float(i), float(i), Submitted(float(i), i + 0.05, status, i + total))
        for i, total in enumerate(totals)
    ]


def test_kept_up_when_submit_to_closed_stays_flat() -> None:
    assert kept_up(_arrivals([5.0, 5.2, 4.9, 5.1, 5.0, 5.3]))
    assert not kept_up(_arrivals([5.0, 7.0, 9.0, 11.0, 13.0, 15.0]))  # a growing backlog
    assert not kept_up(_arrivals([5.0] * 6, status=503))


def _row(rate: float, kept: bool, post_p99: float, bare_p99: float) -> dict[str, Any]:
    return {"rate": rate, "kept_up": kept, "post_ms": {"p99": post_p99}, "bare_insert_ms": {"p99": bare_p99}}


def test_saturation_reads_the_80_percent_point_between_measured_rates() -> None:
    rows = [_row(1, True, 100, 20), _row(2, True, 200, 20), _row(4, False, 5000, 25)]
    summary = saturation(rows)
    assert summary["sustained_rate"] == 2 and summary["first_rate_not_kept_up"] == 4
    assert summary["at_80_percent_rate"] == 1.6
    assert summary["post_p99_ms"] == pytest.approx(160.0)
    assert summary["ratio"] == pytest.approx(8.0)
    assert not summary["saturation_is_lower_bound"]
    assert saturation([_row(1, True, 50, 25)])["saturation_is_lower_bound"]
