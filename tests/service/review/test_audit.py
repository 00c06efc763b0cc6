"""Which automatically routed tickets are audited: the sampling rate, its stability under retries,
and the prediction endpoints queuing the picked tickets as blind audits (real SQLite)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from service.review.audit import AUDIT_ID_PREFIX, audit_key, audit_ticket_id, picked_for_audit
from service.review.store import ReviewStore
from tests.service.conftest import DELIVERY_EN, DELIVERY_SV, REVIEW_ALL, ROUTE_ALL, SUPPORT_SV, ClientFactory

SIGMAS = 5  # a correct sampler lands outside five standard deviations about once in 3.5 million runs


def _ids(n: int) -> dict[str, list[str]]:
    """Ticket ids of the shapes helpdesks use: consecutive numbers, prefixed numbers, UUIDs."""
    return {"numbers": [str(100_000 + i) for i in range(n)], "prefixed": [f"INC-{i}" for i in range(n)],
            "uuids": [str(uuid.UUID(int=i * 7919 + 1)) for i in range(n)]}


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.2, 0.5])
def test_the_share_audited_is_the_rate(rate: float) -> None:
    n = 40_000
    for shape, ids in _ids(n).items():
        picked = sum(picked_for_audit(audit_key(i, None, ""), rate) for i in ids)
        allowed = SIGMAS * math.sqrt(rate * (1 - rate) / n)
        assert abs(picked / n - rate) <= allowed, f"{shape}: {picked / n:.4f} of {n} ids picked at rate {rate} (allowed ±{allowed:.4f})"


def test_rate_zero_audits_nothing_and_one_audits_everything() -> None:
    keys = [audit_key(i, None, "") for i in _ids(2000)["prefixed"]]
    assert not any(picked_for_audit(k, 0.0) for k in keys), "rate 0 turns audits off"
    assert all(picked_for_audit(k, 1.0) for k in keys), "rate 1 audits every automatically routed ticket"


def test_a_retry_gets_the_same_pick_and_a_higher_rate_keeps_every_earlier_pick() -> None:
    keys = [audit_key(i, None, "") for i in _ids(5000)["uuids"]]
    assert [audit_key(i, None, "") for i in _ids(5000)["uuids"]] == keys, "the key of a ticket id never changes"
    at_5 = {k for k in keys if picked_for_audit(k, 0.05)}
    at_10 = {k for k in keys if picked_for_audit(k, 0.10)}
    assert at_5 and at_5 < at_10, "raising the rate adds tickets and drops none"


def test_the_pick_is_the_same_in_another_process() -> None:
    """Replicas and restarts must agree, so the key cannot come from Python's per-process hash()."""
    ids = _ids(200)["prefixed"]
    here = [picked_for_audit(audit_key(i, None, ""), 0.3) for i in ids]
    code = ("import json, sys; from service.review.audit import audit_key, picked_for_audit; "
            "print(json.dumps([picked_for_audit(audit_key(i, None, ''), 0.3) for i in json.loads(sys.argv[1])]))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(ids)], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""}, cwd=Path(__file__).resolve().parents[3])
    assert json.loads(out.stdout) == here, "another process with another hash seed picks the same tickets"


def test_without_an_id_the_text_is_the_key() -> None:
    one = audit_key(None, "Ny skola", "Lägg till Ekbacken")
    assert one == audit_key(None, "Ny skola", "Lägg till Ekbacken"), "the same text (a retry) has the same key"
    assert one != audit_key(None, "Ny skola", "Lägg till Ekåsen"), "another text has another key"
    assert audit_key("T-1", "a", "b") == audit_key("T-1", "c", "d"), "with an id, the id alone is the key (an edited ticket keeps its pick)"
    assert audit_key("Ny skola\nLägg till Ekbacken", None, "") != audit_key(None, "Ny skola", "Lägg till Ekbacken"), \
        "an id is never confused with a text that reads the same"
    assert audit_ticket_id("T-1", audit_key("T-1", None, "")) == "T-1", "an audit keeps the caller's ticket id"
    made = audit_ticket_id(None, one)
    assert made.startswith(AUDIT_ID_PREFIX) and made == audit_ticket_id(None, one), f"an id-less audit gets a stable id from its text: {made}"


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'q' / 'reviews.db'}"


def _pending(url: str) -> list:
    with ReviewStore(url) as store:
        return store.list_pending(limit=500)


