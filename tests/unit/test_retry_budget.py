"""The default retry budget of a forward step rides out a database restart (issue 6's outage
proof stops PostgreSQL for 20 s and more); only a failure that outlasts about a minute parks."""

from datetime import timedelta

from config.settings import Settings
from domain.models import OrderPolicy
from workflows.supervision import bounded_retry


def _backoff_before_parking(attempts: int) -> timedelta:
    """The sum of the waits between `attempts` tries under `bounded_retry` (the attempts' own time
    comes on top)."""
    policy = bounded_retry(attempts)
    assert policy.maximum_interval is not None
    total, wait = timedelta(0), policy.initial_interval
    for _ in range(attempts - 1):
        total += wait
        wait = min(wait * policy.backoff_coefficient, policy.maximum_interval)
    return total


def test_the_default_budget_outlasts_a_database_restart() -> None:
    attempts = Settings().activity_attempts
    assert attempts == OrderPolicy().activity_attempts, "the policy default is the setting's"
    assert _backoff_before_parking(attempts) >= timedelta(seconds=60)


def test_a_small_budget_still_parks_quickly() -> None:
    assert _backoff_before_parking(2) < timedelta(seconds=1)
