"""Signed session cookies and CSRF tokens of the agents' review page.

The cookie holds a small JSON object (reviewer name, language, CSRF token, a fingerprint of the
reviewer key, one pending status message) and an HMAC-SHA256 signature over it, so it cannot
be forged or altered without the signing key. It carries no API key: only a fingerprint that is
checked against the configured keys on every request, so removing a key ends its sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from service.auth import KeyRing

COOKIE_NAME = "triage_review"
COOKIE_PATH = "/review"
SESSION_MAX_AGE_SECONDS = 12 * 3600  # one working day; an agent signs in again the next morning
OPEN_MODE = "open"  # the key fingerprint of a session signed in while no API keys are configured
LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"


def key_fingerprint(digest: bytes) -> str:
    """A short, non-reversible name for a configured key's digest, kept in the session."""
    return hashlib.sha256(b"triage-review-session:" + digest).hexdigest()[:32]


@dataclass
class WebSession:
    """What the page remembers about one browser between requests."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    language: str = DEFAULT_LANGUAGE
    reviewer: str | None = None
    key: str | None = None
    flash: list[str] | None = None  # [kind, message]: shown once, on the next page
    issued: float = field(default_factory=time.time)

    def sign_in(self, reviewer: str, key: str) -> None:
        """Remember the reviewer; a new CSRF token, so a token seen before sign-in is worthless after it."""
        self.reviewer, self.key, self.csrf = reviewer, key, secrets.token_urlsafe(32)
        self.issued = time.time()  # the session lasts SESSION_MAX_AGE_SECONDS from sign-in

    def sign_out(self) -> None:
        """Forget the reviewer and start a new CSRF token."""
        self.reviewer, self.key, self.csrf = None, None, secrets.token_urlsafe(32)

    def say(self, kind: str, message: str) -> None:
        """Queue a status message (`ok`, `info` or `error`) for the next page."""
        self.flash = [kind, message]

    def take_flash(self) -> tuple[str, str] | None:
        """The pending status message, removed from the session."""
        flash, self.flash = self.flash, None
        return (flash[0], flash[1]) if flash else None

    def csrf_matches(self, presented: str | None) -> bool:
        """Whether a form's token is this session's (compared in constant time)."""
        return bool(presented) and hmac.compare_digest(self.csrf.encode(), str(presented).encode())

    def signed_in_with(self, ring: KeyRing) -> bool:
        """Whether a reviewer is signed in with a key that is still configured with the `review` role."""
        if not self.reviewer or not self.key:
            return False
        if ring.open:
            return self.key == OPEN_MODE
        return any(hmac.compare_digest(self.key, key_fingerprint(digest)) and "review" in roles for digest, roles in ring.entries)


class SessionCodec:
    """Turns sessions into signed cookie values and back."""

    def __init__(self, secret: bytes, max_age: int = SESSION_MAX_AGE_SECONDS):
        self._secret = secret
        self.max_age = max_age

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def dumps(self, session: WebSession) -> str:
        """The cookie value: base64(JSON) '.' base64(signature)."""
        payload = base64.urlsafe_b64encode(json.dumps(asdict(session), separators=(",", ":")).encode())
        return f"{payload.decode()}.{base64.urlsafe_b64encode(self._sign(payload)).decode()}"

    def loads(self, value: str | None) -> WebSession | None:
        """The session in a cookie value, or None if it is missing, forged, malformed or expired."""
        if not value or "." not in value:
            return None
        payload, _, signature = value.partition(".")
        try:
            valid = hmac.compare_digest(base64.urlsafe_b64decode(signature.encode()), self._sign(payload.encode()))
            data: Any = json.loads(base64.urlsafe_b64decode(payload.encode())) if valid else None
            session = WebSession(**data) if isinstance(data, dict) else None
        except (ValueError, TypeError):  # bad base64 or JSON, or fields this version does not know
            return None
        if session is None or not isinstance(session.issued, int | float) or time.time() - session.issued > self.max_age:
            return None
        if session.language not in LANGUAGES:
            session.language = DEFAULT_LANGUAGE
        return session
