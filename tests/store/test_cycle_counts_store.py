"""Cycle counts in the store (store.catalog.count_stock, store.cycle_counts) on a real PostgreSQL:
concurrent decisions on one count, and migration 0014 copying the counts made before it."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from domain.counts import CountPolicy, CountStatus
from domain.errors import CountNotPending, UnknownCount
from store.catalog import count_stock, record_count, set_stock_level
from store.cycle_counts import approve_count, count_items, get_count, pending_counts, reject_count
from store.db import make_engine, make_session_factory
from store.migrate import alembic_config
from store.models import StockAdjustmentRow
from store.testing import temporary_database

SKU, WH = "SKU-HEADSET", "WH-EAST"


def decisions(sf: sessionmaker[Session]) -> list[tuple[int, str, str]]:
    with sf() as s:
        rows = s.execute(
            select(StockAdjustmentRow.delta_on_hand, StockAdjustmentRow.reason, StockAdjustmentRow.actor)
            .where(StockAdjustmentRow.sku == SKU, StockAdjustmentRow.warehouse == WH)
            .where(StockAdjustmentRow.reason.in_(("count", "count_approved")))
            .order_by(StockAdjustmentRow.id)
        ).all()
    return [(int(d), str(r), str(a)) for d, r, a in rows]


@pytest.mark.parametrize("mixed", [False, True], ids=["four-approvals", "approvals-and-rejections"])
def test_ops_deciding_at_once_decide_once(session_factory: sessionmaker[Session], mixed: bool) -> None:
    set_stock_level(session_factory, SKU, WH, 100, 0, 0, "ops")
    count, level = count_stock(session_factory, SKU, WH, 40, "counter", policy=CountPolicy())
    assert count.status == CountStatus.PENDING and level.on_hand == 100
    barrier = threading.Barrier(4)

    def decide(who: int) -> str:
        barrier.wait()
        try:
            if mixed and who % 2:
                reject_count(session_factory, count.count_id, f"ops-{who}", "no")
                return "rejected"
            approve_count(session_factory, count.count_id, f"ops-{who}", "yes")
            return "approved"
        except CountNotPending:
            return "refused"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(decide, range(4)))
    assert outcomes.count("refused") == 3
    if not mixed:
        assert outcomes == ["approved", "refused", "refused", "refused"]
    final = get_count(session_factory, count.count_id)
    assert final.status.value in outcomes
    with session_factory() as s:
        on_hand = s.scalar(text("SELECT on_hand FROM stock_levels WHERE sku = :s AND warehouse = :w"), {"s": SKU, "w": WH})
    expected = 40 if final.status == CountStatus.APPROVED else 100  # 100 - 60
    assert on_hand == expected
    assert decisions(session_factory) == ([(-60, "count_approved", final.decided_by)] if expected == 40 else [])


def test_counts_without_a_policy_always_apply(session_factory: sessionmaker[Session]) -> None:
    # record_count (and count_stock without a policy) keeps the old behaviour: whatever the
    # discrepancy, the count applies; it is recorded as a count all the same.
    set_stock_level(session_factory, SKU, WH, 100, 0, 0, "ops")
    level, discrepancy = record_count(session_factory, SKU, WH, 3, "counter")
    assert (level.on_hand, discrepancy) == (3, -97)
    assert pending_counts(session_factory) == []
    item = next(i for i in count_items(session_factory, datetime.now(UTC) - timedelta(days=90)) if i.sku == SKU and i.warehouse == WH)
    assert item.last_counted_at is not None and item.value == Decimal(0)
    with pytest.raises(UnknownCount):
        approve_count(session_factory, 123456, "ops", "x")


def test_migration_0014_copies_the_earlier_counts(database_url: str) -> None:
    with temporary_database(database_url, prefix="orderflow_mig14") as url:
        config = alembic_config(url)
        command.downgrade(config, "0013_reorder_rules")
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO warehouses (code, name, region) VALUES ('WH-M', 'm', 'east')"))
                conn.execute(text("INSERT INTO catalog_items (sku, name, price) VALUES ('SKU-M', 'm', 10)"))
                conn.execute(
                    text(
                        "INSERT INTO stock_adjustments (sku, warehouse, delta_on_hand, reason, actor, detail, at) VALUES"
                        " ('SKU-M', 'WH-M', -3, 'count', 'counter', '{\"counted\": 7}', '2026-09-01T10:00:00Z'),"
                        " ('SKU-M', 'WH-M', 5, 'receipt', 'dock', '{}', '2026-09-02T10:00:00Z')"
                    )
                )
            command.upgrade(config, "head")
            sf = make_session_factory(engine)
            with sf() as s:
                rows = s.execute(
                    text("SELECT sku, warehouse, counted, book, discrepancy, status, counted_by, counted_at FROM stock_counts")
                ).all()
            assert [tuple(r) for r in rows] == [
                ("SKU-M", "WH-M", 7, 10, -3, "applied", "counter", datetime(2026, 9, 1, 10, tzinfo=UTC))
            ]
            command.downgrade(config, "0013_reorder_rules")  # and back down cleanly
            command.upgrade(config, "head")
        finally:
            engine.dispose()
