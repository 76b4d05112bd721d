"""Stuck detection shared by the order, parcel and return workflows (R5, R14): the one home of
the retry budget, the SLA watch and parking.

Two ways a step gets stuck, both turned into "needs attention" instead of a failed workflow:
- it runs past its SLA: the step goes on, the order is flagged until the step finishes;
- an activity used up its retry budget: the step parks until ops say retry (or skip, where the
  step may be skipped).
Business refusals (domain.errors, non-retryable ApplicationErrors) are not "stuck": they are
raised to the caller, which knows what a declined card or an undeliverable address means.

`Supervision` is what the order and the parcel share on top: how a step parks (flag "parked",
wait for retry or skip, clear the flag) and what an SLA breach does (flag, tell, clear once the
step is done), with each workflow saying how it tells (the order records a timeline event, the
parcel a projection row). ReturnWorkflow parks its steps through `Supervision` too, and watches
its receipt's SLA itself, behind patch `return-parking-20261201` (returns from before it use the
retry budget only, docs/versioning.md).
"""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from domain.enums import OpsActionKind
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


async def within_sla_after_local_steps(
    step: str,
    sla: timedelta,
    work: Coroutine[Any, Any, T],
    on_breach: Callable[[], Awaitable[None]],
    on_recover: Callable[[], Awaitable[None]],
    *,
    in_local_step: Callable[[], bool],
) -> T:
    """`within_sla` for a step that begins with a chain of local activities (the order's
    verification, reservation, payment; the parcel's phases), behind the patches
    `order-sla-after-local-steps-20261201` and `shipment-sla-after-local-steps-20261201`.

    The SLA timer starts only once `work` is done or waits on something other than a local
    activity (`in_local_step()` false: ops, a receipt, a task-queue activity), and it is never
    cancelled: once the step is done, a timer still running fires later into nothing.

    Why: a local activity's result may reach the workflow in the workflow task after the one
    whose completion recorded its marker, and a replay then hands it to the workflow in the
    earlier task. `within_sla` starts its timer before the chain and cancels it after it; a
    start and a cancel inside one workflow task leave no events, in different tasks they leave
    TimerStarted and TimerCanceled, so the two runs issue different commands and the replay
    fails (tests/workflows/histories/order-split-after-reservation.json). Here no timer is
    started before a local activity whose result could move, and none is cancelled, so no
    command depends on which workflow task a local activity's result landed in. A step that
    finishes inside its chain starts no timer at all (as before, when its start and cancel cancelled
    out). The SLA counts from the end of the step's first chain of local activities. The price:
    while a local activity of the chain is retried without limit (verification's reads,
    PERSISTENT_RETRY, while the database is down) the step's SLA does not watch it; a step out of
    its bounded retries parks, and its SLA timer starts then."""
    task = asyncio.create_task(work)
    try:
        await workflow.wait_condition(lambda: task.done() or not in_local_step())
        if not task.done():
            watch = asyncio.create_task(workflow.sleep(sla, summary=f"SLA {step} {sla}"))
            await workflow.wait_condition(lambda: task.done() or watch.done())
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task.done():
        return task.result()
    await on_breach()
    try:
        return await task
    finally:
        if not task.cancelled():
            await on_recover()


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


class Decision(Protocol):
    """An ops answer to a parked step: an OpsAction (order) or a ParcelInstruction (parcel)."""

    @property
    def action(self) -> OpsActionKind: ...

    @property
    def actor(self) -> str: ...


Hook = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Supervision:
    """Parking and SLA hooks over one workflow's attention and telling.

    - `flag(key, reason)` / `unflag(key)`: the workflow's attention (unflag says whether it was set);
    - `wait_for_ops(step, reason, kinds)`: tell that the step is parked, wait for one of `kinds`;
    - `resumed(step, decision)`: tell what ops decided;
    - `breached(step, sla)` / `recovered(step)`: tell an SLA breach, and its end;
    - `sla_key(step)`: the attention key of a step's SLA."""

    flag: Callable[[str, str], None]
    unflag: Callable[[str], bool]
    wait_for_ops: Callable[[str, str, set[OpsActionKind]], Awaitable[Decision]]
    resumed: Callable[[str, Decision], Awaitable[None]]
    breached: Callable[[str, timedelta], Awaitable[None]]
    recovered: Callable[[str], Awaitable[None]]
    sla_key: Callable[[str], str]

    async def park(self, step: str, reason: str) -> bool:
        """A step out of retries waits for ops to retry it (after fixing its cause): True."""
        return await self._park_with(step, reason, skippable=False)

    async def park_skippable(self, step: str, reason: str) -> bool:
        """Likewise, and ops may skip the step instead: False."""
        return await self._park_with(step, reason, skippable=True)

    async def _park_with(self, step: str, reason: str, *, skippable: bool) -> bool:
        kinds = {OpsActionKind.RETRY} | ({OpsActionKind.SKIP} if skippable else set())
        self.flag("parked", reason)
        decision = await self.wait_for_ops(step, reason, kinds)
        self.unflag("parked")
        await self.resumed(step, decision)
        return decision.action is OpsActionKind.RETRY

    def sla_hooks(self, step: str, sla: timedelta) -> tuple[Hook, Hook]:
        """`within_sla`'s hooks for `step`: a breach flags and tells; the step's end after a
        breach clears the flag and tells (only if the flag was still set)."""

        async def breach() -> None:
            self.flag(self.sla_key(step), f"{step} over its SLA of {sla}")
            await self.breached(step, sla)

        async def recover() -> None:
            if self.unflag(self.sla_key(step)):
                await self.recovered(step)

        return breach, recover
