"""The lifecycle fuzzer's pytest entry (issue 16).

`test_fuzz_budget` runs a small seeded budget in `make test` (`OMS_FUZZ_SEED`, `OMS_FUZZ_ORDERS`
override it; `make fuzz` runs it with thousands of orders). `test_known_seed` replays every seed
that once found something, with its own size, as a regression test.

On main the run meets known dead ends (tests/lifecycle/known.py): while an entry is listed there,
a run whose only findings are such dead ends is an xfail naming them; any other finding fails.
`OMS_FUZZ_STRICT=1` (or emptying KNOWN_DEAD_ENDS) turns the full check on.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.lifecycle import invariants
from tests.lifecycle.known import KNOWN_DEAD_ENDS, known_dead_end
from tests.lifecycle.world import SECOND_LOOK_WAIT, World

DEFAULT_SEED = 20261201
BUDGET_ORDERS = 6
# Orders that found something (docs/fuzzing.md): (seed, order number). Each order draws from its
# own generator, so one order of a run replays alone: FZ<seed>-<number>-... in a finding.
KNOWN_SEEDS: list[tuple[int, int]] = [
    # (20261201, 3) and (20261201, 4), returned_to_sender with only `note`, are in the budget run itself.
    (20261201, 7),  # the replacement parcel lost too: waits with only `note`
    # The carrier goes silent after the label (delivery SLA, only `note`): in the full run
    # OMS_FUZZ_SEED=3 OMS_FUZZ_ORDERS=24; alone, order 5 does not always meet it (stock interleaving).
    # Since edits are drawn (issue 17) the same order also replays: two edits replaced its parcel,
    # then an address change answered 500 (the ended parcel was signalled too).
    (3, 5),
    # Order edits in the fuzzer (issue 17): exception/failed_attempt for a parcel already lost answered
    # 202 and changed nothing (domain/facts.py now refuses it, 409); OMS_FUZZ_ORDERS=24 in the full run.
    (20261201, 5),
    # The 2,000-order long mode (make fuzz, seed 20261201, after issue 17 merged): a cancel while a
    # short pick's reallocation was starting its parcel never answered (the compensations waited for
    # a parcel they had not cancelled; patch parcel-started-during-cancel-20261202). Alone the
    # order meets other stock, like the other long-mode finds: its seed is kept all the same.
    (20261201, 290),
    # make fuzz FUZZ_ORDERS=1000 on 71e5f83: a return requested while a wrong item's replacement
    # shipped answered only once the replacement was delivered (patch return-starts-at-once-20261202).
    (20261201, 937),
    # make fuzz (2,000 orders) on e00ef46: a cod parcel picked short of everything left its share
    # promised for good (patch cod-short-pick-share-20261202); it replays alone.
    (20261201, 491),
]
CONCURRENT = 4  # orders alive at once
ROUND = 24  # orders per round of live, quiet, check
STEPS = 14  # world events per order, at most


async def run(world: World, sessions: sessionmaker[Session], orders: int) -> list[str]:
    """`orders` orders in rounds of ROUND: each round lives, goes quiet and is checked on its own
    SKUs, so a long run never piles thousands of open orders on the stack."""
    done = 0
    while done < orders:
        size = min(ROUND, orders - done)
        await one_round(world, sessions, size)
        done += size
    strict = os.environ.get("OMS_FUZZ_STRICT") == "1"
    new, known = [], []
    for finding in world.findings:
        key = known_dead_end(finding, world.settled.get(finding.order_id))
        if key is not None and key in KNOWN_DEAD_ENDS and not strict:
            known.append(f"{key}: {finding}")
        else:
            new.append(str(finding))
    print(f"\nlifecycle fuzz seed={world.seed} orders={orders}: {len(new)} new, {len(known)} known findings")
    for line in known:
        print("  known", line)
    answers = Counter(f"{entry.split(' ')[1]} {entry.split(' -> ')[-1]}" for entry in world.log)
    print("  answers:", ", ".join(f"{k} x{n}" for k, n in sorted(answers.items())))
    for order_id in sorted({f.order_id for f in world.findings}):
        print(f"  history of {order_id}:")
        for entry in world.log:
            if entry.startswith(order_id + " "):
                print("    ", entry)
    assert not new, f"lifecycle fuzz seed={world.seed} (OMS_FUZZ_SEED={world.seed} OMS_FUZZ_ORDERS={orders}):\n" + "\n".join(new)
    return known


async def one_round(world: World, sessions: sessionmaker[Session], size: int) -> None:
    world.skus = []
    world.orders = []
    await world.stock_up()
    before = invariants.snapshot(sessions, world.skus)

    async def one() -> None:
        order_id = await world.submit()
        await world.live(order_id, world.rng.randint(2, STEPS))

    started = time.monotonic()
    stop = asyncio.Event()
    moving = asyncio.create_task(world.move_stock(stop))  # ops' transfers, while the orders live
    counting = asyncio.create_task(world.count_stock(stop))  # the warehouse's cycle counts, likewise
    queue = list(range(size))
    try:
        while queue:
            batch, queue = queue[:CONCURRENT], queue[CONCURRENT:]
            await asyncio.gather(*(one() for _ in batch))
    finally:
        stop.set()
        await moving
        await counting
    # The world goes quiet: every window is skipped, then the order settles.
    lived = time.monotonic()
    await world.release_holds(world.orders)
    await world.skip_time(world.orders)
    skipped = time.monotonic()
    for order_id in world.orders:
        world.settled[order_id] = await world.settle(order_id)
    # A second look at what seems stuck, with a longer skip (SECOND_LOOK_WAIT): a skip that ran out
    # of real time is the harness's, not the order's. What is still stuck after it is a finding.
    stuck = [oid for oid in world.orders if not invariants.has_way_out(world.settled[oid])]
    if stuck:
        await world.skip_time(stuck, wait=SECOND_LOOK_WAIT)
        for order_id in stuck:
            world.settled[order_id] = await world.settle(order_id)
    for order_id in world.orders:
        order = world.settled[order_id]
        invariants.way_out(world, order)
        invariants.money(world, sessions, order)
        await invariants.timeline(world, order)
        await invariants.projection(world, order)
    invariants.stock(world, sessions, before, {oid: world.settled[oid]["status"] for oid in world.orders})
    invariants.short_picks(world, sessions, before)
    invariants.notifications(world, sessions)
    print(f"  round of {size}: lived {lived - started:.0f}s, quiet {skipped - lived:.0f}s, checked {time.monotonic() - skipped:.0f}s")


async def fuzz(
    seed: int, orders: int, api: httpx.AsyncClient, client: Client, env: WorkflowEnvironment,
    sessions: sessionmaker[Session], first: int = 1,
) -> None:
    print(f"\nlifecycle fuzz: OMS_FUZZ_SEED={seed} OMS_FUZZ_ORDERS={orders} (from order {first})")
    known = await run(World(seed, api, client, env, submitted=first - 1), sessions, orders)
    if known:
        pytest.xfail(f"seed {seed}: only known dead ends: " + ", ".join(sorted({k.split(':')[0] for k in known})))


async def test_fuzz_budget(api: httpx.AsyncClient, client: Client, temporal_env: WorkflowEnvironment, sessions: sessionmaker[Session]) -> None:
    seed = int(os.environ.get("OMS_FUZZ_SEED", DEFAULT_SEED))
    orders = int(os.environ.get("OMS_FUZZ_ORDERS", BUDGET_ORDERS))
    # OMS_FUZZ_FIRST: start at that order number, e.g. the first of a long run's round (rounds of
    # ROUND orders from 1), to meet a finding again with the orders that lived beside it.
    first = int(os.environ.get("OMS_FUZZ_FIRST", "1"))
    await fuzz(seed, orders, api, client, temporal_env, sessions, first=first)


@pytest.mark.parametrize(("seed", "order"), KNOWN_SEEDS, ids=[f"FZ{s}-{n}" for s, n in KNOWN_SEEDS])
async def test_known_seed(
    seed: int, order: int, api: httpx.AsyncClient, client: Client, temporal_env: WorkflowEnvironment,
    sessions: sessionmaker[Session],
) -> None:
    """One order that once found something, replayed alone from its own generator."""
    await fuzz(seed, 1, api, client, temporal_env, sessions, first=order)
