"""Fixtures of the helpdesk tests: the Freshdesk and Zendesk stand-ins (real HTTP servers), helpdesk
settings pointing at them, and apps whose worker runs against them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.helpdesk.settings import ENV_PREFIX, HelpdeskSettings, load_helpdesk_settings
from tests.server_process import write_keys_file
from tests.service.conftest import ADMIN_KEY, KEYS, PREDICT_KEY, REVIEW_KEY, SettingsFactory, TestClient
from tests.service.helpdesk.freshdesk_standin import FreshdeskStandIn
from tests.service.helpdesk.zendesk_standin import ZendeskStandIn
from tests.service.review.conftest import postgres_problem, postgres_url  # noqa: F401  (PostgreSQL fixtures shared with the review tests)

WEBHOOK_KEY = "webhook-key-0123456789abcdef"
HELPDESK_KEYS = f"{KEYS};{WEBHOOK_KEY}:webhook"
ZENDESK_SECRET = "zendesk-signing-secret-0123456789"
DELIVERY_GROUP, REVIEW_GROUP = 22, 11
FAST_WORKER = {"poll_seconds": 0.05, "backoff_seconds": 0.2, "max_backoff_seconds": 1.0, "max_attempts": 3, "timeout_seconds": 5.0,
               "lease_seconds": 30.0}
__all__ = ["ADMIN_KEY", "PREDICT_KEY", "REVIEW_KEY"]


@pytest.fixture(autouse=True)
def _no_helpdesk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's TRIAGE_HELPDESK_* settings out of the tests."""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


@pytest.fixture
def freshdesk() -> Iterator[FreshdeskStandIn]:
    standin = FreshdeskStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def zendesk() -> Iterator[ZendeskStandIn]:
    standin = ZendeskStandIn().start()
    yield standin
    standin.stop()


def freshdesk_section(standin: FreshdeskStandIn, **more: Any) -> dict[str, Any]:
    return {"base_url": standin.base_url, "api_key": standin.api_key, "types": {"support": "Support", "delivery": "Leveransuppgift"},
            "review_group_id": REVIEW_GROUP, "delivery_group_id": DELIVERY_GROUP, **more}


def zendesk_section(standin: ZendeskStandIn, **more: Any) -> dict[str, Any]:
    return {"base_url": standin.base_url, "email": standin.email, "api_token": standin.token, "signing_secret": ZENDESK_SECRET,
            "type_field_id": standin.type_field_id, "types": {"support": "support", "delivery": "leveransuppgift"},
            "review_group_id": 31, "delivery_group_id": 32, **more}


HelpdeskFactory = Callable[..., HelpdeskSettings]
AppFactory = Callable[..., TestClient]


@pytest.fixture
def helpdesk_settings(freshdesk: FreshdeskStandIn) -> HelpdeskFactory:
    """Helpdesk settings with Freshdesk at the stand-in and a fast worker; keyword arguments override."""
    def make(**overrides: Any) -> HelpdeskSettings:
        values: dict[str, Any] = {"freshdesk": freshdesk_section(freshdesk), "worker": FAST_WORKER}
        return load_helpdesk_settings(None, **{**values, **overrides})

    return make


@pytest.fixture
def helpdesk_app(make_settings: SettingsFactory, helpdesk_settings: HelpdeskFactory) -> Iterator[AppFactory]:
    """Start an app with helpdesk settings (`helpdesk=` a HelpdeskSettings, else the defaults above) and keys including a webhook key."""
    clients: list[TestClient] = []

    def make(helpdesk: HelpdeskSettings | None = None, **overrides: Any) -> TestClient:
        settings = make_settings(**{"api_keys": HELPDESK_KEYS, **overrides})
        client = TestClient(create_app(settings, helpdesk or helpdesk_settings()))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def wait_for(condition: Callable[[], Any], seconds: float = 20.0, what: str = "the condition") -> Any:
    """Poll until `condition()` is truthy; fail the test with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"waited {seconds} s for {what}")


def job_state(client: TestClient, helpdesk: str, ticket_id: int, kind: str = "ticket") -> str | None:
    """The state of a ticket's job in the app's job table."""
    job = client.app.state.services.helpdesk.store.find(helpdesk, kind, str(ticket_id))  # type: ignore[attr-defined]
    return None if job is None else str(job.state)


def keys_file(folder: Path) -> Path:
    return write_keys_file(folder / "keys.txt", HELPDESK_KEYS.replace(";", "\n") + "\n")
