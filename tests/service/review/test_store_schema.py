"""Migrations, connection settings and database-unavailable handling of the review store."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from service.db.engine import make_engine
from service.db.errors import StoreError, StoreUnavailable
from service.db.migrate import alembic_config
from service.review.schema import review_items
from service.review.store import ReviewStore


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder should have a head revision"
    return head


def test_migrate_is_idempotent(database_url: str, raw_engine: sa.Engine) -> None:
    store = ReviewStore(database_url)
    store.migrate()
    store.migrate()  # a second start-up must find nothing to do
    store.close()
    with raw_engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
        tables = sa.inspect(connection).get_table_names()
    assert versions == [_head()], f"alembic_version should hold the head revision once, got {versions}"
    assert "review_items" in tables, f"migrate should create review_items, tables are {tables}"


def test_database_from_a_newer_release_is_a_store_error(store: ReviewStore, raw_engine: sa.Engine) -> None:
    with raw_engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="cannot migrate the review database.*9999"):
        store.migrate()


def test_concurrent_migrations_do_not_collide(database_url: str) -> None:
    """Several replicas starting at once on an empty database: one migrates, the rest find it current."""
    stores = [ReviewStore(database_url) for _ in range(4)]
    barrier, errors = threading.Barrier(len(stores)), []

    def start(store: ReviewStore) -> None:
        barrier.wait()
        try:
            store.migrate()
        except Exception as e:  # collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for s in stores:
        s.close()
    assert not errors, f"concurrent migrate() calls should all succeed, got {errors!r}"


def test_migration_matches_the_table_definition(store: ReviewStore, raw_engine: sa.Engine) -> None:
    """schema.py and migration 0001 describe the same table; a change to one needs the other."""
    with raw_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, review_items.metadata)
    assert diff == [], f"the migrated schema should equal service.review.schema, differences: {diff}"


def _migrate(database_url: str, step: str, revision: str) -> None:
    """Run one Alembic step (`upgrade` or `downgrade`) to `revision` in one transaction, as the store does."""
    engine = make_engine(database_url)
    with engine.connect() as connection, connection.begin():
        getattr(command, step)(alembic_config(connection), revision)
    engine.dispose()


def test_migration_0002_keeps_the_queue_and_marks_it_routed_to_review(database_url: str, raw_engine: sa.Engine) -> None:
    """A database from before audits: its items survive the upgrade as review items, and the downgrade."""
    _migrate(database_url, "upgrade", "0001")
    with raw_engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO review_items (ticket_id, subject, body, language, model_label, confidence, probabilities, model_version, created_at, updated_at)"
            " VALUES ('OLD-1', 'Synken', 'Synken har stannat', 'sv', 'support', 0.6, '{\"support\": 0.6, \"delivery\": 0.4}', 'v0',"
            " '2025-03-01 08:00:00', '2025-03-01 08:00:00')"))
    _migrate(database_url, "upgrade", "0002_audit")
    store = ReviewStore(database_url)
    store.migrate()  # already current: nothing to do
    [item] = store.list_pending()
    assert (item.ticket_id, item.audit, item.model_label) == ("OLD-1", False, "support"), f"an item queued before audits is a review item: {item}"
    assert store.audit_counts(30, "v0") == {} and store.count_pending_audits() == 0, "and no audit"
    store.close()
    _migrate(database_url, "downgrade", "0001")
    with raw_engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("review_items")}
        indexes = {i["name"] for i in sa.inspect(connection).get_indexes("review_items")}
        rows = connection.execute(sa.text("SELECT ticket_id FROM review_items")).scalars().all()
    assert "audit" not in columns and "ix_review_items_audit_decided" not in indexes, f"the downgrade removes what 0002 added: {columns}, {indexes}"
    assert rows == ["OLD-1"] and "ix_review_items_pending" in indexes, f"and keeps the queue and its pending index: {rows}, {indexes}"
    _migrate(database_url, "upgrade", "head")
    with raw_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM review_items WHERE audit = :no"), {"no": False}).scalar() == 1, \
            "upgrading again marks the item as routed to review"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_closed_port_raises_store_unavailable_without_the_password() -> None:
    store = ReviewStore(f"postgresql+psycopg://triage:s3cret-pw@127.0.0.1:{_closed_port()}/reviews")
    with pytest.raises(StoreUnavailable) as raised:
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.list_pending()
    with pytest.raises(StoreUnavailable):
        store.migrate()
    store.close()
    message = str(raised.value)
    assert "s3cret-pw" not in message, f"the error should not leak the password: {message}"
    assert "127.0.0.1" in message and "refused" in message.lower(), f"the error should say which server refused: {message}"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__, "the driver error (with SQL parameters) should not be chained"


def test_sqlite_folder_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    with pytest.raises(StoreUnavailable, match="cannot create the folder"):
        ReviewStore(f"sqlite:///{blocker / 'reviews.db'}")


def test_store_recovers_when_postgres_connections_drop(postgres_url: str) -> None:
    """A server restart kills pooled connections; pre-ping replaces them without an error."""
    name = f"review-store-recovery-{uuid.uuid4().hex[:8]}"  # only this test's connections are killed
    store = ReviewStore(sa.make_url(postgres_url).update_query_dict({"application_name": name}).render_as_string(hide_password=False))
    store.migrate()
    store.ping()
    admin = sa.create_engine(postgres_url)
    with admin.connect() as connection:
        killed = connection.execute(
            sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name"), {"name": name}
        ).scalar()
    admin.dispose()
    assert killed, "the test should have terminated the store's pooled connection"
    store.ping()
    assert store.count_pending() == 0, "the store should answer again after its connections were dropped"
    store.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://user@host/db", "unsupported database 'mysql'"),
        ("sqlite://", "SQLite needs a file path"),
        ("not a url", "not valid"),
    ],
)
def test_bad_database_urls_say_what_to_write(url: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        ReviewStore(url)


def test_unmigrated_database_says_to_run_migrations(database_url: str) -> None:
    store = ReviewStore(database_url)
    with pytest.raises(StoreError, match="run the migrations"):
        store.count_pending()
    store.close()
