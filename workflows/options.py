"""Timeouts and retry policies of the steps, in one place."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# Infrastructure hiccups (database restart, network) are retried without limit: nothing accepted
# may be dropped. Business refusals are non-retryable ApplicationErrors and stop at once.
PERSISTENT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)

# Payment gateways ask for a quick retry on transient failures (tok_flaky fails twice).
PAYMENT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)

ACTIVITY_TIMEOUT = timedelta(seconds=30)
LOCAL_ACTIVITY_TIMEOUT = timedelta(seconds=10)
