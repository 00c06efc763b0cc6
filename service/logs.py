"""Structured logs: one JSON object per line, each with the id of the request it belongs to.

Log calls pass data in `extra={"fields": {...}}`; only those fields, the message and the request
id are written. Exception messages are left out (only the type and the stack's frames are
kept) because an exception raised on ticket input might quote the ticket.

What a line holds is bounded and escaped, whoever wrote the message: a string longer than
MAX_LOG_STRING characters is cut (saying how much was left out), a list is cut after
MAX_LOG_ITEMS, and every character that is not printable (C0 and C1 controls, U+2028 and
U+2029, bidirectional overrides such as U+202E and other format characters) is written as a
JSON escape, so no value can break a line, forge one, or display as something it is not.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
import traceback
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
MAX_LOG_STRING = 500  # characters of one string in a log line; a path or a reason is shorter, a quoted body is not
MAX_LOG_ITEMS = 50  # items of one list or dict


def bounded(value: Any) -> Any:
    """A value fit for a log line: long strings and lists cut, nested values bounded alike."""
    if isinstance(value, str):
        return value if len(value) <= MAX_LOG_STRING else f"{value[:MAX_LOG_STRING]}…[{len(value) - MAX_LOG_STRING} more characters]"
    if isinstance(value, dict):
        return {bounded(str(k)): bounded(v) for k, v in list(value.items())[:MAX_LOG_ITEMS]}
    if isinstance(value, list | tuple | set | frozenset):
        return [bounded(v) for v in list(value)[:MAX_LOG_ITEMS]]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return bounded(str(value))


def escape_unprintable(line: str) -> str:
    """`line` with every non-printable character as a JSON `\\uXXXX` escape (surrogate pairs above U+FFFF)."""
    if line.isprintable():
        return line
    out = []
    for char in line:
        if char.isprintable():
            out.append(char)
            continue
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": bounded(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(bounded(fields))
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _, tb = record.exc_info
            entry["exception"] = exc_type.__name__
            entry["stack"] = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)]
        return escape_unprintable(json.dumps(entry, ensure_ascii=False, default=str))


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever `sys.stderr` is when a record is written, not to the stream it
    was when the handler was made (a command run in-process, as the tests and the notebook do, may
    outlive the stderr it started with)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """Send every log record (ours and uvicorn's) to stderr as JSON lines."""
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's loggers would otherwise keep their own plain-text handlers.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
