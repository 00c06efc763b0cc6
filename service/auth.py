"""API keys with roles: parsing, constant-time checking, and the `require_role` dependency.

Keys come from a file (TRIAGE_API_KEYS_FILE) or the environment (TRIAGE_API_KEYS), either as
JSON (`{"<key>": ["predict", "review"]}`) or as `key:role1,role2` entries, one per line (or
separated by `;`). Only sha256 digests of the keys stay in memory, and a presented key is
compared with every one of them, so neither the keys nor the timing of a check gives them away.

A key must be printable ASCII (it travels in an HTTP header, which carries nothing else, so any
other key could never match), at least MIN_KEY_LENGTH characters, and hard to guess: zxcvbn's
estimate of the guesses it takes must reach 10**MIN_KEY_GUESSES_LOG10. A client address that
presents wrong keys too often is turned away for a while (`service.throttle`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from zxcvbn import zxcvbn

from service.errors import ApiError
from service.throttle import FailureLimiter, client_address

Role = Literal["predict", "review", "admin"]
ROLES: frozenset[str] = frozenset(get_args(Role))
MIN_KEY_LENGTH = 16  # shorter keys can be guessed; `python -c "import secrets; print(secrets.token_urlsafe(32))"`
MAX_KEY_LENGTH = 256  # longer is no safer, and a header that size is refused by some proxies
# About 40 bits: out of reach of online guessing at the failure limit. A generated key
# (secrets.token_urlsafe(32)) scores about 10**43; "Password1234567890!" scores 10**8.
MIN_KEY_GUESSES_LOG10 = 12
_ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; a key whose first 72 characters are strong is strong
_HEADER_SAFE = re.compile(r"[!-~]+")  # visible ASCII: what an HTTP header value can carry unchanged
_GENERATE = "generate one with python -c \"import secrets; print(secrets.token_urlsafe(32))\""

_bearer = HTTPBearer(auto_error=False, description="API key sent as `Authorization: Bearer <key>`.")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key sent as `X-API-Key: <key>`.")


def key_digest(key: str) -> bytes:
    """The sha256 digest a key is kept as (the review page's sessions refer to a key by it)."""
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True)
class KeyRing:
    """The configured keys (as digests) and their roles; empty means open loopback mode."""

    entries: tuple[tuple[bytes, frozenset[str]], ...] = ()

    @property
    def open(self) -> bool:
        """Whether no key is configured, so every request gets every role."""
        return not self.entries

    def roles_of(self, presented: str) -> frozenset[str] | None:
        """The roles of a presented key, or None when it matches no configured key."""
        digest = key_digest(presented)
        found: frozenset[str] | None = None
        for stored, roles in self.entries:
            # No early exit: every key is compared, so timing says nothing about which matched.
            if hmac.compare_digest(digest, stored):
                found = roles
        return found


def parse_keys(text: str, source: str) -> KeyRing:
    """Parse keys in either accepted format; ValueError says what to fix (never quoting a key)."""
    stripped = text.strip()
    if not stripped:
        return KeyRing()
    pairs = _parse_json(stripped, source) if stripped[0] in "{[" else _parse_lines(stripped, source)
    entries: list[tuple[bytes, frozenset[str]]] = []
    for number, (key, roles) in enumerate(pairs, start=1):
        where = f"{source}, key #{number}"
        check_key_strength(key, where)
        role_set = frozenset(roles)
        unknown = role_set - ROLES
        if not role_set or unknown:
            raise ValueError(f"{where}: roles must be some of {', '.join(sorted(ROLES))} (got {', '.join(sorted(role_set)) or 'none'})")
        digest = key_digest(key)
        if any(digest == d for d, _ in entries):
            raise ValueError(f"{where} repeats an earlier key; give each key once with all its roles")
        entries.append((digest, role_set))
    return KeyRing(tuple(entries))


def estimated_guesses_log10(secret: str) -> float:
    """zxcvbn's estimate of the guesses it takes to find `secret` (as a power of ten), from its first 72 characters."""
    return float(zxcvbn(secret[:_ZXCVBN_MAX_LENGTH])["guesses_log10"])


