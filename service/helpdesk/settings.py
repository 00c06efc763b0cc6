"""The helpdesk connectors' settings: one TOML file (`TRIAGE_HELPDESK_FILE`, see
docs/HELPDESK.md and `helpdesk.example.toml`) with `TRIAGE_HELPDESK_*` environment overrides,
validated at start-up with messages that say what to fix.

Nested settings are overridden with `__` between the levels, e.g.
`TRIAGE_HELPDESK_FRESHDESK__API_KEY` or `TRIAGE_HELPDESK_FRESHDESK__TYPES__DELIVERY`. Secrets
(API keys, tokens, signing secrets) come from the environment or from a file named in the
settings, never from the settings file itself, which tends to be checked in.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from service.config import ConfigError

ENV_PREFIX = "TRIAGE_HELPDESK_"
FILE_VARIABLE = "TRIAGE_HELPDESK_FILE"
Mode = Literal["suggest", "act", "off"]
HELPDESKS = ("freshdesk", "zendesk")
LABELS = ("support", "delivery")  # the model labels the connectors write types, tags and the delivery process for
_SECRETS = {"api_key", "api_token", "signing_secret"}
_NAME = re.compile(r"[A-Za-z0-9-]{1,63}")


def _secret_from(value: SecretStr | None, file: Path | None, name: str) -> SecretStr | None:
    if value is not None and file is not None:
        raise ValueError(f"give {name} either directly (environment) or as {name}_file, not both")
    if file is None:
        return value
    try:
        text = file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{name}_file {file} cannot be read ({getattr(e, 'strerror', None) or e}); check the path and its permissions") from None
    if not text:
        raise ValueError(f"{name}_file {file} is empty; write the {name} into it")
    return SecretStr(text)


def _base_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"base_url must look like https://host (got {value!r})")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError("base_url must use https: the API key travels with every request (plain http is allowed on loopback only, for tests)")
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RouteNames(BaseModel):
    """A name per model label (ticket types in the helpdesk); unset ones are not written."""

    model_config = ConfigDict(extra="forbid")
    support: str | None = Field(default=None, min_length=1, max_length=255)
    delivery: str | None = Field(default=None, min_length=1, max_length=255)

    def for_label(self, label: str) -> str | None:
        """The name configured for a model label, or None."""
        value = getattr(self, label, None)
        return value if isinstance(value, str) else None


class Tags(BaseModel):
    """The tags the connector adds, per route."""

    model_config = ConfigDict(extra="forbid")
    support: str = Field(default="triage-support", min_length=1, max_length=32)
    delivery: str = Field(default="triage-delivery", min_length=1, max_length=32)
    review: str = Field(default="triage-review", min_length=1, max_length=32)

    def for_route(self, route: str) -> str:
        """The tag of a route (`support`, `delivery` or `review`)."""
        return str(getattr(self, route))


class Texts(BaseModel):
    """A text in Swedish and English; `{placeholders}` are filled in where documented."""

    model_config = ConfigDict(extra="forbid")
    sv: str = Field(min_length=1, max_length=20_000)
    en: str = Field(min_length=1, max_length=20_000)


class Messages(BaseModel):
    """Texts the connector writes into the helpdesk in act mode."""

    model_config = ConfigDict(extra="forbid")
    # None: the delivery customer message of the next-steps file (service/next_steps.toml).
    delivery_reply: Texts | None = None
    delivery_task_subject: Texts = Texts(sv="Leveransuppgift: {subject}", en="Delivery task: {subject}")
    delivery_task_body: Texts = Texts(
        sv="Leveransuppgift skapad av ticket-triage från supportärende #{ticket_id}. Kontaktpersonen (KU) tar upp en eventuell kostnad med kunden.",
        en="Delivery task created by ticket-triage from support ticket #{ticket_id}. The account manager (KU) raises any cost with the customer.",
    )

    @field_validator("delivery_task_subject", "delivery_task_body")
    @classmethod
    def _placeholders_known(cls, value: Texts) -> Texts:
        for text in (value.sv, value.en):
            try:
                text.format(subject="", ticket_id="")
            except (KeyError, IndexError, ValueError) as e:
                raise ValueError(f"only the placeholders {{subject}} and {{ticket_id}} can be used (problem: {e!s}); write {{{{ for a literal brace") from None
        return value


class ConnectorSettings(BaseModel):
    """What every helpdesk needs: where it is, the type names and groups act mode writes."""

    model_config = ConfigDict(extra="forbid")
    base_url: str | None = Field(default=None, description="the API's address; default from the domain")
    types: RouteNames = RouteNames()
    review_group_id: int | None = Field(default=None, ge=1)
    delivery_group_id: int | None = Field(default=None, ge=1)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _base_url(value)

    def act_problems(self, name: str) -> Iterator[str]:
        """What act mode needs that is missing, as messages."""
        for label in LABELS:
            if self.types.for_label(label) is None:
                yield f"{name}.types.{label}: act mode sets the ticket type; name the {name} type for {label} tickets (it must exist in {name})"
        for group in ("review_group_id", "delivery_group_id"):
            if getattr(self, group) is None:
                yield f"{name}.{group}: act mode needs the id of the group (see docs/HELPDESK.md for where to find it)"


class FreshdeskSettings(ConnectorSettings):
    """Freshdesk API v2: `https://DOMAIN.freshdesk.com`, the API key as Basic user with `X` as password."""

    domain: str | None = Field(default=None, description="e.g. `acme` for acme.freshdesk.com")
    api_key: SecretStr | None = None
    api_key_file: Path | None = None

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.strip().removeprefix("https://").removesuffix("/").removesuffix(".freshdesk.com")
        if not _NAME.fullmatch(name):
            raise ValueError(f"write the Freshdesk domain as 'acme' or 'acme.freshdesk.com' (got {value!r})")
        return name

    @model_validator(mode="after")
    def _complete(self) -> FreshdeskSettings:
        self.api_key = _secret_from(self.api_key, self.api_key_file, "api_key")
        if self.base_url is None and self.domain is None:
            raise ValueError("set freshdesk.domain (e.g. 'acme' for acme.freshdesk.com)")
        if self.base_url is None:
            self.base_url = f"https://{self.domain}.freshdesk.com"
        if self.api_key is None:
            raise ValueError("the Freshdesk API key is missing: set TRIAGE_HELPDESK_FRESHDESK__API_KEY or freshdesk.api_key_file "
                             "(Freshdesk: profile picture > Profile settings > View API key)")
        return self


class ZendeskSettings(ConnectorSettings):
    """Zendesk Support API v2: `https://SUBDOMAIN.zendesk.com`, an agent's e-mail with an API token."""

    subdomain: str | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    api_token: SecretStr | None = None
    api_token_file: Path | None = None
    signing_secret: SecretStr | None = None
    signing_secret_file: Path | None = None
    type_field_id: int | None = Field(default=None, ge=1, description="the custom drop-down field holding the ticket type")

    @field_validator("subdomain")
    @classmethod
    def _subdomain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.strip().removeprefix("https://").removesuffix("/").removesuffix(".zendesk.com")
        if not _NAME.fullmatch(name):
            raise ValueError(f"write the Zendesk subdomain as 'acme' or 'acme.zendesk.com' (got {value!r})")
        return name

    @model_validator(mode="after")
    def _complete(self) -> ZendeskSettings:
        self.api_token = _secret_from(self.api_token, self.api_token_file, "api_token")
        self.signing_secret = _secret_from(self.signing_secret, self.signing_secret_file, "signing_secret")
        if self.base_url is None and self.subdomain is None:
            raise ValueError("set zendesk.subdomain (e.g. 'acme' for acme.zendesk.com)")
        if self.base_url is None:
            self.base_url = f"https://{self.subdomain}.zendesk.com"
        missing = [name for name, value in (("email", self.email), ("api_token", self.api_token), ("signing_secret", self.signing_secret))
                   if value is None]
        if missing:
            raise ValueError(f"Zendesk needs {', '.join(missing)}: the agent's e-mail and an API token (Admin Center > Apps and integrations > "
                             "Zendesk API), and the webhook's signing secret (Admin Center > Webhooks > the webhook > Reveal secret)")
        return self

    def act_problems(self, name: str) -> Iterator[str]:
        yield from super().act_problems(name)
        if self.type_field_id is None:
            yield "zendesk.type_field_id: act mode writes the type into a custom drop-down field; give its id"


