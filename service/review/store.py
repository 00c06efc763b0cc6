"""The review queue: tickets the model was unsure about, claimed and decided by agents.

Every state change is one conditional UPDATE (or upsert) in one transaction, so the database,
not the Python process, decides races: two agents can never both claim or both decide an item,
on SQLite or PostgreSQL, within one process or across several.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, Self
from uuid import uuid4

import sqlalchemy as sa
from alembic.util import CommandError
from sqlalchemy.dialects import postgresql, sqlite

from model.language import detect_language
from model.text import readable_text
from service.db.engine import BEGIN_OPTION, LONG_WRITE_OPTION, make_engine, translate_errors
from service.db.errors import StoreError
from service.db.migrate import upgrade_to_head
from service.review.errors import ClaimConflict, DecisionConflict, ItemNotFound
from service.review.items import NOTE_LENGTH, NewReviewItem, ReviewItem, require_name
from service.review.schema import READ_COLUMNS, review_items, row_to_item
from service.review.training import Agreement, ExportSummary, write_training_csv

MAX_PAGE_SIZE = 500
# Ids are PostgreSQL INTEGERs: a larger number names no item, and would not even fit in a query
# parameter (SQLite raises OverflowError past 64 bits), so it is answered without asking.
MAX_ITEM_ID = 2**31 - 1
_t = review_items.c
# What a re-sent ticket overwrites; created_at stays, so the queue keeps its place by arrival.
# Called inside the transaction that records a decision, so whatever it writes is stored with the
# decision or not at all (the helpdesk feature queues the decision's write-back this way).
DecisionListener = Callable[[sa.Connection, ReviewItem], None]
_UPSERT_COLUMNS = ("subject", "body", "language", "model_label", "confidence", "probabilities", "model_version", "updated_at", "audit")
# The queue's order: tickets waiting for a routing decision first, most uncertain first, then
# oldest; audits after them, oldest first. Audits are not ordered by confidence: when only some
# get decided, those would be the least confident ones, and the live precision would be biased.
# (service.review.queue.queue_key is the same order in Python.)
QUEUE_ORDER = (_t.audit, sa.case((_t.audit, 0.0), else_=_t.confidence), _t.created_at, _t.id)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class ReviewStore:
    """Persistence of the review queue on `sqlite:///path` or `postgresql+psycopg://...`."""

    def __init__(self, database_url: str, claim_ttl_seconds: int = 900, *, clock: Callable[[], datetime] = utc_now,
                 timeout: float | None = None):
        """`timeout` bounds every wait on the database (see `make_engine`); the service sets it, the CLI does not."""
        if isinstance(claim_ttl_seconds, bool) or not isinstance(claim_ttl_seconds, int) or claim_ttl_seconds <= 0:
            raise ValueError(f"claim_ttl_seconds must be a positive whole number of seconds (got {claim_ttl_seconds!r})")
        self._engine = make_engine(database_url, timeout)
        self._ttl = timedelta(seconds=claim_ttl_seconds)
        self._clock = clock
        self._decision_listeners: list[DecisionListener] = []

    # --- plumbing -------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with translate_errors(self._engine.url), self._engine.connect() as connection:
            yield connection

    @contextmanager
    def _write(self, long: bool = False) -> Iterator[sa.Connection]:
        """One transaction that takes the write lock up front and commits durably on success
        (`long`: no statement timeout, for a purge of many rows)."""
        with translate_errors(self._engine.url), self._engine.connect() as connection:
            connection.execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE", LONG_WRITE_OPTION: long})
            with connection.begin():
                yield connection

    @staticmethod
    def _fetch(connection: sa.Connection, item_id: int) -> ReviewItem:
        row = connection.execute(sa.select(*READ_COLUMNS).where(_t.id == item_id)).first()
        if row is None:
            raise ItemNotFound(item_id)
        return row_to_item(row)

    @staticmethod
    def _raise_conflict(item: ReviewItem) -> NoReturn:
        if item.decided_at is not None:
            raise DecisionConflict(item.id, item.decided_by, item.decided_at, item.decided_label)
        raise ClaimConflict(item.id, item.claimed_by, item.claimed_until)

    @staticmethod
    def _available_to(now: datetime, reviewer: str | None) -> sa.ColumnElement[bool]:
        """Undecided and not held by anyone else: unclaimed, claim expired, or claimed by `reviewer`."""
        free = sa.or_(_t.claimed_by.is_(None), _t.claimed_until <= now)
        if reviewer is not None:
            free = sa.or_(free, _t.claimed_by == reviewer)
        return sa.and_(_t.decided_at.is_(None), free)

    # --- lifecycle ------------------------------------------------------------------------
    def migrate(self) -> None:
        """Upgrade the schema to the newest revision; idempotent, safe at every start-up."""
        with translate_errors(self._engine.url):
            try:
                upgrade_to_head(self._engine)
            except CommandError as e:  # e.g. a newer release already migrated this database
                raise StoreError(f"cannot migrate the review database: {e}") from None
        self.check_tables()

    def check_tables(self) -> None:
        """StoreError unless `review_items` is a table: a database file from elsewhere may hold a view
        of that name, and a recursive view makes every read of it run forever."""
        with self._read() as connection:
            if review_items.name in sa.inspect(connection).get_view_names():
                raise StoreError(f"the review database's {review_items.name} is a view, not the table this service writes; "
                                 "this is not a review database of this service (or it was tampered with)")

    def on_decision(self, listener: DecisionListener) -> None:
        """Call `listener` with every decision, inside the transaction that records it."""
        self._decision_listeners.append(listener)

    def ping(self) -> None:
        """Raise StoreUnavailable when the database cannot be reached."""
        with self._read() as connection:
            connection.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the queue ------------------------------------------------------------------------
    def enqueue(self, item: NewReviewItem) -> ReviewItem:
        """Queue a ticket (as `model.text.readable_text`: plain, normalised, redacted), or update the
        queued entry with the same ticket id.

        A ticket that was already decided is returned unchanged: a decision is never reopened.
        An audit never replaces an item routed to review (an agent may have seen the model's
        view of it, so deciding it would not be blind); a ticket routed to review does replace
        an undecided audit, which then shows the model's view like any review item.
        """
        now = self._now()
        values: dict[str, Any] = {
            "ticket_id": item.ticket_id or f"review-{uuid4().hex}",
            "subject": readable_text(item.subject),
            "body": readable_text(item.body),
            "language": item.language or detect_language(f"{item.subject}\n{item.body}"),
            "model_label": item.model_label,
            "confidence": item.confidence,
            "probabilities": dict(item.probabilities),
            "model_version": item.model_version,
            "created_at": now,
            "updated_at": now,
            "audit": item.audit,
        }
        insert = (postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert)(review_items).values(**values)
        replaceable = sa.and_(_t.decided_at.is_(None), _t.audit) if item.audit else _t.decided_at.is_(None)
        upsert = insert.on_conflict_do_update(
            index_elements=[_t.ticket_id],
            set_={name: insert.excluded[name] for name in _UPSERT_COLUMNS},
            where=replaceable,
        )
        with self._write() as connection:
            connection.execute(upsert)
            row = connection.execute(sa.select(*READ_COLUMNS).where(_t.ticket_id == values["ticket_id"])).one()
        return row_to_item(row)

    def list_pending(self, limit: int = 50, offset: int = 0, *, reviewer: str | None = None) -> list[ReviewItem]:
        """Undecided items nobody else holds, in queue order (QUEUE_ORDER): items routed to review
        most uncertain (lowest confidence) first, then oldest; audits after them, oldest first.

        With `reviewer`, items that reviewer has claimed are listed too.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE} (got {limit!r})")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be a whole number >= 0 (got {offset!r})")
        if offset > MAX_ITEM_ID:  # past any queue's end
            return []
        query = (
            sa.select(*READ_COLUMNS).where(self._available_to(self._now(), reviewer)).order_by(*QUEUE_ORDER).limit(limit).offset(offset)
        )
        with self._read() as connection:
            return [row_to_item(row) for row in connection.execute(query)]

    def count_pending(self, *, reviewer: str | None = None) -> int:
        """How many items `list_pending` would page through."""
        query = sa.select(sa.func.count()).select_from(review_items).where(self._available_to(self._now(), reviewer))
        with self._read() as connection:
            return int(connection.execute(query).scalar_one())

    @staticmethod
    def _check_id(item_id: int) -> None:
        if isinstance(item_id, bool) or not isinstance(item_id, int) or not 1 <= item_id <= MAX_ITEM_ID:
            raise ItemNotFound(item_id)

    def get(self, item_id: int) -> ReviewItem:
        """The item with this id; ItemNotFound if there is none."""
        self._check_id(item_id)
        with self._read() as connection:
            return self._fetch(connection, item_id)

    def claim(self, item_id: int, reviewer: str) -> ReviewItem:
        """Hold an item for `reviewer` for the claim TTL; claiming again extends the hold.

        ClaimConflict if another reviewer holds it, DecisionConflict if it is decided.
        """
        reviewer = require_name("reviewer", reviewer)
        self._check_id(item_id)
        now = self._now()
        update = sa.update(review_items).where(_t.id == item_id, self._available_to(now, reviewer)).values(claimed_by=reviewer, claimed_until=now + self._ttl)
        with self._write() as connection:
            claimed = connection.execute(update).rowcount == 1
            item = self._fetch(connection, item_id)
        if not claimed:
            self._raise_conflict(item)
        return item

    def release(self, item_id: int, reviewer: str) -> bool:
        """Give back an undecided item `reviewer` holds, so it returns to the queue at once
        (an agent skipped it). True if it was released; anything else is left as it is."""
        reviewer = require_name("reviewer", reviewer)
        self._check_id(item_id)
        update = (
            sa.update(review_items)
            .where(_t.id == item_id, _t.claimed_by == reviewer, _t.decided_at.is_(None))
            .values(claimed_by=None, claimed_until=None)
        )
        with self._write() as connection:
            return bool(connection.execute(update).rowcount == 1)

    def decide(self, item_id: int, label: str, reviewer: str, note: str | None = None, allowed_labels: Sequence[str] | None = None) -> ReviewItem:
        """Record the reviewer's label exactly once.

        Only the first decision counts: a later one gets DecisionConflict saying who decided and
        when. An item another reviewer has claimed (unexpired) gets ClaimConflict. An unknown
        label raises ValueError listing the allowed ones. The note is redacted like ticket text.
        """
        label, reviewer = require_name("label", label), require_name("reviewer", reviewer)
        self._check_id(item_id)
        if allowed_labels is not None and label not in allowed_labels:
            raise ValueError(f"unknown label '{label}': allowed labels are {', '.join(allowed_labels)}")
        if note is not None:
            if not isinstance(note, str) or len(note) > NOTE_LENGTH:
                raise ValueError(f"note must be text of at most {NOTE_LENGTH} characters")
            note = readable_text(note) or None
        now = self._now()
        update = (
            sa.update(review_items)
            .where(_t.id == item_id, self._available_to(now, reviewer))
            .values(decided_label=label, decided_by=reviewer, decided_at=now, note=note, claimed_by=None, claimed_until=None)
        )
        with self._write() as connection:
            decided = connection.execute(update).rowcount == 1
            item = self._fetch(connection, item_id)
            if decided:
                for listener in self._decision_listeners:
                    listener(connection, item)
        if not decided:
            self._raise_conflict(item)
        return item

    # --- decisions as training data ---------------------------------------------------------
    def decided(self, since: datetime | None = None) -> list[ReviewItem]:
        """Decided items, oldest decision first; `since` (naive means UTC) keeps later ones only."""
        query = sa.select(*READ_COLUMNS).where(_t.decided_at.is_not(None)).order_by(_t.decided_at, _t.id)
        if since is not None:
            query = query.where(_t.decided_at >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
        with self._read() as connection:
            return [row_to_item(row) for row in connection.execute(query)]

    def export_training_file(self, path: Path) -> ExportSummary:
        """Write every decided item as a labelled ticket CSV (see `training.write_training_csv`)."""
        return write_training_csv(self.decided(), Path(path))

    def agreement(self) -> dict[str, Any]:
        """Share of decisions equal to the model's label, overall and per decided label."""
        agreed = sa.func.sum(sa.case((_t.model_label == _t.decided_label, 1), else_=0))
        query = sa.select(_t.decided_label, sa.func.count(), agreed).where(_t.decided_at.is_not(None)).group_by(_t.decided_label)
        with self._read() as connection:
            counts = {label: (int(n), int(a)) for label, n, a in connection.execute(query)}
        return Agreement.from_counts(counts).as_dict()

    # --- blind audits ---------------------------------------------------------------------------
    def audit_counts(self, window_days: int, model_version: str) -> dict[str, tuple[int, int]]:
        """{model's label: (audits decided in the last `window_days` days, how many of them the
        agent gave that label too)} for the audits of one model version: its precision per label."""
        if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
            raise ValueError(f"window_days must be a whole number >= 1 (got {window_days!r})")
        since = self._now() - timedelta(days=window_days)
        correct = sa.func.sum(sa.case((_t.model_label == _t.decided_label, 1), else_=0))
        query = (
            sa.select(_t.model_label, sa.func.count(), correct)
            .where(_t.audit.is_(True), _t.model_version == model_version, _t.decided_at.is_not(None), _t.decided_at >= since)
            .group_by(_t.model_label)
        )
        with self._read() as connection:
            return {label: (int(n), int(k)) for label, n, k in connection.execute(query)}

    def count_pending_audits(self) -> int:
        """Audit items nobody has decided yet (claimed or not)."""
        query = sa.select(sa.func.count()).select_from(review_items).where(_t.audit.is_(True), _t.decided_at.is_(None))
        with self._read() as connection:
            return int(connection.execute(query).scalar_one())

    def purge_decided(self, older_than_days: int) -> int:
        """Delete items decided more than `older_than_days` days ago; returns how many."""
        if isinstance(older_than_days, bool) or not isinstance(older_than_days, int) or older_than_days < 0:
            raise ValueError(f"older_than_days must be a whole number >= 0 (got {older_than_days!r})")
        cutoff = self._now() - timedelta(days=older_than_days)
        delete = sa.delete(review_items).where(_t.decided_at.is_not(None), _t.decided_at < cutoff)
        with self._write(long=True) as connection:
            return int(connection.execute(delete).rowcount)
