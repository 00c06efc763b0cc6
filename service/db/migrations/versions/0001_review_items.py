"""Create the review_items table.

Revision ID: 0001
Revises:
Create Date: 2025-11-26

Written out in full rather than imported from service.review.schema: a migration records the
schema as it was, and later changes to schema.py must come with a new revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create review_items with its unique ticket id and the pending-queue index."""
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("model_label", sa.String(100), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("probabilities", sa.JSON, nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_label", sa.String(100), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
        sa.UniqueConstraint("ticket_id", name="uq_review_items_ticket_id"),
        sa.CheckConstraint("confidence >= 0 AND confidence <= 1", name="ck_review_items_confidence_share"),
        sa.CheckConstraint(
            "(decided_at IS NULL AND decided_label IS NULL AND decided_by IS NULL)"
            " OR (decided_at IS NOT NULL AND decided_label IS NOT NULL AND decided_by IS NOT NULL)",
            name="ck_review_items_decision_complete",
        ),
    )
    undecided = sa.text("decided_at IS NULL")
    op.create_index(
        "ix_review_items_pending",
        "review_items",
        ["confidence", "created_at", "id"],
        postgresql_where=undecided,
        sqlite_where=undecided,
    )
    op.create_index("ix_review_items_decided_at", "review_items", ["decided_at"])


def downgrade() -> None:
    """Drop review_items and its indexes."""
    op.drop_index("ix_review_items_decided_at", table_name="review_items")
    op.drop_index("ix_review_items_pending", table_name="review_items")
    op.drop_table("review_items")