class WorkerSettings(BaseModel):
    """How the worker takes jobs and how patiently it retries."""

    model_config = ConfigDict(extra="forbid")
    poll_seconds: float = Field(default=2.0, gt=0, le=300, description="how often an idle worker looks for jobs")
    lease_seconds: float = Field(default=120.0, ge=1, le=3600, description="a job a worker died holding is taken over after this")
    max_attempts: int = Field(default=8, ge=1, le=100, description="failed attempts (5xx, timeouts) before a job is dead-lettered")
    backoff_seconds: float = Field(default=30.0, gt=0, le=3600, description="wait after the first failure; doubles after each")
    max_backoff_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    timeout_seconds: float = Field(default=20.0, gt=0, le=300, description="one request to the helpdesk")
    person_grace_seconds: float = Field(default=60.0, ge=0, le=86_400,
                                        description="a ticket updated later than this after the event counts as changed by a person")


class HelpdeskSettings(BaseSettings):
    """Everything the helpdesk connectors can be configured with; see docs/HELPDESK.md."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True)

    mode: Mode = Field(default="suggest", description="suggest: note and tags; act: also type, groups and the delivery process; off")
    freshdesk: FreshdeskSettings | None = None
    zendesk: ZendeskSettings | None = None
    tags: Tags = Tags()
    messages: Messages = Messages()
    worker: WorkerSettings = WorkerSettings()
    signature_max_age_seconds: int = Field(default=300, ge=10, le=3600, description="Zendesk signatures older (or newer) than this are refused")

    @model_validator(mode="after")
    def _act_complete(self) -> HelpdeskSettings:
        if self.mode == "act":
            problems = [p for name in HELPDESKS if (section := getattr(self, name)) is not None for p in section.act_problems(name)]
            if problems:
                raise ValueError("\n  ".join(problems))
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values come in through init_settings (see `load_helpdesk_settings`), under the environment.
        return env_settings, init_settings

    @property
    def configured(self) -> tuple[str, ...]:
        """The helpdesks with a section, in a fixed order."""
        return tuple(name for name in HELPDESKS if getattr(self, name) is not None)

    @property
    def active(self) -> bool:
        """Whether any connector works (configured and not switched off)."""
        return self.mode != "off" and bool(self.configured)


def read_settings_file(path: Path) -> dict[str, Any]:
    """The settings file's values; ConfigError says what is wrong with it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{FILE_VARIABLE}: the helpdesk settings file {path} cannot be read ({e.strerror}); check the path") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{FILE_VARIABLE}: the helpdesk settings file {path} is not valid TOML: {e}") from None
    for helpdesk in HELPDESKS:
        section = data.get(helpdesk)
        leaked = sorted(_SECRETS & set(section)) if isinstance(section, dict) else []
        if leaked:
            raise ConfigError(f"{path}: [{helpdesk}] {', '.join(leaked)} must not be written in the settings file (it is often checked in); "
                              f"set TRIAGE_HELPDESK_{helpdesk.upper()}__{leaked[0].upper()} or {leaked[0]}_file instead")
    return data


