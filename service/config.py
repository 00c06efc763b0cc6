"""The service's settings: one object, from `TRIAGE_*` environment variables and `triage serve`
options, validated once at start-up with messages that say what to fix.
"""

from __future__ import annotations

import ipaddress
import math
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from model.signature import KEY_FILE_ENV
from service.auth import KeyRing, estimated_guesses_log10, parse_keys
from service.next_steps import DEFAULT_FILE as DEFAULT_NEXT_STEPS

ENV_PREFIX = "TRIAGE_"
DEFAULT_DATABASE_URL = "sqlite:///var/triage.db"
MIN_SESSION_SECRET_LENGTH = 32  # a shorter signing key could be guessed
# A session cookie (any browser gets one) lets an attacker test guesses of the secret offline,
# at billions a second, so it must be far harder to guess than an API key: about 66 bits.
MIN_SESSION_SECRET_GUESSES_LOG10 = 20
_OPTIONS = {  # `triage serve` option of each setting that has one, for error messages
    "host": "--host", "port": "--port", "model": "--model", "registry": "--registry", "database_url": "--database",
    "thresholds": "--threshold", "target_precision": "--target-precision", "api_keys_file": "--api-keys-file",
    "helpdesk_file": "--helpdesk-file",
}


class ConfigError(ValueError):
    """A setting (or what it points at) that stops the service from starting."""