def test_both_predict_endpoints_queue_picked_tickets_as_audits_once(make_client: ClientFactory, tmp_path: Path) -> None:
    url = _db(tmp_path)
    client = make_client(database_url=url, audit_rate=1.0, **ROUTE_ALL)
    no_id = {"subject": "Ny skolenhet", "body": "Hej! Vi vill lägga till Ekåsens skola i synken till Google."}
    for _ in range(3):  # the client retries every request: still one item per ticket
        body = client.post("/v1/predict", json=DELIVERY_SV).json()
        assert body["route"] != "review" and body["review_queued"] is None and body["warning"] is None, \
            f"an audited ticket is answered like any automatically routed one: {body}"
        batch = client.post("/v1/predict/batch", json={"tickets": [SUPPORT_SV, no_id, {"body": ""}]}).json()
        assert batch["results"][2]["error"]["code"] == "empty_ticket", "a bad ticket of the batch still fails alone"
    items = {item.ticket_id: item for item in _pending(url)}
    made = audit_ticket_id(None, audit_key(None, no_id["subject"], no_id["body"]))
    assert set(items) == {"T-1", "T-3", made}, f"each ticket is audited once, the id-less one under its text's id: {sorted(items)}"
    assert all(item.audit and item.is_blind for item in items.values()), "every one is a blind audit"
    assert items["T-1"].model_label == body["label"] and items["T-1"].confidence == body["confidence"], "the model's view is stored for later"


def test_the_endpoint_audits_exactly_the_picked_tickets(make_client: ClientFactory, tmp_path: Path) -> None:
    url, rate = _db(tmp_path), 0.3
    client = make_client(database_url=url, audit_rate=rate, **ROUTE_ALL)
    tickets = [{**DELIVERY_EN, "id": f"EN-{i}"} for i in range(60)]
    for _ in range(3):  # retried: a sampler that drew anew would pick further tickets each time
        assert all(r["result"]["route"] != "review" for r in client.post("/v1/predict/batch", json={"tickets": tickets}).json()["results"])
    expected = {t["id"] for t in tickets if picked_for_audit(audit_key(t["id"], None, ""), rate)}
    assert 5 < len(expected) < 40, f"about 30% of 60 ids are picked: {len(expected)}"
    assert {item.ticket_id for item in _pending(url)} == expected, "the queue holds exactly the tickets the sampler picks"


def test_tickets_routed_to_review_are_not_audits_and_audits_can_be_off(make_client: ClientFactory, tmp_path: Path) -> None:
    url = _db(tmp_path)
    make_client(database_url=url, audit_rate=1.0, **REVIEW_ALL).post("/v1/predict", json=SUPPORT_SV)
    assert [(i.ticket_id, i.audit) for i in _pending(url)] == [("T-3", False)], "a ticket routed to review is a review item, not an audit"
    other = _db(tmp_path / "off")
    make_client(database_url=other, audit_rate=0.0, **ROUTE_ALL).post("/v1/predict/batch", json={"tickets": [DELIVERY_SV, SUPPORT_SV]})
    assert _pending(other) == [], "with TRIAGE_AUDIT_RATE=0 nothing routed automatically is stored"


def test_an_audit_the_database_cannot_take_is_skipped_and_counted(make_client: ClientFactory, tmp_path: Path) -> None:
    blocker = tmp_path / "db" / "reviews.db"
    blocker.mkdir(parents=True)  # a directory where the database file should be: the database cannot be opened
    client = make_client(database_url=f"sqlite:///{blocker}", audit_rate=1.0, review_retry_interval=60, **ROUTE_ALL)
    body = client.post("/v1/predict", json=DELIVERY_SV).json()
    assert body["route"] != "review" and body["warning"] is None, f"the routing answer does not depend on the audit: {body}"
    ready = client.get("/readyz").json()
    assert ready["review_buffer"] == 0, f"an audit never takes a place in the retry buffer: {ready}"
    assert 'triage_audits_skipped_total{reason="database_unavailable"} 1.0' in client.get("/metrics").text, "the skipped audit is counted"


def test_the_caller_never_waits_for_an_audit(make_client: ClientFactory, tmp_path: Path) -> None:
    """The audit is written after the response is sent: the answer says nothing about it."""
    client = make_client(database_url=_db(tmp_path), audit_rate=1.0, **ROUTE_ALL)
    services = client.app.state.services  # type: ignore[attr-defined]
    events: list[str] = []
    submit = services.review.submit
    services.review.submit = lambda item: (events.append(f"queued {item.ticket_id}"), submit(item))[1]

    async def call(path: str, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append(f"answered {path}")

        await client.app(scope, receive, send)

    anyio.run(call, "/v1/predict", DELIVERY_SV)
    anyio.run(call, "/v1/predict/batch", {"tickets": [SUPPORT_SV]})
    assert events == ["answered /v1/predict", "queued T-1", "answered /v1/predict/batch", "queued T-3"], \
        f"each answer is sent before its audit is queued: {events}"
