"""The warehouse work queue (`GET /warehouse/tasks`, store/warehouse_tasks.py): the parcels waiting
to be picked at one warehouse, found without reading the shipments that have left picking (almost
all of them).

Revision ID: 0010_warehouse_tasks
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_warehouse_tasks"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_shipments_warehouse_picking",
        "shipments",
        ["warehouse"],
        postgresql_where=sa.text("status = 'picking'"),
    )


def downgrade() -> None:
    op.drop_index("ix_shipments_warehouse_picking", table_name="shipments")
