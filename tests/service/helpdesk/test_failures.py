"""The helpdesk's limits and failures: 429 waits for Retry-After, 5xx and timeouts back off and then
dead-letter, 4xx dead-letters at once; dead letters show in /metrics and the admin endpoint, which
retries them; logs carry the helpdesk's error code and never ticket text.
"""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest

from service.helpdesk.settings import WorkerSettings
from service.helpdesk.worker import backoff
from service.review.hook import Handoff
from tests.service.conftest import ADMIN_KEY, PREDICT_KEY, REVIEW_ALL, ROUTE_ALL
from tests.service.helpdesk.conftest import WEBHOOK_KEY, AppFactory, HelpdeskFactory, job_state, wait_for
from tests.service.helpdesk.freshdesk_standin import FreshdeskStandIn
from tests.service.helpdesk.test_writeback import DELIVERY_SV, handled, send_event

ADMIN = {"X-API-Key": ADMIN_KEY}


def dead(client, ticket_id: int) -> None:  # type: ignore[no-untyped-def]
    wait_for(lambda: job_state(client, "freshdesk", ticket_id) in ("done", "dead"), what=f"the job of ticket {ticket_id}")
    assert job_state(client, "freshdesk", ticket_id) == "dead", "the job should be dead-lettered"


def metric(client, name: str) -> float:  # type: ignore[no-untyped-def]
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith(name)]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def test_429_reschedules_the_job_for_retry_after(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    freshdesk.fail("GET", f"/api/v2/tickets/{ticket}", 429, headers={"Retry-After": "2"})
    client = helpdesk_app(**ROUTE_ALL)
    started = time.monotonic()
    send_event(client, ticket)
    handled(client, ticket)
    fetches = freshdesk.calls_to("GET", f"/api/v2/tickets/{ticket}")
    assert time.monotonic() - started >= 1.5, "the job waits for the Retry-After the helpdesk sent before trying again"
    assert fetches and len(freshdesk.notes(ticket)) == 1, "after the wait the ticket is handled once"
    assert metric(client, 'triage_helpdesk_jobs_total{helpdesk="freshdesk",outcome="rate_limited"}') == 1, "the rate limit is counted"


def test_the_standin_enforces_its_rate_limit_with_retry_after(freshdesk: FreshdeskStandIn) -> None:
    import httpx

    freshdesk.rate_limit_per_minute = 2
    auth = (freshdesk.api_key, "X")
    answers = [httpx.get(f"{freshdesk.base_url}/api/v2/ticket_fields", auth=auth) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429], "the third call in a minute is over the limit"
    assert int(answers[2].headers["Retry-After"]) > 0 and answers[0].headers["X-Ratelimit-Remaining"] == "1", "limits are in the headers"


def test_5xx_backs_off_and_succeeds(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    freshdesk.fail("POST", f"/api/v2/tickets/{ticket}/notes", 503, times=2)
    client = helpdesk_app(**ROUTE_ALL)
    send_event(client, ticket)
    handled(client, ticket)
    assert len(freshdesk.notes(ticket)) == 1, "after two 503s the third attempt adds the note, once"
    assert metric(client, 'triage_helpdesk_jobs_total{helpdesk="freshdesk",outcome="retried"}') == 2, "each 5xx is one retry"


def test_timeouts_exhaust_the_attempts_and_dead_letter(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory, freshdesk: FreshdeskStandIn,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    freshdesk.fail("GET", f"/api/v2/tickets/{ticket}", 0, times=3)  # hangs past the client's timeout
    settings = helpdesk_settings(worker={"poll_seconds": 0.05, "backoff_seconds": 0.1, "max_attempts": 3, "timeout_seconds": 0.3})
    client = helpdesk_app(settings, **ROUTE_ALL)
    with caplog.at_level(logging.WARNING, logger="triage.helpdesk"):
        send_event(client, ticket)
        dead(client, ticket)
    letters = client.get("/v1/admin/helpdesk/dead-letters", headers=ADMIN).json()["items"]
    assert [(d["ticket_id"], d["attempts"], d["last_error"].split(":")[0]) for d in letters] == [(str(ticket), 3, "timeout")], \
        f"the dead letter names the ticket, the attempts and the error code: {letters}"
    codes = [r.fields.get("error_code") for r in caplog.records if hasattr(r, "fields")]  # type: ignore[attr-defined]
    assert codes.count("timeout") == 3, f"each failed attempt is logged with its error code: {codes}"


def test_validation_error_dead_letters_at_once_and_admin_retry_finishes_it(helpdesk_app: AppFactory, helpdesk_settings: HelpdeskFactory,
                                                                         freshdesk: FreshdeskStandIn, caplog: pytest.LogCaptureFixture) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    freshdesk.types.remove("Leveransuppgift")  # an admin renamed the type after the service started
    client = helpdesk_app(helpdesk_settings(mode="act"), **ROUTE_ALL)
    with caplog.at_level(logging.INFO):
        send_event(client, ticket)
        dead(client, ticket)
    letter = client.get("/v1/admin/helpdesk/dead-letters", headers=ADMIN).json()["items"][0]
    assert letter["attempts"] == 1 and letter["last_error"].startswith("invalid_value"), f"a 400 is not retried: {letter}"
    assert letter["steps_done"] == ["note"], f"the dead letter says how far the job got: {letter}"
    client.app.state.services.helpdesk.worker.refresh_counts()  # type: ignore[attr-defined]
    assert metric(client, 'triage_helpdesk_dead_letters{helpdesk="freshdesk"}') == 1, "the dead letter shows in /metrics"
    logged = "\n".join(json.dumps(getattr(r, "fields", {}), ensure_ascii=False) + r.getMessage() for r in caplog.records)
    assert "invalid_value" in logged, "the log carries Freshdesk's error code"
    assert "Ekbackens" not in logged and "lägga till" not in logged, "no ticket text reaches the log"
    assert "It should be one of" not in logged, "nor the helpdesk's error message, which can quote values"

    assert client.post(f"/v1/admin/helpdesk/dead-letters/{letter['id']}/retry", headers={"X-API-Key": PREDICT_KEY}).status_code == 403, \
        "retrying needs the admin role"
    freshdesk.types.append("Leveransuppgift")  # the admin fixes the type
    r = client.post(f"/v1/admin/helpdesk/dead-letters/{letter['id']}/retry", headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"job_ids": [letter["id"]]}, f"the retry queues the job: {r.text}"
    handled(client, ticket)
    assert len(freshdesk.notes(ticket)) == 1, "the retry continues where the job stopped: the note is not written again"
    assert freshdesk.tickets[ticket]["status"] == 5, "and finishes the delivery process"
    again = client.post(f"/v1/admin/helpdesk/dead-letters/{letter['id']}/retry", headers=ADMIN)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_a_dead_letter", f"a done job is not retried: {again.text}"
    assert client.post("/v1/admin/helpdesk/dead-letters/999999/retry", headers=ADMIN).status_code == 404, "an unknown job is 404"


def test_deleted_ticket_dead_letters_and_retry_all(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    tickets = [freshdesk.add_ticket(*DELIVERY_SV) for _ in range(2)]
    for ticket in tickets:
        freshdesk.tickets[ticket]["deleted"] = True
    client = helpdesk_app(**ROUTE_ALL)
    for ticket in tickets:
        send_event(client, ticket)
        dead(client, ticket)
    letters = client.get("/v1/admin/helpdesk/dead-letters", headers=ADMIN).json()["items"]
    assert {d["last_error"].split(":")[0] for d in letters} == {"ticket_deleted"}, f"a deleted ticket is a dead letter at once: {letters}"
    for ticket in tickets:
        freshdesk.tickets[ticket]["deleted"] = False  # restored from the trash
    r = client.post("/v1/admin/helpdesk/dead-letters/retry", headers=ADMIN)
    assert sorted(r.json()["job_ids"]) == sorted(d["id"] for d in letters), f"retry-all queues every dead letter: {r.text}"
    for ticket in tickets:
        handled(client, ticket)


def test_updating_a_deleted_ticket_is_405_and_dead_letters(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    hold = freshdesk.hold("PUT", f"/api/v2/tickets/{ticket}")
    client = helpdesk_app(**ROUTE_ALL)
    send_event(client, ticket)
    assert hold.reached.wait(20), "the worker updates the ticket's tags"
    freshdesk.tickets[ticket]["deleted"] = True  # deleted just before the update arrives
    hold.release.set()
    dead(client, ticket)
    assert any(c.status == 405 for c in freshdesk.calls if c.method == "PUT"), "Freshdesk answers 405 to updating a deleted ticket"
    letter = client.get("/v1/admin/helpdesk/dead-letters", headers=ADMIN).json()["items"][0]
    assert letter["last_error"].startswith("method_not_allowed"), f"the 405's code is the dead letter's error: {letter}"


def test_backoff_doubles_up_to_the_cap() -> None:
    settings = WorkerSettings(backoff_seconds=10, max_backoff_seconds=60)
    waits = [backoff(n, settings) for n in range(1, 6)]
    for n, (wait, full) in enumerate(zip(waits, [10, 20, 40, 60, 60]), start=1):
        assert 0.8 * full <= wait <= full, f"attempt {n} waits about {full} s (less up to 20 % jitter), got {wait}"


def test_a_review_queue_that_does_not_take_the_ticket_retries_the_job(helpdesk_app: AppFactory, freshdesk: FreshdeskStandIn,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = freshdesk.add_ticket(*DELIVERY_SV)
    client = helpdesk_app(**REVIEW_ALL)
    hook = client.app.state.services.review  # type: ignore[attr-defined]
    real, handed = hook.submit, []

    def held_in_memory_first(item):  # type: ignore[no-untyped-def]
        handed.append(item)
        return Handoff(queued=False, warning="waits in memory") if len(handed) == 1 else real(item)

    monkeypatch.setattr(hook, "submit", held_in_memory_first)
    send_event(client, ticket)
    handled(client, ticket)
    assert len(handed) == 2, "a review item the hook only buffered in memory is handed over again by the retried job"
    assert hook.store.count_pending() == 1 and len(freshdesk.notes(ticket)) == 1, "then it is queued once and the note written once"
    assert metric(client, 'triage_helpdesk_jobs_total{helpdesk="freshdesk",outcome="retried"}') == 1, "the job was retried once"


def test_a_database_down_at_start_up_gets_503_and_the_helpdesk_sends_again(helpdesk_app: AppFactory) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    client = helpdesk_app(database_url=f"postgresql+psycopg://triage@127.0.0.1:{closed}/triage")
    r = client.post("/v1/helpdesk/freshdesk/events", json={"ticket_id": 1}, headers={"X-API-Key": WEBHOOK_KEY})
    assert r.status_code == 503 and r.json()["error"]["code"] == "job_store_unavailable", f"the event is refused for now: {r.text}"
    assert r.headers["Retry-After"] == "30" and "will send it again" in r.json()["error"]["message"], "and the answer says it was not stored"
    assert client.get("/healthz").status_code == 200, "the service itself runs"
