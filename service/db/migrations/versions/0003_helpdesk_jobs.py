"""Create the helpdesk_jobs table: the helpdesk connectors' durable work queue.

Revision ID: 0003_helpdesk_jobs
Revises: 0002_audit
Create Date: 2026-12-01

Written out in full rather than imported from service.helpdesk.schema: a migration records the
schema as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_helpdesk_jobs"
down_revision = "0002_audit"  # the audit migration, merged alongside; tested here against 0001
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create helpdesk_jobs with its unique event key and the indexes workers and decisions use."""
    op.create_table(
        "helpdesk_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("helpdesk", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("review_ticket_id", sa.String(200), nullable=True),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_helpdesk_jobs"),
        sa.UniqueConstraint("helpdesk", "kind", "ticket_id", name="uq_helpdesk_jobs_helpdesk"),
        sa.CheckConstraint("kind IN ('ticket', 'decision')", name="ck_helpdesk_jobs_kind"),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'dead')", name="ck_helpdesk_jobs_state"),
    )
    op.create_index("ix_helpdesk_jobs_due", "helpdesk_jobs", ["state", "run_after"])
    op.create_index("ix_helpdesk_jobs_review_ticket_id", "helpdesk_jobs", ["review_ticket_id"])


def downgrade() -> None:
    """Drop helpdesk_jobs and its indexes."""
    op.drop_index("ix_helpdesk_jobs_review_ticket_id", table_name="helpdesk_jobs")
    op.drop_index("ix_helpdesk_jobs_due", table_name="helpdesk_jobs")
    op.drop_table("helpdesk_jobs")
