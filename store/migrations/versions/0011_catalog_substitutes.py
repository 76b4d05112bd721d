"""Catalog substitutes: a catalog item may list SKUs a customer can take instead when it is
backordered (issue 17, the backorder choice).

Revision ID: 0011_catalog_substitutes
Revises: 0010_warehouse_tasks
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_catalog_substitutes"
down_revision: str | None = "0010_warehouse_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "catalog_items",
        sa.Column("substitutes", postgresql.JSONB(), server_default="[]", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("catalog_items", "substitutes")
