"""The `review_items` table as SQLAlchemy Core sees it; migrations 0001 and 0002 create the same table."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from service.db.tables import UTCDateTime, metadata
from service.review.items import LANGUAGE_LENGTH, NAME_LENGTH, TICKET_ID_LENGTH, ReviewItem

review_items = sa.Table(
    "review_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.String(TICKET_ID_LENGTH), nullable=False, unique=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("language", sa.String(LANGUAGE_LENGTH), nullable=False),
    sa.Column("model_label", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("probabilities", sa.JSON, nullable=False),
    sa.Column("model_version", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Column("decided_label", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("decided_by", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    # An audit item is a ticket the model routed by itself, queued to measure its precision.
    sa.Column("audit", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_share"),
    # A decision is written whole or not at all: label, reviewer and time together.
    sa.CheckConstraint(
        "(decided_at IS NULL AND decided_label IS NULL AND decided_by IS NULL)"
        " OR (decided_at IS NOT NULL AND decided_label IS NOT NULL AND decided_by IS NOT NULL)",
        name="decision_complete",
    ),
)

# The queue is read as "undecided, most uncertain first, then oldest"; a partial index on the
# undecided rows serves that order and stays small as decisions accumulate.
sa.Index(
    "ix_review_items_pending",
    review_items.c.confidence,
    review_items.c.created_at,
    review_items.c.id,
    postgresql_where=review_items.c.decided_at.is_(None),
    sqlite_where=review_items.c.decided_at.is_(None),
)
sa.Index("ix_review_items_decided_at", review_items.c.decided_at)
# Live precision reads the decided audits of one model version over a window of days.
sa.Index("ix_review_items_audit_decided", review_items.c.audit, review_items.c.model_version, review_items.c.decided_at)


def row_to_item(row: Row[Any]) -> ReviewItem:
    """Turn a selected `review_items` row into a plain ReviewItem."""
    m = row._mapping
    return ReviewItem(
        id=m["id"],
        ticket_id=m["ticket_id"],
        subject=m["subject"],
        body=m["body"],
        language=m["language"],
        model_label=m["model_label"],
        confidence=float(m["confidence"]),
        probabilities={str(k): float(v) for k, v in (m["probabilities"] or {}).items()},
        model_version=m["model_version"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        claimed_by=m["claimed_by"],
        claimed_until=m["claimed_until"],
        decided_label=m["decided_label"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
        note=m["note"],
        audit=bool(m["audit"]),
    )
