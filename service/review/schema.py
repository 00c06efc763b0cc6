"""The `review_items` table as SQLAlchemy Core sees it; migrations 0001 and 0002 create the same table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from model.redact import redact
from service.db.errors import StoreError
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


# The columns as the store reads them: the JSON and timestamp columns as the database hands them
# over, decoded by `row_to_item` rather than by SQLAlchemy while rows are fetched, so that a row a
# damaged or hostile SQLite file holds (text that is not JSON or not a timestamp) is refused by
# its id instead of failing the whole read with a bare decoding error.
READ_COLUMNS = [
    sa.type_coerce(column, sa.String).label(column.name) if isinstance(column.type, sa.JSON | UTCDateTime) else column
    for column in review_items.c
]


class DamagedRow(StoreError):
    """A stored row whose values this service cannot have written."""


def row_to_item(row: Row[Any]) -> ReviewItem:
    """Turn a row of `READ_COLUMNS` into a plain ReviewItem; DamagedRow names the row if it cannot be.

    Text is redacted again as it is read (`model.redact.redact` is idempotent), so rows written
    before redaction learnt a form of personal data leave the store without it too.
    """
    m = row._mapping
    try:
        return ReviewItem(
            id=int(m["id"]),
            ticket_id=_text(m["ticket_id"]),
            subject=redact(_text(m["subject"])),
            body=redact(_text(m["body"])),
            language=_text(m["language"]),
            model_label=_text(m["model_label"]),
            confidence=float(m["confidence"]),
            probabilities=_probabilities(m["probabilities"]),
            model_version=_text(m["model_version"]),
            created_at=_timestamp(m["created_at"]),
            updated_at=_timestamp(m["updated_at"]),
            claimed_by=_optional_text(m["claimed_by"]),
            claimed_until=_optional_timestamp(m["claimed_until"]),
            decided_label=_optional_text(m["decided_label"]),
            decided_by=_optional_text(m["decided_by"]),
            decided_at=_optional_timestamp(m["decided_at"]),
            note=None if m["note"] is None else redact(_text(m["note"])),
            audit=bool(m["audit"]),
        )
    except (ValueError, TypeError, OverflowError, RecursionError) as e:
        reason = str(e) if isinstance(e, _BadValue) else type(e).__name__
        raise DamagedRow(f"the review database's row with id {m['id']!r:.40} cannot be read ({reason}); the database is damaged "
                         "or was not written by this service: restore it from a backup, or delete that row") from None


class _BadValue(ValueError):
    """A stored value of the wrong kind; its message says which."""


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _BadValue(f"a text column holds {type(value).__name__}")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _probabilities(value: object) -> dict[str, float]:
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise _BadValue("'probabilities' is not JSON") from None
    if not isinstance(value, dict) or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in value.values()):
        raise _BadValue("'probabilities' is not a mapping of label to number")
    return {str(k): float(v) for k, v in value.items()}


def _timestamp(value: object) -> datetime:
    if isinstance(value, str):  # SQLite: the text SQLAlchemy wrote, naive UTC
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _BadValue("a timestamp column holds text that is no timestamp") from None
    if not isinstance(value, datetime):
        raise _BadValue(f"a timestamp column holds {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _optional_timestamp(value: object) -> datetime | None:
    return None if value is None else _timestamp(value)
