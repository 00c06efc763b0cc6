"""Database engines (SQLite or PostgreSQL) and translation of database errors into `StoreError`s.

Errors are re-raised without their cause: SQLAlchemy's messages quote statement parameters,
which hold ticket text, and tracebacks end up in logs. The messages name the review database:
the review queue is the one store so far.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from service.db.errors import StoreError, StoreUnavailable

SQLITE_BUSY_TIMEOUT_SECONDS = 30  # without a timeout (the CLI): writers queue behind each other instead of failing at once
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5  # a down server is reported quickly, as StoreUnavailable
BEGIN_OPTION = "sqlite_begin"  # execution option: the BEGIN form a SQLite transaction uses; set, it marks a write
LONG_WRITE_OPTION = "long_write"  # execution option: a write that may take long (a purge) and gets no statement timeout
_UNDEFINED_TABLE = "42P01"  # PostgreSQL SQLSTATE
_URL_FORMS = "write sqlite:///path/to/reviews.db or postgresql+psycopg://user@host:5432/db"


def make_engine(database_url: str, timeout: float | None = None) -> sa.Engine:
    """Create an engine for `sqlite:///path` or `postgresql+psycopg://...`; no connection yet.

    With `timeout` (the service's TRIAGE_DATABASE_TIMEOUT), no wait on the database lasts longer:
    for a pooled connection, for a lock (SQLite's busy timeout, PostgreSQL's `lock_timeout`) or
    for a write statement (PostgreSQL's `statement_timeout`, except LONG_WRITE_OPTION writes).
    A wait cut short is an OperationalError, so the store reports StoreUnavailable and a review
    item goes to the retry buffer instead of holding a request. Reads get no statement timeout:
    an export may rightly take long. Without `timeout` (the CLI) waits are as long as it takes.
    """
    try:
        url = sa.make_url(database_url)
    except exc.ArgumentError:
        raise ValueError(f"the database URL is not valid: {_URL_FORMS}") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, timeout)
    if backend == "postgresql":
        if url.get_driver_name() != "psycopg":
            url = url.set(drivername="postgresql+psycopg")  # the driver this project installs
        return _postgres_engine(url, timeout)
    raise ValueError(f"unsupported database '{backend}': {_URL_FORMS}")


def _postgres_engine(url: sa.URL, timeout: float | None) -> sa.Engine:
    connect_timeout = POSTGRES_CONNECT_TIMEOUT_SECONDS if timeout is None else max(1, min(POSTGRES_CONNECT_TIMEOUT_SECONDS, math.ceil(timeout)))
    engine = sa.create_engine(url, pool_pre_ping=True, pool_timeout=30 if timeout is None else timeout,
                              connect_args={"connect_timeout": connect_timeout})
    if timeout is None:
        return engine
    milliseconds = max(1, round(timeout * 1000))

    @event.listens_for(engine, "connect")
    def _lock_timeout(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:  # SET, not the URL's `options`: those may set search_path already
            cursor.execute(f"SET lock_timeout = {milliseconds}")
        dbapi_connection.commit()

    @event.listens_for(engine, "begin")
    def _statement_timeout(connection: sa.Connection) -> None:
        options = connection.get_execution_options()
        if options.get(BEGIN_OPTION) and not options.get(LONG_WRITE_OPTION):
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")

    return engine


def _sqlite_engine(url: sa.URL, timeout: float | None) -> sa.Engine:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise ValueError("SQLite needs a file path, e.g. sqlite:///data/reviews.db (an in-memory database is neither durable nor shared)")
    folder = Path(url.database).expanduser().resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreUnavailable(f"cannot create the folder {folder} for the review database: {e.strerror}") from None
    busy_seconds = SQLITE_BUSY_TIMEOUT_SECONDS if timeout is None else timeout
    engine = sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_timeout=30 if timeout is None else timeout,
        connect_args={"timeout": busy_seconds, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that SQLAlchemy's BEGIN below
        # covers every statement, DDL included (migrations are then all-or-nothing).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {round(busy_seconds * 1000)}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = FULL")  # an acknowledged commit survives a crash
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # Writers ask for BEGIN IMMEDIATE: they take the write lock up front and wait for it
        # (busy timeout) instead of failing when a read transaction tries to become a write.
        connection.exec_driver_sql(connection.get_execution_options().get(BEGIN_OPTION, "BEGIN"))

    return engine


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL mode (readers never block the writer), waiting out other connections.

    Switching a new file's journal mode needs an exclusive lock and SQLite does not wait for it
    (no busy handler), so replicas that open a new database at the same moment retry here.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if mode == "wal" or cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("could not switch the database to WAL mode")
        time.sleep(0.05)


def _first_line(error: BaseException | None, password: str | None) -> str:
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return text.replace(password, "***") if password else text


def _missing_table(error: exc.DBAPIError) -> bool:
    message = str(error.orig).lower()
    return getattr(error.orig, "sqlstate", None) == _UNDEFINED_TABLE or "no such table" in message


@contextmanager
def translate_errors(url: sa.URL) -> Iterator[None]:
    """Re-raise database errors as StoreUnavailable (connection kind) or StoreError (others)."""
    where = url.render_as_string(hide_password=True)
    try:
        yield
    except exc.DBAPIError as e:
        if _missing_table(e):
            raise StoreError(f"the review database {where} has no review_items table; run the migrations (ReviewStore.migrate)") from None
        reason = _first_line(e.orig, url.password)
        if isinstance(e, exc.OperationalError | exc.InterfaceError) or e.connection_invalidated:
            raise StoreUnavailable(f"review database {where} is unavailable: {reason}") from None
        raise StoreError(f"review database {where} rejected the operation: {reason}") from None
    except exc.TimeoutError:
        raise StoreUnavailable(f"review database {where} is unavailable: no free connection in the pool") from None
