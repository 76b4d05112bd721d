"""The naive baseline: our order's lifecycle written the plain way on Temporal (issue 18).

What a new user writes from the Temporal tutorials, with no business in it:

- the order: every business step and every status write is a no-op *regular* activity, 16 in
  all (`ORDER_STEPS`), one parcel started as a child workflow and awaited, and the same return
  window (a timer) before the last steps;
- the parcel: a child workflow of 10 no-op regular activities (`PARCEL_STEPS`), fed the same four
  events as ours by signals (`PARCEL_EVENTS`: picked, in transit, out for delivery, delivered).

It is started the way an order is: Update-with-Start, the update answered once the order is
accepted (after `record_accepted`, the status write that our order's answer also waits for), and
the driver sends the parcel's signals (`bench/drive.py`), as the simulator sends ours. Unlike the
same-shape baseline (`bench/bare_workflow.py`) its shape is fixed: it does not follow ours, so a
saving of ours is not handed to it. `python -m bench.naive_workflow` runs its worker, built with
the same sandbox settings as ours.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker

NAIVE_TASK_QUEUE = "bench-naive"
_TIMEOUT = timedelta(seconds=30)

# The order, in order. The update answers once the steps up to ANSWERED_AFTER are done; the parcel
# runs between PARCEL_AFTER and the next step; the return window between WINDOW_AFTER and the next.
ORDER_STEPS = (
    "record_received",
    "verify_catalog",
    "check_risk",
    "record_accepted",
    "notify_accepted",
    "reserve_stock",
    "record_allocated",
    "authorize_payment",
    "capture_payment",
    "record_fulfilling",
    # the parcel (child workflow)
    "record_delivered",
    "notify_delivered",
    "release_reservation",
    # the return window (timer)
    "finalize_payment",
    "record_closed",
    "notify_closed",
)
ANSWERED_AFTER = "record_accepted"
PARCEL_AFTER = "record_fulfilling"
WINDOW_AFTER = "release_reservation"

# The parcel: each event it waits for, and the steps it runs once that event has come.
PARCEL_EVENTS = ("picked", "in_transit", "out_for_delivery", "delivered")
PARCEL_PLAN: tuple[tuple[str | None, tuple[str, ...]], ...] = (
    (None, ("record_parcel_created", "request_pick")),
    ("picked", ("record_picked", "pack", "shop_rates", "buy_label", "hand_over_stock")),
    ("in_transit", ("record_in_transit",)),
    ("out_for_delivery", ("record_out_for_delivery",)),
    ("delivered", ("record_parcel_delivered",)),
)
PARCEL_STEPS = tuple(step for _, steps in PARCEL_PLAN for step in steps)


def parcel_workflow_id(order_workflow_id: str) -> str:
    """The one parcel of a naive order (the driver signals it by this id)."""
    return f"{order_workflow_id}-parcel"


@activity.defn
def naive_step(step: str) -> str:
    """Every step of both workflows: a no-op that answers its own name."""
    return step


async def _step(name: str) -> None:
    await workflow.execute_activity(naive_step, name, start_to_close_timeout=_TIMEOUT)


@workflow.defn
class NaiveParcelWorkflow:
    def __init__(self) -> None:
        self._events: list[str] = []

    @workflow.run
    async def run(self) -> int:
        for event, steps in PARCEL_PLAN:
            if event is not None:
                # The events come in their order, one signal each (the driver sends each once).
                await self._heard(PARCEL_EVENTS.index(event) + 1)
            for step in steps:
                await _step(step)
        return len(self._events)

    async def _heard(self, count: int) -> None:
        await workflow.wait_condition(lambda: len(self._events) >= count)

    @workflow.signal
    def event(self, name: str) -> None:
        self._events.append(name)


@workflow.defn
class NaiveOrderWorkflow:
    @workflow.init
    def __init__(self, wait_seconds: float) -> None:
        self._answered = False

    @workflow.run
    async def run(self, wait_seconds: float) -> str:
        """`wait_seconds`: the return window."""
        for step in ORDER_STEPS:
            await _step(step)
            if step == ANSWERED_AFTER:
                self._answered = True
            elif step == PARCEL_AFTER:
                await workflow.execute_child_workflow(
                    NaiveParcelWorkflow.run, id=parcel_workflow_id(workflow.info().workflow_id)
                )
            elif step == WINDOW_AFTER:
                await workflow.sleep(wait_seconds)
        return "closed"

    @workflow.update
    async def submit(self, wait_seconds: float) -> bool:
        await workflow.wait_condition(lambda: self._answered)
        return True


async def run_naive_worker() -> None:
    from config.settings import Settings
    from config.temporal import connect
    from worker import keep_bytecode, sandbox_runner

    keep_bytecode()  # as our worker does: the sandbox imports this module for every instance
    settings = Settings()
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        worker = Worker(
            client,
            task_queue=NAIVE_TASK_QUEUE,
            workflows=[NaiveOrderWorkflow, NaiveParcelWorkflow],
            activities=[naive_step],
            activity_executor=executor,
            max_concurrent_activities=settings.activity_threads,
            workflow_runner=sandbox_runner(),
        )
        await worker.run()


if __name__ == "__main__":
    from cli.common import run_until_signalled

    run_until_signalled(run_naive_worker())
