"""Issue 6.2: the payment capture and the label purchase commit, then the worker dies before the
activity reports. The retry, on a fresh worker, finds the first result by its idempotency key:
one charge and one label in the tables."""

import sys
import time
from pathlib import Path

import httpx

from tests.integration.helpers import order_body
from tests.reliability.conftest import until
from tests.reliability.crashing_worker import CRASH_EXIT_CODE
from tests.reliability.orders import Submissions, assert_nothing_lost, stocked_sku, submit_one
from tests.reliability.stack import Process, Stack

SCRIPT = Path(__file__).with_name("crashing_worker.py")


async def test_side_effects_committed_before_a_crash_happen_once(stack: Stack) -> None:
    started = time.monotonic()
    markers = stack.root / "markers"
    markers.mkdir()
    crashing = Process(
        "crashing-worker",
        [sys.executable, str(SCRIPT)],
        {**stack.env, "OMS_TEST_CRASH_MARKERS": str(markers)},
        stack.root / "crashing-worker.log",
    )
    stack.processes.append(crashing)
    stack.start_temporal()
    crashing.start()
    stack.start_api()
    stack.simulator.start()

    seen = Submissions()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
        sku = await stocked_sku(api, 10)
        body = order_body(sku, quantity=2)
        order_id = body["order_id"]
        await submit_one(api, body, seen)

        # The capture commits, then the worker dies without reporting it.
        assert crashing.wait(timeout=120) == CRASH_EXIT_CODE, crashing.tail()
        assert (markers / "capture").exists()
        captured = stack.rows(
            "SELECT payment_id, idempotency_key FROM payments WHERE order_id = :o AND operation = 'capture'",
            o=order_id,
        )
        assert len(captured) == 1, "the capture was committed before the crash"

        # The same crashing worker again: the capture retry passes (marker set); the label purchase
        # commits and the worker dies again.
        crashing.start()
        assert crashing.wait(timeout=180) == CRASH_EXIT_CODE, crashing.tail()
        assert (markers / "buy_label").exists()
        labels = stack.rows(
            "SELECT label_id, tracking_number FROM carrier_labels WHERE shipment_id LIKE :p",
            p=f"{order_id}-P%",
        )
        assert len(labels) == 1, "the label was committed before the crash"

        # A normal worker takes over: both retries find the first results by their keys.
        stack.worker.start()
        await until(lambda: stack.statuses([order_id]) == {"closed": 1}, 240, "the order closed")
        order = (await api.get(f"/orders/{order_id}", headers={"X-API-Key": "dev-ops-key"})).json()

    figures = assert_nothing_lost(stack, seen, sku, 10)
    assert (
        stack.rows(
            "SELECT payment_id, idempotency_key FROM payments WHERE order_id = :o AND operation = 'capture'",
            o=order_id,
        )
        == captured
    ), "one charge: the retried capture returned the stored one"
    assert order["payment"]["status"] == "captured"
    assert (
        stack.rows(
            "SELECT label_id, tracking_number FROM carrier_labels WHERE shipment_id LIKE :p",
            p=f"{order_id}-P%",
        )
        == labels
    ), "one label: the retried purchase returned the stored one"
    assert order["shipments"][0]["tracking_number"] == labels[0][1]
    print(
        f"RELIABILITY crash-after-side-effect: worker died 2x right after a commit (capture, label),"
        f" captures={figures['captures']} labels={figures['labels']} order closed,"
        f" duration={time.monotonic() - started:.0f}s"
    )
