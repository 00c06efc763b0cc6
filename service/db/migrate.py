"""Run the database's Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from service.db.engine import BEGIN_OPTION

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed number works; it names "this service's schema changes" among PostgreSQL advisory locks.
_MIGRATION_LOCK_KEY = 740_117_001


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic Config pointing at this package's migrations, optionally bound to a connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision in one transaction; a no-op when it is current.

    Concurrent callers are serialised: on PostgreSQL by a transaction-scoped advisory lock, on
    SQLite by BEGIN IMMEDIATE. The second caller then finds the schema current and does nothing.
    """
    with engine.connect() as connection:
        connection.execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            command.upgrade(alembic_config(connection), "head")
