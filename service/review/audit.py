"""Which automatically routed tickets are audited: a stable share, picked by a hash of the ticket.

A ticket's audit key is its id, or, for a ticket sent without one, its text. The key's SHA-256
read as a share of 2**64 is compared with the audit rate, so the pick is the same for a retried
request, in every process and replica, and after a restart; no state is kept. Raising the rate
keeps every ticket picked before and adds more. An id-less ticket stored as an audit gets a
ticket id made from the same hash, so a retry updates that one item instead of adding a second.
"""

from __future__ import annotations

import hashlib

_HASH_SPACE = 2**64
AUDIT_ID_PREFIX = "audit-"  # ticket ids the queue gives id-less audits (review items get "review-...")
_AUDIT_ID_HEX = 32  # 128 bits of the hash: no two texts share an id in practice


def audit_key(ticket_id: str | None, subject: str | None, body: str) -> str:
    """What identifies a ticket across retries: the SHA-256 (hex) of its id, or of its text without one."""
    # The prefixes keep an id from ever hashing like a text that happens to read the same.
    source = f"id:{ticket_id}" if ticket_id is not None else f"text:{subject or ''}\n{body}"
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def picked_for_audit(key: str, rate: float) -> bool:
    """Whether the ticket with this audit key is audited at `rate` (0 to 1)."""
    return int(key[:16], 16) < rate * _HASH_SPACE


def audit_ticket_id(ticket_id: str | None, key: str) -> str:
    """The queue's ticket id of an audit: the caller's id, or one made from the text's hash."""
    return ticket_id if ticket_id is not None else AUDIT_ID_PREFIX + key[:_AUDIT_ID_HEX]
