"""Fixtures of the review tests: every store test runs on SQLite and on PostgreSQL.

PostgreSQL tests each get a fresh schema (via search_path) on the server at 127.0.0.1:5432, or
the one in TRIAGE_TEST_POSTGRES_URL; they are skipped, with the reason, only if it does not answer.
"""

from __future__ import annotations

import csv
import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from service.review.store import ReviewStore
from tests.service.review.review_store_helpers import FakeClock, ItemFactory, new_item

POSTGRES_URL = os.environ.get("TRIAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parents[3]
SAMPLE_TICKETS = REPO / "data" / "tickets.csv"


@pytest.fixture(scope="session")
def postgres_problem() -> str | None:
    """None when the PostgreSQL server answers, else why it does not."""
    conninfo = sa.make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=3):
            return None
    except psycopg.Error as e:
        return str(e).splitlines()[0]


@pytest.fixture
def postgres_url(postgres_problem: str | None) -> Iterator[str]:
    """A URL whose connections use a fresh, empty PostgreSQL schema (dropped afterwards)."""
    if postgres_problem is not None:
        pytest.skip(f"PostgreSQL at {sa.make_url(POSTGRES_URL).render_as_string()} did not answer: {postgres_problem}")
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a SQLite file under tmp_path or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue' / 'reviews.db'}"  # the store creates the 'queue' folder
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[ReviewStore]:
    """A migrated store on the fake clock, with a 60-second claim TTL."""
    review_store = ReviewStore(database_url, claim_ttl_seconds=60, clock=clock)
    review_store.migrate()
    yield review_store
    review_store.close()


@pytest.fixture
def raw_engine(database_url: str) -> Iterator[sa.Engine]:
    """A plain engine on the same database, to look at stored rows behind the store's back."""
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_item() -> ItemFactory:
    return new_item


@pytest.fixture(scope="session")
def sample_tickets() -> list[dict[str, str]]:
    """Real labelled tickets (multi-line Swedish/English bodies) from the shipped data."""
    with SAMPLE_TICKETS.open(encoding="utf-8", newline="") as handle:
        return list(itertools.islice(csv.DictReader(handle), 40))
