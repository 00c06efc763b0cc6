"""Database engines: SQLite connections that survive a crash and let writers wait for each other."""

from __future__ import annotations

from pathlib import Path

from service.db.engine import make_engine


def test_sqlite_connections_are_durable_and_concurrent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'reviews.db'}")
    with engine.connect() as connection:
        pragmas = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}
    engine.dispose()
    assert pragmas["journal_mode"] == "wal", f"SQLite should run in WAL mode, got {pragmas}"
    assert pragmas["synchronous"] == 2, f"synchronous should be FULL (2) so acknowledged writes survive a crash, got {pragmas}"
    assert pragmas["foreign_keys"] == 1, f"foreign keys should be enforced, got {pragmas}"
    assert int(pragmas["busy_timeout"] or 0) >= 1000, f"a busy timeout should make writers wait for each other, got {pragmas}"


def test_the_services_timeout_bounds_sqlite_lock_waits(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}", timeout=0.5)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 500, "a writer waits at most TRIAGE_DATABASE_TIMEOUT for the lock"
    engine.dispose()
