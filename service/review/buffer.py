"""The retry buffer: review items kept on local disk while the review database is unavailable.

A ticket the service answered with "it waits and will be queued" must reach the queue even if
the process is killed or restarted before the database is back, so the buffer is a file (a
small SQLite database, written with a full sync before the answer goes out), not memory. It
is bounded by bytes, the resource it uses: `capacity_bytes` of serialised items. Past that it
refuses (`BufferFull`) and the prediction endpoints answer 503 with `Retry-After`, so a client
resends later instead of being told a ticket waits that never will.

Items are stored redacted, as the review store would store them, and with their ticket id
fixed (one is generated for a ticket sent without), so writing an item twice, after a crash
between the database's commit and the buffer's delete, updates the same queue entry.
Only one process flushes a buffer file at a time (an exclusive lock on `<file>.lock`), so
items reach the database in the order they were buffered.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

from model.text import readable_text
from service.review.items import NewReviewItem

_SCHEMA = "CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY AUTOINCREMENT, size INTEGER NOT NULL, item TEXT NOT NULL)"


class BufferFull(Exception):
    """The buffer cannot take this item: it is full, or its file cannot be written."""


def default_buffer_file(database_url: str) -> Path:
    """Beside a SQLite review database (`var/triage.db` -> `var/triage-buffer.db`), else `var/review-buffer.db`."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database).expanduser()
        return path.with_name(f"{path.stem}-buffer{path.suffix or '.db'}")
    return Path("var") / "review-buffer.db"


def ready_to_buffer(item: NewReviewItem) -> NewReviewItem:
    """The item as it is kept: text as the store keeps it (`model.text.readable_text`), ticket id fixed."""
    return dataclasses.replace(item, subject=readable_text(item.subject), body=readable_text(item.body),
                               ticket_id=item.ticket_id or f"review-{uuid4().hex}")


class RetryBuffer:
    """Review items in arrival order in a local file, at most `capacity_bytes` of them."""

    def __init__(self, path: Path, capacity_bytes: int):
        self.path = Path(path)
        self.capacity_bytes = capacity_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # created private: it holds ticket text
        os.close(fd)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")  # a buffered item survives a crash once it is acknowledged
        self._db.execute(_SCHEMA)
        # Guards the connection and the counts. It is held for local disk writes only, never while
        # the review database is written, so a slow database never makes a request wait here.
        self._lock = threading.Lock()
        self._count, self._bytes = self._db.execute("SELECT count(*), coalesce(sum(size), 0) FROM items").fetchone()

    def __len__(self) -> int:
        return int(self._count)

    @property
    def size_bytes(self) -> int:
        """Bytes of the items waiting."""
        return int(self._bytes)

    def append(self, item: NewReviewItem) -> int:
        """Keep an item (see `ready_to_buffer`) durably; the number waiting now. BufferFull if it does not fit."""
        data = json.dumps(dataclasses.asdict(item) | {"probabilities": dict(item.probabilities)}, ensure_ascii=False)
        size = len(data.encode("utf-8"))
        with self._lock:
            if self._bytes + size > self.capacity_bytes:
                raise BufferFull(f"the retry buffer is full ({self._bytes} of {self.capacity_bytes} bytes)")
            try:
                self._db.execute("INSERT INTO items (size, item) VALUES (?, ?)", (size, data))
            except sqlite3.Error as e:
                raise BufferFull(f"the retry buffer {self.path} cannot be written ({type(e).__name__})") from None
            self._count += 1
            self._bytes += size
            return int(self._count)

    def oldest(self) -> tuple[int, NewReviewItem] | None:
        """The item that waited longest, with its sequence number, or None when empty."""
        with self._lock:
            row = self._db.execute("SELECT seq, item FROM items ORDER BY seq LIMIT 1").fetchone()
            if row is None:  # another buffer object on this file may have flushed what this one counted
                self._count, self._bytes = 0, 0
                return None
        return int(row[0]), NewReviewItem(**json.loads(row[1]))

    def remove(self, seq: int) -> None:
        """Forget an item once the database holds it."""
        with self._lock:
            row = self._db.execute("DELETE FROM items WHERE seq = ? RETURNING size", (seq,)).fetchone()
            if row is not None:
                self._count -= 1
                self._bytes -= int(row[0])

    @contextmanager
    def flushing(self) -> Iterator[bool]:
        """Hold the right to flush this file (True), or learn that another process holds it (False)."""
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
