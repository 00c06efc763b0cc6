"""Every row of the "Helpdesk webhooks" table in docs/BAD_INPUT.md, sent for real: the status, error
code and message the table documents are what the service answers, and nothing is queued.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.bad_input_table import table_rows
from tests.service.conftest import PREDICT_KEY, TestClient
from tests.service.helpdesk.conftest import WEBHOOK_KEY, AppFactory, HelpdeskFactory, zendesk_section
from tests.service.helpdesk.test_webhooks import FRESHDESK, ZENDESK, signed
from tests.service.helpdesk.zendesk_standin import ZendeskStandIn

ROWS = table_rows("Helpdesk webhooks")
HOOK = {"X-API-Key": WEBHOOK_KEY, "Content-Type": "application/json"}
EVENT = b'{"ticket_id": "4711"}'
Send = Callable[[TestClient], httpx.Response]


def freshdesk(body: bytes, headers: dict[str, str] | None = None) -> Send:
    return lambda client: client.post(FRESHDESK, content=body, headers=HOOK if headers is None else headers)


def zendesk(headers: Callable[[bytes], dict[str, str]], body: bytes = EVENT) -> Send:
    return lambda client: client.post(ZENDESK, content=body, headers=headers(EVENT))


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(), "Content-Type": "application/json"}


REQUESTS: dict[str, Send] = {
    "no-key": freshdesk(EVENT, {"Content-Type": "application/json"}),
    "wrong-key": freshdesk(EVENT, _basic("freshdesk", "not-the-key-0123456789")),
    "bad-basic": freshdesk(EVENT, {"Authorization": "Basic !!!", "Content-Type": "application/json"}),
    "predict-key": freshdesk(EVENT, {"X-API-Key": PREDICT_KEY, "Content-Type": "application/json"}),
    "no-ticket-id": freshdesk(b'{"foo": 1}'),
    "unfilled-placeholder": freshdesk(b'{"ticket_id": "{{ticket.id}}"}'),
    "negative-id": freshdesk(b'{"ticket_id": -3}'),
    "boolean-id": freshdesk(b'{"ticket_id": true}'),
    "json-array": freshdesk(b"[1, 2]"),
    "form-encoded": freshdesk(b"ticket_id=4711", {"X-API-Key": WEBHOOK_KEY, "Content-Type": "application/x-www-form-urlencoded"}),
    "zendesk-unsigned": zendesk(lambda body: {"Content-Type": "application/json"}),
    "zendesk-wrong-secret": zendesk(lambda body: signed(body, secret="another-secret-0123456789")),
    "zendesk-stale": zendesk(lambda body: signed(body, at=datetime.now(UTC) - timedelta(minutes=10))),
    "zendesk-future": zendesk(lambda body: signed(body, at=datetime.now(UTC) + timedelta(minutes=10))),
    "zendesk-bad-timestamp": zendesk(lambda body: {**signed(body), "X-Zendesk-Webhook-Signature-Timestamp": "yesterday"}),
    "zendesk-body-changed": zendesk(lambda body: signed(body), body=b'{"ticket_id": "4712"}'),
}
ONLY_FRESHDESK = {"not-configured": lambda client: client.post(ZENDESK, content=EVENT, headers=signed(EVENT))}


def test_every_row_has_a_request() -> None:
    assert set(ROWS) == set(REQUESTS) | set(ONLY_FRESHDESK), "each table row needs a request here, and each request a row"


@pytest.mark.parametrize("case", sorted(ROWS))
def test_bad_webhook_input(case: str, helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory, zendesk: ZendeskStandIn) -> None:
    what, status, code, says = ROWS[case]
    if case in ONLY_FRESHDESK:
        client, send = helpdesk_app(), ONLY_FRESHDESK[case]
    else:
        client, send = helpdesk_app(helpdesk_settings(zendesk=zendesk_section(zendesk))), REQUESTS[case]
    r = send(client)
    assert r.status_code == int(status), f"{case} ({what}) should get {status}: {r.status_code} {r.text}"
    error = r.json()["error"]
    assert error["code"] == code and says in error["message"], f"{case} should answer {code} saying {says!r}: {error}"
    assert client.app.state.services.helpdesk.store.counts() == {}, "nothing is queued"  # type: ignore[attr-defined]
