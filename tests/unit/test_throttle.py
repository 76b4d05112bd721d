"""api.throttle.FailureLimiter: N failures per name, then one per interval, in bounded memory,
with an eviction that a flood of fresh names cannot use to flush a throttled name's count."""

import pytest

from api.throttle import FailureLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_name_is_refused_after_its_burst_of_failures_until_one_refills() -> None:
    clock = Clock()
    limiter = FailureLimiter(burst=3, retry_seconds=10, max_entries=100, clock=clock)
    for _ in range(3):
        assert limiter.wait("a") is None, "asking takes nothing"
        limiter.fail("a")
    assert limiter.wait("a") == 10
    assert limiter.wait("b") is None, "names are counted apart"
    clock.now += 4
    assert limiter.wait("a") == 6, "the whole seconds until the next attempt"
    clock.now += 6
    assert limiter.wait("a") is None, "one failure forgotten: one more attempt"
    limiter.fail("a")
    assert limiter.wait("a") == 10
    clock.now += 30
    assert limiter.wait("a") is None
    limiter.fail("a")
    assert limiter.wait("a") is None, "all forgotten: a full burst again"


def test_memory_stays_bounded_however_many_names_fail() -> None:
    clock = Clock()
    limiter = FailureLimiter(burst=5, retry_seconds=60, max_entries=100, clock=clock)
    for n in range(50_000):
        limiter.fail(f"guess-{n}")
        clock.now += 0.001
    assert len(limiter) == 100
    assert len(limiter._heap) <= 2 * 100 + 1, "the heap is compacted as well"


def test_a_flood_of_fresh_names_does_not_flush_a_throttled_one() -> None:
    clock = Clock()
    limiter = FailureLimiter(burst=3, retry_seconds=60, max_entries=50, clock=clock)
    for _ in range(3):
        limiter.fail("attacker")
    assert limiter.wait("attacker") is not None
    for n in range(10_000):  # one failure each: they evict one another, not the throttled name
        clock.now += 0.001
        limiter.fail(f"fresh-{n}")
    assert len(limiter) == 50
    assert limiter.wait("attacker") is not None, "still throttled after the flood"


def test_names_that_remember_nothing_go_first() -> None:
    clock = Clock()
    limiter = FailureLimiter(burst=2, retry_seconds=1, max_entries=3, clock=clock)
    for name in ("old-1", "old-2", "old-3"):
        limiter.fail(name)
    clock.now += 5  # all three forgotten
    limiter.fail("new")
    assert len(limiter) == 1


def test_nonsense_limits_are_refused() -> None:
    for burst, retry, size in ((0, 1, 1), (1, 0, 1), (1, 1, 0)):
        with pytest.raises(ValueError):
            FailureLimiter(burst=burst, retry_seconds=retry, max_entries=size)
