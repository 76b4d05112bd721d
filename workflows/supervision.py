"""Stuck detection shared by the order and parcel workflows (R5, R14).

Two ways a step gets stuck, both turned into "needs attention" instead of a failed workflow:
- it runs past its SLA: the step goes on, the order is flagged until the step finishes;
- an activity used up its retry budget: the step parks until ops say retry (or skip, where the
  step may be skipped).
Business refusals (domain.errors, non-retryable ApplicationErrors) are not "stuck": they are
raised to the caller, which knows what a declined card or an undeliverable address means.
"""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from domain.errors import BUSINESS_ERRORS
    from workflows.failures import refusal_of

T = TypeVar("T")


def bounded_retry(attempts: int) -> RetryPolicy:
    """Retries for forward steps: transient failures are retried `attempts` times, then the
    order parks for ops rather than retrying forever out of sight."""
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=attempts,
    )


def is_business_refusal(error: BaseException) -> bool:
    refusal = refusal_of(error)
    return refusal is not None and refusal.type in BUSINESS_ERRORS


async def within_sla(
    step: str,
    sla: timedelta,
    work: Coroutine[Any, Any, T],
    on_breach: Callable[[], Awaitable[None]],
    on_recover: Callable[[], Awaitable[None]],
) -> T:
    """Run `work`; if it is still running after `sla`, await `on_breach` and keep waiting; once
    it finishes after a breach, await `on_recover`."""
    task = asyncio.create_task(work)
    try:
        await workflow.wait_condition(task.done, timeout=sla, timeout_summary=f"SLA {step} {sla}")
    except TimeoutError:
        await on_breach()
        try:
            return await task
        finally:
            if not task.cancelled():
                await on_recover()
    except asyncio.CancelledError:
        task.cancel()
        raise
    return task.result()


# What a failed activity raises in the workflow: ActivityError for a task-queue activity; a local
# activity's failure arrives unwrapped (the ApplicationError, or a timeout).
STEP_FAILURES: tuple[type[FailureError], ...] = (ActivityError, ApplicationError, ActivityTimeoutError)


async def parked_on_failure(
    step: str,
    call: Callable[[], Awaitable[T]],
    park: Callable[[str, str], Awaitable[bool]],
) -> T | None:
    """Run `call`; when it fails for any reason but a business refusal, `park(step, reason)` waits
    for ops: True means retry, False means skip (the step's result is then None)."""
    while True:
        try:
            return await call()
        except STEP_FAILURES as error:
            if is_business_refusal(error):
                raise
            cause = error.cause if error.cause is not None else error
            if not await park(step, f"{step} failed: {cause}"):
                return None
