"""The durable job table (`helpdesk_jobs`): what the webhooks accept and the workers take.

A job is taken with a lease: the worker that claims it writes a fresh `lease_token` and a
`lease_until`, and every later write names that token. A worker that dies (SIGKILL, power loss)
leaves a lease that runs out, and another worker (or the same one after a restart) takes the
job over. On PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`, so several workers never wait
on, or take, the same job; on SQLite `BEGIN IMMEDIATE` serialises claims.

`progress` records what a job has done so far (the classification, each write-back step that
started and finished), so a retried or taken-over job continues instead of starting again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from alembic.util import CommandError
from sqlalchemy.dialects import postgresql, sqlite

from service.db.engine import BEGIN_OPTION, make_engine, translate_errors
from service.db.errors import StoreError
from service.db.migrate import upgrade_to_head
from service.helpdesk.schema import ERROR_LENGTH, helpdesk_jobs

_j = helpdesk_jobs.c
MAX_LIST = 500


class LeaseLost(StoreError):
    """Another worker took the job over (this one's lease ran out); this worker must stop working on it."""


class JobNotFound(StoreError, LookupError):
    """No job has the given id."""


@dataclass(frozen=True)
class Job:
    """One row of the job table."""

    id: int
    helpdesk: str
    kind: str
    ticket_id: str
    state: str
    attempts: int
    run_after: datetime
    event_at: datetime
    created_at: datetime
    updated_at: datetime
    last_error: str | None
    review_ticket_id: str | None
    lease_token: str | None
    progress: dict[str, Any] = field(hash=False)


def _job(row: sa.Row[Any]) -> Job:
    m = row._mapping
    return Job(id=m["id"], helpdesk=m["helpdesk"], kind=m["kind"], ticket_id=m["ticket_id"], state=m["state"], attempts=m["attempts"],
               run_after=m["run_after"], event_at=m["event_at"], created_at=m["created_at"], updated_at=m["updated_at"],
               last_error=m["last_error"], review_ticket_id=m["review_ticket_id"], lease_token=m["lease_token"], progress=dict(m["progress"] or {}))


def _insert(dialect: str) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(helpdesk_jobs)


def insert_job(connection: sa.Connection, now: datetime, helpdesk: str, kind: str, ticket_id: str, progress: dict[str, Any] | None = None) -> bool:
    """Insert a queued job unless one with the same (helpdesk, kind, ticket id) exists; True if inserted."""
    statement = _insert(connection.dialect.name).values(
        helpdesk=helpdesk, kind=kind, ticket_id=ticket_id, state="queued", attempts=0, run_after=now, event_at=now,
        created_at=now, updated_at=now, progress=progress or {},
    ).on_conflict_do_nothing(index_elements=[_j.helpdesk, _j.kind, _j.ticket_id]).returning(_j.id)
    # RETURNING, not rowcount: with psycopg an insert's rowcount is not reliable here.
    return connection.execute(statement).first() is not None


class JobStore:
    """The job table on `sqlite:///path` or `postgresql+psycopg://...` (the service's database)."""

    def __init__(self, database_url: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._engine = make_engine(database_url)
        self._clock = clock

    def now(self) -> datetime:
        """The store's clock, timezone-aware UTC."""
        return self._clock().astimezone(UTC)

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with translate_errors(self._engine.url, "helpdesk job", "helpdesk_jobs"), self._engine.connect() as connection:
            yield connection

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with translate_errors(self._engine.url, "helpdesk job", "helpdesk_jobs"), self._engine.connect() as connection:
            connection.execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
            with connection.begin():
                yield connection

    def migrate(self) -> None:
        """Upgrade the database's schema to the newest revision (shared with the review queue)."""
        with translate_errors(self._engine.url, "helpdesk job", "helpdesk_jobs"):
            try:
                upgrade_to_head(self._engine)
            except CommandError as e:
                raise StoreError(f"cannot migrate the helpdesk job database: {e}") from None

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    # --- accepting work ----------------------------------------------------------------------
    def enqueue(self, helpdesk: str, kind: str, ticket_id: str) -> tuple[Job, bool]:
        """Queue a job for a ticket, or find the one already there; (job, whether it is new)."""
        with self._write() as connection:
            created = insert_job(connection, self.now(), helpdesk, kind, ticket_id)
            row = connection.execute(sa.select(helpdesk_jobs).where(_j.helpdesk == helpdesk, _j.kind == kind, _j.ticket_id == ticket_id)).one()
        return _job(row), created

    # --- working -----------------------------------------------------------------------------
    def claim(self, helpdesks: tuple[str, ...], lease_seconds: float) -> Job | None:
        """Take the next due job (queued and due, or running with an expired lease) under a new lease; None if none is due."""
        now = self.now()
        due = sa.or_(sa.and_(_j.state == "queued", _j.run_after <= now), sa.and_(_j.state == "running", _j.lease_until <= now))
        query = (sa.select(_j.id).where(due, _j.helpdesk.in_(helpdesks)).order_by(_j.run_after, _j.id).limit(1)
                 .with_for_update(skip_locked=True))
        token = uuid4().hex
        with self._write() as connection:
            job_id = connection.execute(query).scalar()
            if job_id is None:
                return None
            connection.execute(sa.update(helpdesk_jobs).where(_j.id == job_id).values(
                state="running", lease_token=token, lease_until=now + timedelta(seconds=lease_seconds), updated_at=now))
            return _job(connection.execute(sa.select(helpdesk_jobs).where(_j.id == job_id)).one())

    def _owned_update(self, job: Job, **values: Any) -> None:
        statement = sa.update(helpdesk_jobs).where(_j.id == job.id, _j.lease_token == job.lease_token, _j.state == "running")
        with self._write() as connection:
            if connection.execute(statement.values(updated_at=self.now(), **values)).rowcount != 1:
                raise LeaseLost(f"helpdesk job {job.id} was taken over by another worker")

    def save_progress(self, job: Job, progress: dict[str, Any], lease_seconds: float, review_ticket_id: str | None = None) -> None:
        """Record what the job has done so far and extend its lease; LeaseLost if it is not ours any more."""
        values: dict[str, Any] = {"progress": progress, "lease_until": self.now() + timedelta(seconds=lease_seconds)}
        if review_ticket_id is not None:
            values["review_ticket_id"] = review_ticket_id
        self._owned_update(job, **values)

    def finish(self, job: Job, progress: dict[str, Any]) -> None:
        """The job is done."""
        self._owned_update(job, state="done", progress=progress, lease_token=None, lease_until=None, last_error=None)

    def reschedule(self, job: Job, run_after: datetime, attempts: int, error: str) -> None:
        """Try the job again at `run_after`."""
        self._owned_update(job, state="queued", run_after=run_after, attempts=attempts, last_error=error[:ERROR_LENGTH],
                           lease_token=None, lease_until=None)

    def bury(self, job: Job, attempts: int, error: str) -> None:
        """Give up on the job: it waits in the dead letters for an admin."""
        self._owned_update(job, state="dead", attempts=attempts, last_error=error[:ERROR_LENGTH], lease_token=None, lease_until=None)

    # --- looking and retrying ----------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        """The job with this id; JobNotFound if none."""
        with self._read() as connection:
            row = connection.execute(sa.select(helpdesk_jobs).where(_j.id == job_id)).first()
        if row is None:
            raise JobNotFound(f"helpdesk job {job_id} does not exist")
        return _job(row)

    def find(self, helpdesk: str, kind: str, ticket_id: str) -> Job | None:
        """The job for a ticket, if there is one."""
        with self._read() as connection:
            row = connection.execute(sa.select(helpdesk_jobs).where(_j.helpdesk == helpdesk, _j.kind == kind, _j.ticket_id == ticket_id)).first()
        return None if row is None else _job(row)

    def dead_letters(self, limit: int = 100) -> list[Job]:
        """Dead jobs, most recently given up first."""
        query = sa.select(helpdesk_jobs).where(_j.state == "dead").order_by(_j.updated_at.desc(), _j.id.desc()).limit(min(limit, MAX_LIST))
        with self._read() as connection:
            return [_job(row) for row in connection.execute(query)]

    def retry(self, job_ids: list[int] | None = None) -> list[int]:
        """Queue dead jobs again, now and with a fresh count of attempts (all of them when `job_ids` is None); the ids queued."""
        now = self.now()
        condition = _j.state == "dead"
        if job_ids is not None:
            condition = sa.and_(condition, _j.id.in_(job_ids))
        with self._write() as connection:
            ids = [int(i) for i in connection.execute(sa.select(_j.id).where(condition).order_by(_j.id)).scalars()]
            if ids:
                connection.execute(sa.update(helpdesk_jobs).where(_j.id.in_(ids)).values(state="queued", attempts=0, run_after=now, updated_at=now))
        return ids

    def counts(self) -> dict[tuple[str, str], int]:
        """Unfinished jobs (queued, running, dead) per (helpdesk, state); done ones are not counted (there are many)."""
        query = (sa.select(_j.helpdesk, _j.state, sa.func.count()).where(_j.state.in_(("queued", "running", "dead")))
                 .group_by(_j.helpdesk, _j.state))
        with self._read() as connection:
            return {(helpdesk, state): int(n) for helpdesk, state, n in connection.execute(query)}


    def purge_done(self, older_than_days: int) -> int:
        """Delete jobs finished more than `older_than_days` ago (their progress holds the decisive phrases); how many."""
        cutoff = self.now() - timedelta(days=older_than_days)
        with self._write() as connection:
            return int(connection.execute(sa.delete(helpdesk_jobs).where(_j.state == "done", _j.updated_at < cutoff)).rowcount)


def queue_decision(connection: sa.Connection, review_ticket_id: str, decision: dict[str, Any], now: datetime) -> bool:
    """Inside the review store's decision transaction: queue the write-back of a decision on an item
    a helpdesk job sent to review (nothing for items that came from elsewhere); True if queued."""
    origin = connection.execute(sa.select(_j.helpdesk, _j.ticket_id).where(_j.kind == "ticket", _j.review_ticket_id == review_ticket_id)).first()
    if origin is None:
        return False
    return insert_job(connection, now, origin.helpdesk, "decision", origin.ticket_id, {"decision": decision})
