"""Mark review items that are blind audits of automatically routed tickets.

Revision ID: 0002_audit
Revises: 0001
Create Date: 2026-12-01

Every item queued before this revision was routed to review, so the new column starts false.
Written out rather than imported from service.review.schema, as 0001 is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add review_items.audit (false for the existing items) and the index live precision reads."""
    op.add_column("review_items", sa.Column("audit", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_review_items_audit_decided", "review_items", ["audit", "model_version", "decided_at"])


def downgrade() -> None:
    """Drop the audit marks: audit items then read as items routed to review."""
    op.drop_index("ix_review_items_audit_decided", table_name="review_items")
    with op.batch_alter_table("review_items") as batch:
        batch.drop_column("audit")
