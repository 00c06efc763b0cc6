"""The registry key and the signatures it makes: who may vouch for a model directory.

A model directory's `metadata.json` holds the sha256 of every other file, so it is the one file
that vouches for the rest, and nothing inside the directory can vouch for it: whoever can edit it
can edit a digest beside it too. So `triage train` signs it with an HMAC-SHA256 under a secret
key kept outside every model directory and registry (`TRIAGE_REGISTRY_KEY_FILE`, default
`~/.config/ticket-triage/registry.key`), and everything that loads or publishes a model checks
the signature first. Edited thresholds, a made-up version or a swapped model file are refused
unless the editor holds the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path

KEY_FILE_ENV = "TRIAGE_REGISTRY_KEY_FILE"
DEFAULT_KEY_FILE = Path("~/.config/ticket-triage/registry.key")
ALGORITHM = "hmac-sha256"
_KEY_BYTES = 32
_MAX_KEY_FILE_BYTES = 4096


class KeyProblem(RuntimeError):
    """The registry key is missing, unreadable, too weak or readable by others."""


def key_file() -> Path:
    """Where the registry key is kept: `TRIAGE_REGISTRY_KEY_FILE`, else the default place."""
    configured = os.environ.get(KEY_FILE_ENV, "").strip()
    return Path(configured or DEFAULT_KEY_FILE).expanduser()


def load_key(create: bool = False) -> bytes:
    """The registry key; with `create`, a new random key is written first when there is none
    (what `triage train` does on a machine that never signed a model)."""
    path = key_file()
    if create and not path.exists():
        _create_key(path)
    try:
        if path.stat().st_mode & 0o077:
            raise KeyProblem(f"the registry key {path} can be read or changed by other users; make it private: chmod 600 {path}")
        data = path.read_bytes()[:_MAX_KEY_FILE_BYTES]
    except FileNotFoundError:
        raise KeyProblem(
            f"no registry key at {path}: models are signed with the key of the machine that trained them; copy that key "
            f"file here (mode 600) or point {KEY_FILE_ENV} at it") from None
    except OSError as e:
        raise KeyProblem(f"cannot read the registry key {path}: {e.strerror}") from None
    key = data.strip()
    if len(key) < _KEY_BYTES:
        raise KeyProblem(f"the registry key {path} is too short ({len(key)} bytes; at least {_KEY_BYTES}): "
                         f"make one with: python -c 'import secrets; print(secrets.token_hex(32))' > {path}")
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".registry-key-", dir=path.parent)  # mode 600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(_KEY_BYTES) + "\n")
        # A link appears whole or not at all, and never replaces a key: two trainings starting at
        # once must not sign with different keys.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def key_id(key: bytes) -> str:
    """A short fingerprint naming a key in messages (it tells nothing about the key itself)."""
    return hashlib.sha256(b"ticket-triage registry key\0" + key).hexdigest()[:16]


def sign(data: bytes, key: bytes) -> bytes:
    """The signature file's content for `data`: algorithm, key fingerprint and MAC, as JSON."""
    mac = hmac.new(key, data, hashlib.sha256).hexdigest()
    return (json.dumps({"algorithm": ALGORITHM, "key_id": key_id(key), "mac": mac}) + "\n").encode("ascii")


def signature_problem(data: bytes, signature: bytes, key: bytes) -> str | None:
    """Why `signature` does not vouch for `data` under `key`, or None when it does."""
    try:
        fields = json.loads(signature)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "its signature is unreadable"
    if not isinstance(fields, dict) or fields.get("algorithm") != ALGORITHM or not isinstance(fields.get("mac"), str):
        return "its signature is not an hmac-sha256 signature"
    if fields.get("key_id") != key_id(key):
        return (f"it was signed with another registry key (key {str(fields.get('key_id'))[:16]!r}; this machine's key is "
                f"{key_id(key)!r}): use the key of the machine that trained it")
    if not hmac.compare_digest(fields["mac"], hmac.new(key, data, hashlib.sha256).hexdigest()):
        return "it does not match its signature (changed after training)"
    return None
