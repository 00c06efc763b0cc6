"""Database engines (SQLite or PostgreSQL) and translation of database errors into `StoreError`s.

Errors are re-raised without their cause: SQLAlchemy's messages quote statement parameters,
which hold ticket text, and tracebacks end up in logs. The messages name the store they come
from (the review queue's by default; the helpdesk job table's shares the same database).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from service.db.errors import StoreError, StoreUnavailable

SQLITE_BUSY_TIMEOUT_SECONDS = 30  # writers queue behind each other instead of failing at once
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5  # a down server is reported quickly, as StoreUnavailable
BEGIN_OPTION = "sqlite_begin"  # execution option: the BEGIN form a SQLite transaction uses
_UNDEFINED_TABLE = "42P01"  # PostgreSQL SQLSTATE
_URL_FORMS = "write sqlite:///path/to/reviews.db or postgresql+psycopg://user@host:5432/db"


def make_engine(database_url: str) -> sa.Engine:
    """Create an engine for `sqlite:///path` or `postgresql+psycopg://...`; no connection yet."""
    try:
        url = sa.make_url(database_url)
    except exc.ArgumentError:
        raise ValueError(f"the database URL is not valid: {_URL_FORMS}") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        if url.get_driver_name() != "psycopg":
            url = url.set(drivername="postgresql+psycopg")  # the driver this project installs
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS})
    raise ValueError(f"unsupported database '{backend}': {_URL_FORMS}")


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise ValueError("SQLite needs a file path, e.g. sqlite:///data/reviews.db (an in-memory database is neither durable nor shared)")
    folder = Path(url.database).expanduser().resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreUnavailable(f"cannot create the folder {folder} for the review database: {e.strerror}") from None
    engine = sa.create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that SQLAlchemy's BEGIN below
        # covers every statement, DDL included (migrations are then all-or-nothing).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
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
def translate_errors(url: sa.URL, store: str = "review", table: str = "review_items") -> Iterator[None]:
    """Re-raise database errors as StoreUnavailable (connection kind) or StoreError (others), naming the `store`."""
    where = url.render_as_string(hide_password=True)
    try:
        yield
    except exc.DBAPIError as e:
        if _missing_table(e):
            raise StoreError(f"the {store} database {where} has no {table} table; run the migrations (start the service once)") from None
        reason = _first_line(e.orig, url.password)
        if isinstance(e, exc.OperationalError | exc.InterfaceError) or e.connection_invalidated:
            raise StoreUnavailable(f"{store} database {where} is unavailable: {reason}") from None
        raise StoreError(f"{store} database {where} rejected the operation: {reason}") from None
    except exc.TimeoutError:
        raise StoreUnavailable(f"{store} database {where} is unavailable: no free connection in the pool") from None
