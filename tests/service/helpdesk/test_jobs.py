"""The job table on SQLite and PostgreSQL: migration 0003 matches the table definition, a repeated
event is one job, leases expire and are taken over, and on PostgreSQL concurrent workers never
take the same job (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.helpdesk.jobs import Job, JobStore, LeaseLost
from service.helpdesk.schema import helpdesk_jobs


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'triage.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Iterator[JobStore]:
    jobs = JobStore(database_url, clock=clock)
    jobs.migrate()
    yield jobs
    jobs.close()


def test_migration_matches_the_table_definition(store: JobStore, database_url: str) -> None:
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), helpdesk_jobs.metadata)
    engine.dispose()
    assert diff == [], f"migration 0003 and service.helpdesk.schema describe the same tables, differences: {diff}"


def test_a_repeated_event_is_one_job(store: JobStore) -> None:
    first, created = store.enqueue("freshdesk", "ticket", "4711")
    again, created_again = store.enqueue("freshdesk", "ticket", "4711")
    other, _ = store.enqueue("zendesk", "ticket", "4711")
    assert created and not created_again and again.id == first.id, "the same ticket's second event finds the first job"
    assert other.id != first.id, "the same number in another helpdesk is another ticket"


def test_a_claimed_job_is_not_claimed_again_until_its_lease_runs_out(store: JobStore, clock: Clock) -> None:
    store.enqueue("freshdesk", "ticket", "1")
    job = store.claim(("freshdesk",), lease_seconds=60)
    assert job is not None and job.state == "running", "a due job is claimed"
    assert store.claim(("freshdesk",), 60) is None, "a running job under a live lease is not claimed again"
    clock.now += timedelta(seconds=61)  # the worker died holding it
    taken = store.claim(("freshdesk",), 60)
    assert taken is not None and taken.id == job.id and taken.lease_token != job.lease_token, "an expired lease is taken over with a new token"
    with pytest.raises(LeaseLost):
        store.save_progress(job, {"plan": []}, 60)  # the first worker woke up: it must stop
    store.finish(taken, {"plan": [], "done": []})
    assert store.get(job.id).state == "done", "the new holder finishes it"


def test_reschedule_waits_and_bury_dead_letters(store: JobStore, clock: Clock) -> None:
    store.enqueue("freshdesk", "ticket", "1")
    job = store.claim(("freshdesk",), 60)
    assert job is not None
    store.reschedule(job, clock.now + timedelta(seconds=30), 1, "http_503")
    assert store.claim(("freshdesk",), 60) is None, "a rescheduled job waits until its time"
    clock.now += timedelta(seconds=30)
    job = store.claim(("freshdesk",), 60)
    assert job is not None and job.attempts == 1, "then it is claimed again with its attempts"
    store.bury(job, 2, "invalid_value: x" * 50)
    dead = store.dead_letters()
    assert [d.id for d in dead] == [job.id] and dead[0].last_error is not None and len(dead[0].last_error) == 200, "errors are cut to 200 characters"
    assert store.counts() == {("freshdesk", "dead"): 1}, "counts cover the unfinished states"
    assert store.retry() == [job.id] and store.get(job.id).attempts == 0, "retry queues it with a fresh count"


def test_only_configured_helpdesks_jobs_are_claimed(store: JobStore) -> None:
    store.enqueue("zendesk", "ticket", "1")
    assert store.claim(("freshdesk",), 60) is None, "a worker for Freshdesk leaves Zendesk's jobs alone"


def test_done_jobs_past_retention_are_purged(store: JobStore, clock: Clock) -> None:
    store.enqueue("freshdesk", "ticket", "1")
    job = store.claim(("freshdesk",), 60)
    assert job is not None
    store.finish(job, {"done": []})
    assert store.purge_done(30) == 0, "a fresh done job is kept (it answers repeated events)"
    clock.now += timedelta(days=31)
    assert store.purge_done(30) == 1, "a done job older than the retention is deleted"


def test_concurrent_workers_never_take_the_same_job(database_url: str, clock: Clock) -> None:
    """Several workers claiming at once (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite): each job goes to exactly one."""
    setup = JobStore(database_url, clock=clock)
    setup.migrate()
    for n in range(40):
        setup.enqueue("freshdesk", "ticket", str(n))
    workers = [JobStore(database_url, clock=clock) for _ in range(4)]
    claimed: list[list[Job]] = [[] for _ in workers]
    barrier = threading.Barrier(len(workers))

    def work(index: int) -> None:
        barrier.wait()
        while (job := workers[index].claim(("freshdesk",), 600)) is not None:
            claimed[index].append(job)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [job.id for jobs in claimed for job in jobs]
    assert len(ids) == 40 and len(set(ids)) == 40, f"every job is claimed exactly once, got {len(ids)} claims of {len(set(ids))} jobs"
    for jobs in [setup, *workers]:
        jobs.close()
