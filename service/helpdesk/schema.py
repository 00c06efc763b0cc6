"""The `helpdesk_jobs` table as SQLAlchemy Core sees it; migration 0003 creates the same table.

One row per piece of work for a helpdesk ticket: `ticket` (an event arrived: classify it and
write back) or `decision` (an agent decided the review item it became: write that back). The
unique (helpdesk, kind, ticket_id) is what makes a repeated event a no-op.
"""

from __future__ import annotations

import sqlalchemy as sa

from service.db.tables import UTCDateTime, metadata

TICKET_ID_LENGTH = 64
REVIEW_TICKET_ID_LENGTH = 200  # the review queue's ticket id column
ERROR_LENGTH = 200
KINDS = ("ticket", "decision")
STATES = ("queued", "running", "done", "dead")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


helpdesk_jobs = sa.Table(
    "helpdesk_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("helpdesk", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("ticket_id", sa.String(TICKET_ID_LENGTH), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("run_after", UTCDateTime, nullable=False),
    sa.Column("lease_token", sa.String(32), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("event_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.String(ERROR_LENGTH), nullable=True),
    sa.Column("review_ticket_id", sa.String(REVIEW_TICKET_ID_LENGTH), nullable=True),
    sa.Column("progress", sa.JSON, nullable=False),
    sa.UniqueConstraint("helpdesk", "kind", "ticket_id"),
    sa.CheckConstraint(_one_of("kind", KINDS), name="kind"),
    sa.CheckConstraint(_one_of("state", STATES), name="state"),
)
# Workers look for "queued and due, or running with an expired lease", soonest first.
sa.Index("ix_helpdesk_jobs_due", helpdesk_jobs.c.state, helpdesk_jobs.c.run_after)
# A decision on a review item finds the ticket job that queued it by the review ticket id.
sa.Index("ix_helpdesk_jobs_review_ticket_id", helpdesk_jobs.c.review_ticket_id)