def check_key_strength(key: str, where: str) -> None:
    """Refuse a key that cannot be sent in a header or is easy to guess; the message never quotes it."""
    if not _HEADER_SAFE.fullmatch(key):
        raise ValueError(f"{where} holds characters other than printable ASCII (letters, digits, punctuation; no spaces or accents): "
                         f"a key travels in an HTTP header, so such a key could never match; {_GENERATE}")
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"{where} is shorter than {MIN_KEY_LENGTH} characters; {_GENERATE}")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"{where} is longer than {MAX_KEY_LENGTH} characters; {_GENERATE}")
    guesses_log10 = estimated_guesses_log10(key)
    if guesses_log10 < MIN_KEY_GUESSES_LOG10:
        raise ValueError(f"{where} is easy to guess (about 10^{guesses_log10:.0f} guesses; at least 10^{MIN_KEY_GUESSES_LOG10} are needed: "
                         f"words, names, repeats and sequences such as 1234 or abcd make a key weak); {_GENERATE}")


def _parse_json(text: str, source: str) -> list[tuple[str, list[str]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if isinstance(data, dict):
        items: Iterable[tuple[object, object]] = data.items()
    elif isinstance(data, list) and all(isinstance(d, dict) and set(d) == {"key", "roles"} for d in data):
        items = [(d["key"], d["roles"]) for d in data]
    else:
        raise ValueError(f'{source}: JSON must be {{"<key>": ["predict", ...]}} or [{{"key": "<key>", "roles": [...]}}]')
    pairs = []
    for number, (key, roles) in enumerate(items, start=1):
        if isinstance(roles, str):
            roles = roles.split(",")
        if not isinstance(key, str) or not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ValueError(f"{source}, key #{number}: a key must be a string and its roles a list of strings")
        pairs.append((key.strip(), [r.strip() for r in roles if r.strip()]))
    return pairs


def _parse_lines(text: str, source: str) -> list[tuple[str, list[str]]]:
    pairs = []
    entries = [e.strip() for line in text.splitlines() for e in line.split(";")]
    for number, entry in enumerate((e for e in entries if e and not e.startswith("#")), start=1):
        key, sep, roles = entry.rpartition(":")
        if not sep or not key.strip():
            raise ValueError(f"{source}, entry #{number}: write it as key:role1,role2 (roles: {', '.join(sorted(ROLES))})")
        pairs.append((key.strip(), [r.strip() for r in roles.split(",") if r.strip()]))
    return pairs


@dataclass(frozen=True)
class Principal:
    """Who is calling, as far as the service needs to know: the roles of the presented key."""

    roles: frozenset[str]


def require_role(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets a request through only with a key holding `role` (401 / 403 otherwise;
    429 while the client's address is turned away for presenting wrong keys)."""

    async def check(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header_key: Annotated[str | None, Depends(_api_key_header)],
    ) -> Principal:
        ring: KeyRing = request.app.state.services.keys
        if ring.open:
            return Principal(ROLES)
        presented = bearer.credentials if bearer else header_key
        if not presented:
            raise ApiError(401, "missing_api_key", "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                           headers={"WWW-Authenticate": "Bearer"})
        failures: FailureLimiter = request.app.state.services.auth_failures
        address = client_address(request.scope)
        refuse_if_throttled(failures, address)
        roles = ring.roles_of(presented)
        if roles is None:
            failures.record(address)
            raise ApiError(401, "invalid_api_key", "the API key is not valid; check it or ask for a new one",
                           headers={"WWW-Authenticate": "Bearer"})
        if role not in roles:
            raise ApiError(403, "forbidden", f"this API key lacks the '{role}' role needed here (it has: {', '.join(sorted(roles))})")
        return Principal(roles)

    return check


def refuse_if_throttled(failures: FailureLimiter, address: str) -> None:
    """429 with Retry-After while `address` is turned away for presenting wrong keys (no key is checked then)."""
    wait = failures.retry_after(address)
    if wait is not None:
        raise ApiError(429, "too_many_failed_attempts",
                       f"too many wrong API keys from your address; no key is checked for the next {wait} seconds: check the key, then try again",
                       headers={"Retry-After": str(wait)})
