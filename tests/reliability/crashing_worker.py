"""A worker that dies right after a side effect commits: `oms worker`'s wiring with the payment
gateway's `capture` and the carriers' `buy_label` wrapped, test-side only.

Each wrapped call runs the real adapter (its transaction commits), then, the first time only (a
marker file per method in $OMS_TEST_CRASH_MARKERS), ends the process with os._exit(137) before the
activity can report its result. Temporal then retries the activity on whatever worker comes next,
which must find the first result by its idempotency key. Production code has no fault hook.
"""

import asyncio
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from activities.carriers import CarrierActivities
from activities.payments import PaymentActivities
from adapters.carriers.builtin import BuiltinCarriers
from adapters.payments.ledger import LedgerGateway
from config.settings import Settings
from config.temporal import connect
from store.db import make_engine, make_session_factory
from worker import activities_for, build_worker

CRASH_EXIT_CODE = 137


class ExitAfterCommit:
    """Delegates to `adapter`; after the first successful `method` call, exits the process."""

    def __init__(self, adapter: Any, method: str, marker: Path) -> None:
        self._adapter = adapter
        self._method = method
        self._marker = marker

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._adapter, name)
        if name != self._method:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if not self._marker.exists():
                self._marker.write_text(repr(result))
                print(f"crashing_worker: {self._method} committed {result!r}; exiting", flush=True)
                os._exit(CRASH_EXIT_CODE)
            return result

        return call


async def main() -> None:
    settings = Settings()
    markers = Path(os.environ["OMS_TEST_CRASH_MARKERS"])
    assert settings.database_url, "OMS_DATABASE_URL is required"
    sessions = make_session_factory(make_engine(settings.database_url))
    payments = PaymentActivities(ExitAfterCommit(LedgerGateway(sessions), "capture", markers / "capture"))
    carriers = CarrierActivities(
        ExitAfterCommit(BuiltinCarriers(sessions), "buy_label", markers / "buy_label"), sessions
    )
    wrapped: dict[str, Callable[..., Any]] = {
        "capture_payment": payments.capture_payment,
        "buy_label": carriers.buy_label,
    }
    activities = [wrapped.get(fn.__name__, fn) for fn in activities_for(sessions)]
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        worker = build_worker(
            client,
            sessions,
            task_queue=settings.task_queue,
            executor=executor,
            activity_slots=settings.activity_threads,
            activities=activities,
        )
        await worker.run()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
