"""After-sales feedback and the complaints queue (R11): customers rate orders and complain;
complaints wait in an ops queue until resolved.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), server_default="open", nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaints")),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_complaints_status_known")),
    )
    op.create_index("ix_complaints_order_id", "complaints", ["order_id"])
    op.create_index("ix_complaints_status_opened_at", "complaints", ["status", "opened_at"])

    op.create_table(
        "feedback",
        sa.Column("feedback_id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("complaint_id", sa.String(32), nullable=True),
        sa.Column("idempotency_key", sa.String(300), nullable=True),
        sa.Column("request_hash", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("feedback_id", name=op.f("pk_feedback")),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.complaint_id"],
            name=op.f("fk_feedback_complaint_id_complaints"),
        ),
        sa.CheckConstraint("kind IN ('review', 'complaint')", name=op.f("ck_feedback_kind_known")),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_feedback_rating_range")),
        sa.UniqueConstraint("complaint_id", "kind", name=op.f("uq_feedback_complaint_id_kind")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_feedback_idempotency_key")),
    )
    op.create_index("ix_feedback_order_id", "feedback", ["order_id"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_index(
        "uq_feedback_order_review",
        "feedback",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'review' AND complaint_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_feedback_order_review", table_name="feedback")
    op.drop_index("ix_feedback_created_at", table_name="feedback")
    op.drop_index("ix_feedback_order_id", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_complaints_status_opened_at", table_name="complaints")
    op.drop_index("ix_complaints_order_id", table_name="complaints")
    op.drop_table("complaints")
