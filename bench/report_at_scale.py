"""The management report over a million order events: timings and the query plans, to show the
report's indexes (migration 0005) are used. A measurement to read, never a test that asserts.

    .venv/bin/python bench/report_at_scale.py [--orders 100000]

Creates a throwaway database (embedded PostgreSQL unless OMS_DATABASE_URL), fills it with
`--orders` orders of 10 events each over 100 days (5% with an SLA breach, 10% cancelled, 8%
returned), runs the report for one week and for all time, then EXPLAIN (ANALYZE, BUFFERS) of each
of the report's statements for the week; with `--compare`, drops migration 0005's indexes and times
the report again. Drops the database afterwards.
"""

import argparse
import re
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text

from store import reports
from store.db import make_engine, make_session_factory
from store.testing import temporary_database

REPORT_INDEXES = ("ix_orders_created_at_covering", "ix_order_events_order_id_seq_covering", "ix_order_events_sla_breached")

# Ten events per order: the happy path, with an SLA note in `fulfilling` for every 20th order,
# a cancellation instead of shipping for every 10th and a return for every 12th.
FILL = """
INSERT INTO orders (order_id, status, customer_id, channel, channel_order_id, needs_attention, total,
                    created_at, updated_at, version, document)
SELECT 'B-' || n,
       CASE WHEN n % 10 = 0 THEN 'cancelled' WHEN n % 12 = 0 THEN 'returning' ELSE 'delivered' END,
       'c-' || (n % 5000),
       (ARRAY['web', 'app', 'marketplace', 'social', 'pos'])[1 + n % 5],
       NULL, false, 99.00,
       timestamptz '2026-01-01 00:00+00' + (n * interval '86.4 seconds'),
       timestamptz '2026-01-01 00:00+00' + (n * interval '86.4 seconds') + interval '3 days',
       10,
       jsonb_build_object(
         'totals', jsonb_build_object('refunded', CASE WHEN n % 12 = 0 THEN '99.00' ELSE '0.00' END),
         'returns', CASE WHEN n % 12 = 0 THEN '[{"rma_id": "r"}]'::jsonb ELSE '[]'::jsonb END)
FROM generate_series(1, :orders) AS n;

INSERT INTO order_events (order_id, seq, at, status, event, actor, detail)
SELECT o.order_id, s.seq, o.created_at + (s.seq * s.seq * interval '7 minutes'),
       CASE WHEN o.status = 'cancelled' AND s.seq >= 6 THEN 'cancelled' ELSE s.status END,
       CASE WHEN s.seq = 5 AND substr(o.order_id, 3)::int % 20 = 0 THEN 'sla.breached' ELSE s.event END,
       'bench', '{}'::jsonb
FROM orders o
CROSS JOIN (VALUES (1, 'received', 'order.received'), (2, 'verifying', 'order.verifying'),
                   (3, 'payment_pending', 'payment.pending'), (4, 'fulfilling', 'payment.authorized'),
                   (5, 'fulfilling', 'shipment.picking'), (6, 'shipped', 'order.shipped'),
                   (7, 'shipped', 'tracking.in_transit'), (8, 'shipped', 'tracking.out_for_delivery'),
                   (9, 'delivered', 'order.delivered'), (10, 'delivered', 'notification.sent'))
           AS s(seq, status, event);

INSERT INTO shipments (shipment_id, order_id, warehouse, status, carrier, tracking_number, document, updated_at)
SELECT order_id || '-P1', order_id, 'WH-EAST', CASE WHEN status = 'cancelled' THEN 'cancelled' ELSE 'delivered' END,
       'swift', NULL,
       jsonb_build_object('promised_by', (created_at + interval '3 days')::date),
       created_at + CASE WHEN substr(order_id, 3)::int % 7 = 0 THEN interval '5 days' ELSE interval '2 days' END
FROM orders;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders to generate (10 events each)")
    parser.add_argument("--compare", action="store_true", help="time the report again without 0005's indexes")
    args = parser.parse_args()
    with temporary_database(prefix="orderflow_bench") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        started = time.monotonic()
        with engine.begin() as conn:
            for statement in filter(str.strip, FILL.split(";\n")):
                conn.execute(text(statement), {"orders": args.orders})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            events = conn.exec_driver_sql("SELECT count(*) FROM order_events").scalar_one()
        print(f"generated {args.orders} orders, {events} events in {time.monotonic() - started:.1f}s")

        week = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 8, tzinfo=UTC))
        _time_report(sessions, week, "with the report indexes")

        captured: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                captured.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        reports.summary(sessions, *week)
        event.remove(engine, "before_cursor_execute", capture)
        with engine.connect() as conn:
            for statement, parameters in captured:
                plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
                scans = sorted({m.group(0) for line in plan for m in [re.search(r"(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)( using \w+)? on \w+", line)] if m})
                timing = next((line.strip() for line in plan if line.startswith("Execution Time")), "")
                print("\n" + " ".join(statement.split())[:160] + " ...")
                print("  " + timing)
                for scan in scans:
                    print("  " + scan)
        if args.compare:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for index in REPORT_INDEXES:
                    conn.exec_driver_sql(f"DROP INDEX {index}")
                conn.exec_driver_sql("ANALYZE")
            print()
            _time_report(sessions, week, "without them")
        engine.dispose()


def _time_report(sessions: Any, week: tuple[datetime, datetime], label: str) -> None:
    for period, (since, until) in (("one week", week), ("all time", (None, None))):
        reports.summary(sessions, since, until)  # warm the cache once
        started = time.monotonic()
        figures = reports.summary(sessions, since, until)
        elapsed = (time.monotonic() - started) * 1000
        print(f"report {label}, {period}: {figures.orders} orders in {elapsed:.0f} ms")


if __name__ == "__main__":
    main()