class Settings(BaseSettings):
    """Everything the service can be configured with; see docs/SERVICE.md."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    host: str = Field(default="127.0.0.1", min_length=1, description="address to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="port to listen on")
    model: Path | None = Field(default=None, description="model directory to serve; default: the registry's current version")
    registry: Path = Field(default=Path("models"), description="model registry folder")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="review-queue database (sqlite:///... or postgresql+psycopg://...)")
    target_precision: float | None = Field(default=None, gt=0.0, le=1.0, description="re-choose thresholds for this precision")
    thresholds: dict[str, float] = Field(default_factory=dict, description='per-label threshold overrides, e.g. {"delivery": 0.8}')
    api_keys: SecretStr | None = Field(default=None, description="API keys as JSON or 'key:role1,role2' entries separated by ';'")
    api_keys_file: Path | None = Field(default=None, description="file with API keys (JSON or one 'key:role1,role2' per line)")
    watch_interval: float = Field(default=5.0, ge=0.0, description="seconds between checks of the registry's CURRENT; 0 turns it off")
    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="largest request body accepted")
    max_ticket_chars: int = Field(default=20_000, ge=100, description="longest ticket (subject + body) accepted")
    max_batch: int = Field(default=100, ge=1, le=10_000, description="most tickets in one batch request")
    review_buffer_bytes: int = Field(default=256 * 1024 * 1024, ge=0,
                                     description="bytes of review items the retry buffer holds on disk while the database is down; "
                                                 "0: none, a ticket for review is answered 503 at once")
    review_buffer_file: Path | None = Field(default=None, description="the retry buffer's file; default: beside a SQLite review database, "
                                                                      "else var/review-buffer.db")
    review_retry_interval: float = Field(default=5.0, gt=0.0, description="seconds between attempts to flush the review buffer")
    database_timeout: float = Field(default=5.0, gt=0.0, le=300.0,
                                    description="seconds a database write, lock wait or connection wait may take before it counts as unavailable")
    max_connections: int = Field(default=1000, ge=8, le=100_000, description="open client connections; more are answered 503 and closed")
    request_read_timeout: float = Field(default=30.0, gt=0.0, le=3600.0,
                                        description="seconds a client has to send a whole request (head, then body); then 408 and closed")
    retention_days: int = Field(default=365, ge=1, le=36_500, description="days a decided review item is kept after its decision")
    audit_rate: float = Field(default=0.05, allow_inf_nan=False,
                              description="share of automatically routed tickets also queued for a blind audit (0 turns audits off)")
    audit_window_days: int = Field(default=30, ge=1, le=36_500, description="days of audit decisions the live precision is estimated from")
    claim_ttl_seconds: int = Field(default=900, ge=10, le=86_400, description="seconds an agent holds an opened review ticket before it returns to the queue")
    session_secret: SecretStr | None = Field(default=None, description="key signing the review page's session cookies; default: a new one per process")
    explain_terms: int = Field(default=6, ge=0, le=50, description="explanation terms per label in each prediction")
    next_steps_file: Path = Field(default=DEFAULT_NEXT_STEPS, description="the editable next-steps texts")
    training_data: Path = Field(default=Path("data/tickets.csv"), description="tickets `--train-if-missing` trains on")
    helpdesk_file: Path | None = Field(default=None, description="the helpdesk connectors' settings file (docs/HELPDESK.md)")
    log_level: str = Field(default="INFO", pattern=r"(?i)^(debug|info|warning|error)$", description="debug, info, warning or error")

    _key_ring: KeyRing = PrivateAttr(default_factory=KeyRing)

    @field_validator("model")
    @classmethod
    def _model_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"model directory {value} does not exist; give a folder written by `triage train` (or leave it out to serve the registry)")
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [f"{label}={t}" for label, t in value.items() if not (math.isfinite(t) and 0.0 < t <= 1.0)]
        if bad:
            raise ValueError(f"thresholds must be in (0, 1], got {', '.join(bad)}")
        return value

    @field_validator("audit_rate")
    @classmethod
    def _audit_rate_is_a_share(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"must be a share from 0 to 1 (0.05 audits 5% of the automatically routed tickets, 0 turns audits off), got {value}")
        return value

    @field_validator("session_secret")
    @classmethod
    def _session_secret_long(cls, value: SecretStr | None) -> SecretStr | None:
        generate = "generate one with python -c \"import secrets; print(secrets.token_urlsafe(32))\""
        if value is not None and len(value.get_secret_value()) < MIN_SESSION_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SESSION_SECRET_LENGTH} characters; {generate}")
        if value is not None and estimated_guesses_log10(value.get_secret_value()) < MIN_SESSION_SECRET_GUESSES_LOG10:
            raise ValueError(f"is easy to guess (words, repeats or sequences); {generate}")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL; write sqlite:///var/triage.db or postgresql+psycopg://user@host:5432/db") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database '{url.get_backend_name()}'; use sqlite:///... or postgresql+psycopg://...")
        return value

    @field_validator("helpdesk_file")
    @classmethod
    def _helpdesk_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"the helpdesk settings file {value} does not exist; see docs/HELPDESK.md for one to start from")
        return value

    @field_validator("api_keys_file")
    @classmethod
    def _key_file_readable(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                value.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ValueError(f"API key file {value} cannot be read ({getattr(e, 'strerror', None) or e}); check the path and its permissions") from None
            check_private_file(value, "API key file")
        return value

    @model_validator(mode="after")
    def _audit_window_within_retention(self) -> Settings:
        if self.audit_window_days > self.retention_days:
            raise ValueError(f"TRIAGE_AUDIT_WINDOW_DAYS ({self.audit_window_days}) is longer than TRIAGE_RETENTION_DAYS ({self.retention_days}): "
                             "decided audits are deleted before they leave the window; shorten the window or keep decisions longer")
        return self

    @model_validator(mode="after")
    def _keys_and_host(self) -> Settings:
        if self.api_keys is not None and self.api_keys_file is not None:
            raise ValueError("give API keys either in TRIAGE_API_KEYS or in a key file (TRIAGE_API_KEYS_FILE), not both")
        if self.api_keys_file is not None:
            ring = parse_keys(self.api_keys_file.read_text(encoding="utf-8"), f"API key file {self.api_keys_file}")
            if ring.open:  # an empty file, a file of comments, `{}`: a mistake, never a wish to run without keys
                raise ValueError(f"API key file {self.api_keys_file} holds no keys; add keys to it (docs/SERVICE.md), "
                                 "or leave --api-keys-file / TRIAGE_API_KEYS_FILE unset to run without keys on loopback")
        else:
            ring = parse_keys(self.api_keys.get_secret_value() if self.api_keys else "", "TRIAGE_API_KEYS")
            if ring.open and self.api_keys is not None:
                raise ValueError("TRIAGE_API_KEYS is set but holds no keys; give keys in it, or unset it to run without keys on loopback")
        if ring.open and not is_loopback(self.host):
            raise ValueError(f"no API keys are configured, so the service only listens on loopback (127.0.0.1 or ::1), not on {self.host}; "
                             "configure keys with TRIAGE_API_KEYS_FILE or TRIAGE_API_KEYS, or use --host 127.0.0.1")
        self._key_ring = ring
        return self

    @property
    def key_ring(self) -> KeyRing:
        """The API keys (as digests) and their roles."""
        return self._key_ring


def check_private_file(path: Path, what: str) -> None:
    """Refuse a secrets file that other users could read, or anyone but its owner could change.

    Its group may read it (a service group), nobody else; its owner must be this user or root.
    """
    try:
        info = path.stat()
    except OSError as e:
        raise ValueError(f"{what} {path} cannot be read ({e.strerror}); check the path") from None
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IRWXO | stat.S_IWGRP | stat.S_IXGRP):
        raise ValueError(f"{what} {path} can be read or changed by other users (mode {mode:o}); make it private: chmod 600 {path}")
    if info.st_uid not in (os.getuid(), 0):
        raise ValueError(f"{what} {path} belongs to another user (uid {info.st_uid}), who could change it; "
                         f"give it to the user running the service: chown {os.getuid()} {path}")


def is_loopback(host: str) -> bool:
    """Whether a listen address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from the environment with `overrides` (command-line options) on top; ConfigError says what to fix."""
    try:
        return Settings(**(overrides or {}))
    except ValidationError as e:
        raise ConfigError(describe_settings_errors(e)) from None


def describe_settings_errors(error: ValidationError) -> str:
    """A message naming each bad setting by its option and environment variable."""
    lines = ["invalid settings:"]
    for e in error.errors():
        loc = [str(p) for p in e.get("loc", ())]
        field = loc[0] if loc else ""
        if field:
            names = " / ".join(n for n in (_OPTIONS.get(field), ENV_PREFIX + field.upper()) if n)
            where = names + (f" ({'.'.join(loc[1:])})" if len(loc) > 1 else "")
        else:
            where = "settings"
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def unknown_environment_settings(features: tuple[str, ...] = ()) -> list[str]:
    """`TRIAGE_*` environment variables that name no setting (probably typos); `features` are the
    prefixes of features that check their own (e.g. `TRIAGE_HELPDESK_`)."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {KEY_FILE_ENV}  # the registry key is every command's, not only the service's
    return sorted(k for k in os.environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known and not k.upper().startswith(features))
