"""The raw-Temporal floor: a workflow with the same number of steps as an order and no business.

It is started the way an order is (Update-with-Start, the update answered after the first
local activity), runs the same number of local activities, activities and signals as one
measured order with its parcel, sleeps the same return window and completes. The activities do
nothing, so whatever an order costs above this is ours. `python -m bench.bare_workflow` runs
its worker, built with the same sandbox settings as ours.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.worker import Worker

BARE_TASK_QUEUE = "bench-bare"
_TIMEOUT = timedelta(seconds=30)


class BareShape(BaseModel):
    """How many steps of each kind one order took (counted from its history)."""

    local_activities: int
    activities: int
    signals: int
    wait: timedelta


@activity.defn
def bare_noop(step: int) -> int:
    return step


@workflow.defn
class BareWorkflow:
    @workflow.init
    def __init__(self, shape: BareShape) -> None:
        self._signals = 0
        self._answered = False

    @workflow.run
    async def run(self, shape: BareShape) -> int:
        # Shaped like an order's first stretch: the submission is answered after a local
        # activity, at the end of the workflow task that a task-queue activity closes; the rest
        # of the steps follow.
        local, remote = shape.local_activities, shape.activities
        if local:
            await workflow.execute_local_activity(bare_noop, 0, start_to_close_timeout=_TIMEOUT)
            local -= 1
        self._answered = True
        if remote:
            await workflow.execute_activity(bare_noop, 0, start_to_close_timeout=_TIMEOUT)
            remote -= 1
        for step in range(local):
            await workflow.execute_local_activity(bare_noop, step, start_to_close_timeout=_TIMEOUT)
        for step in range(remote):
            await workflow.execute_activity(bare_noop, step, start_to_close_timeout=_TIMEOUT)
        await workflow.wait_condition(lambda: self._signals >= shape.signals)
        await workflow.sleep(shape.wait)
        return self._signals

    @workflow.update
    async def submit(self, shape: BareShape) -> bool:
        await workflow.wait_condition(lambda: self._answered)
        return True

    @workflow.signal
    def step(self) -> None:
        self._signals += 1


async def run_bare_worker() -> None:
    from config.settings import Settings
    from config.temporal import connect
    from worker import sandbox_runner

    settings = Settings()
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        worker = Worker(
            client,
            task_queue=BARE_TASK_QUEUE,
            workflows=[BareWorkflow],
            activities=[bare_noop],
            activity_executor=executor,
            max_concurrent_activities=settings.activity_threads,
            workflow_runner=sandbox_runner(),
        )
        await worker.run()


if __name__ == "__main__":
    from cli.common import run_until_signalled

    run_until_signalled(run_bare_worker())