def load_helpdesk_settings(path: Path | None = None, **overrides: Any) -> HelpdeskSettings:
    """The settings from the file (`TRIAGE_HELPDESK_FILE`) under the environment; ConfigError says what to fix."""
    values = read_settings_file(path) if path is not None else {}
    try:
        return HelpdeskSettings(**{**values, **overrides})
    except ValidationError as e:
        raise ConfigError(describe_errors(e, path)) from None


def describe_errors(error: ValidationError, path: Path | None) -> str:
    """One line per bad setting, naming it as it is written in the file and in the environment."""
    lines = [f"invalid helpdesk settings{f' in {path}' if path else ''}:"]
    for e in error.errors():
        loc = [str(p) for p in e.get("loc", ()) if not str(p).startswith("function-after")]
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if loc:
            lines.append(f"  {'.'.join(loc)} / {ENV_PREFIX}{'__'.join(loc).upper()}: {message}")
        else:
            lines.append(f"  {message}")
    return "\n".join(lines)


def unknown_environment() -> list[str]:
    """`TRIAGE_HELPDESK_*` variables that name no setting (typos), for a warning at start-up."""
    known = {FILE_VARIABLE}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            known.add(prefix + name.upper())
            for kind in getattr(field.annotation, "__args__", (field.annotation,)):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    walk(kind, f"{prefix}{name.upper()}__")

    walk(HelpdeskSettings, ENV_PREFIX)
    return sorted(k for k in os.environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)
