"""Indexes for the management report (R13), computed in SQL over a period's orders and events
(store/reports.py); without them the report reads whole tables once there are a million events.

- ix_orders_created_at_covering: the period's orders by created_at, with status and channel in the
  index, so the counts by status, channel and day are an index-only scan.
- ix_order_events_order_id_seq_covering: a period order's events in sequence with their status and
  time, so the step durations (window functions over each order's events) read no table pages.
- ix_order_events_sla_breached: only the `sla.breached` events (a small fraction of all), by order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_created_at_covering", "orders", ["created_at"], postgresql_include=["status", "channel"]
    )
    op.create_index(
        "ix_order_events_order_id_seq_covering",
        "order_events",
        ["order_id", "seq"],
        postgresql_include=["status", "at"],
    )
    op.create_index(
        "ix_order_events_sla_breached",
        "order_events",
        ["order_id", "at"],
        # The event name is domain.events.SLA_BREACHED; a migration keeps its literal (it is history).
        postgresql_where=sa.text("event = 'sla.breached'"),
    )


def downgrade() -> None:
    op.drop_index("ix_order_events_sla_breached", table_name="order_events")
    op.drop_index("ix_order_events_order_id_seq_covering", table_name="order_events")
    op.drop_index("ix_orders_created_at_covering", table_name="orders")
