"""Every row of the HTTP API table in docs/BAD_INPUT.md, sent for real: the status, error code and
message the table documents are what the service answers (so the table cannot drift).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.bad_input_table import NOTHING, table_rows
from tests.service.conftest import SUPPORT_SV, ClientFactory, TestClient

ROWS = table_rows("HTTP API")
JSON = {"content-type": "application/json"}
TEN_MB = 10 * 1024 * 1024
WORDS = "Hej, synken till Google har stannat och eleverna syns inte. "


def _post(path: str = "/v1/predict", **kwargs: Any) -> Callable[[TestClient], httpx.Response]:
    return lambda client: client.post(path, **kwargs)


def _streamed(size: int) -> Iterator[bytes]:
    """A JSON body of `size` bytes in 64 KiB chunks; a generator, so no Content-Length is sent."""
    yield b'{"body": "'
    chunk = b"x" * 65536
    for _ in range(size // len(chunk)):
        yield chunk
    yield b'"}'


MANY_FIELDS = json.dumps({"body": "Hej", **{f"k{n}": 1 for n in range(150_000)}}).encode()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
REQUESTS: dict[str, Callable[[TestClient], httpx.Response]] = {
    "empty-body": _post(json={"body": ""}),
    "whitespace-only": _post(json={"subject": "  ", "body": " \n\t "}),
    "markup-only": _post(json={"body": "<p>&nbsp;</p><br><!-- describe the problem -->"}),
    "too-long": _post(json={"body": "x" * 25_000}),
    "body-10mb": _post(content=json.dumps({"body": "x" * TEN_MB}).encode(), headers=JSON),
    "body-10mb-streamed": _post(content=_streamed(TEN_MB), headers=JSON),
    "invalid-utf8": _post(content=b'{"body": "Hej \xff\xfe"}', headers=JSON),
    "binary-as-json": _post(content=bytes(range(256)) * 4, headers=JSON),
    "binary": _post(content=PNG, headers={"content-type": "application/octet-stream"}),
    "form-encoded": _post(content=b"body=Hej", headers={"content-type": "application/x-www-form-urlencoded"}),
    "no-content-type": _post(content=json.dumps(SUPPORT_SV).encode()),
    "text-json": _post(content=json.dumps(SUPPORT_SV).encode(), headers={"content-type": "text/json"}),
    "x-json": _post(content=json.dumps(SUPPORT_SV).encode(), headers={"content-type": "application/x-json"}),
    "jsonfoo": _post(content=json.dumps(SUPPORT_SV).encode(), headers={"content-type": "application/jsonfoo"}),
    "no-body": _post(headers=JSON),
    "malformed-json": _post(content=b'{"body": "Hej', headers=JSON),
    "deep-nesting": _post(content=b"[" * 100_000 + b"]" * 100_000, headers=JSON),
    "not-an-object": _post(json=["Hej, synken har stannat"]),
    "wrong-type": _post(json={"body": 42}),
    "null-body": _post(json={"body": None}),
    "missing-body": _post(json={"subject": "Synken"}),
    "unknown-field": _post(json={"body": "Hej, synken har stannat", "priority": "high"}),
    "150000-unknown-fields": _post(content=MANY_FIELDS, headers=JSON),
    "unpaired-surrogate": _post(content=b'{"body": "Hej \\ud800 synken"}', headers=JSON),
    "blank-id": _post(json={"id": "\u001d", "body": "Hej, synken har stannat"}),
    "id-too-long": _post(json={"id": "x" * 201, "body": "Hej, synken har stannat"}),
    "control-characters": _post(json={"body": "Hej\u0000, synken\u001b har\u0007 stannat för eleverna"}),
    "batch-over-limit": _post("/v1/predict/batch", json={"tickets": [SUPPORT_SV] * 101}),
    "batch-not-a-list": _post("/v1/predict/batch", json={"tickets": {"body": "Hej"}}),
    "batch-bad-tickets": _post("/v1/predict/batch", json={"tickets": [SUPPORT_SV, {"body": ""}, "Hej", {"body": 1}]}),
    "batch-empty": _post("/v1/predict/batch", json={"tickets": []}),
    "rebound-host": _post(json=SUPPORT_SV, headers={"host": "attacker.example"}),
}


def test_every_documented_case_has_a_request_and_every_request_a_row() -> None:
    assert sorted(REQUESTS) == sorted(ROWS), "docs/BAD_INPUT.md's API table and this test list the same cases"


@pytest.mark.parametrize("case", sorted(ROWS))
def test_the_service_answers_as_documented(shared_client: ClientFactory, case: str) -> None:
    _, status, code, message = ROWS[case]
    r = REQUESTS[case](shared_client())
    assert r.status_code == int(status), f"{case}: docs/BAD_INPUT.md says {status}, the service answered {r.status_code}: {r.text[:300]}"
    body = r.json()
    if code == NOTHING:
        assert "error" not in body, f"{case}: a success has no error: {body}"
    elif case == "batch-bad-tickets":
        errors = [item["error"]["code"] if item["error"] else None for item in body["results"]]
        assert errors == [None, "empty_ticket", "invalid_ticket", "invalid_ticket"], f"{case}: each bad ticket gets its own error: {errors}"
        assert body["results"][0]["result"]["route"], "the good ticket is predicted"
    else:
        assert body["error"]["code"] == code, f"{case}: docs/BAD_INPUT.md says code {code}, got {body['error']}"
    if message != NOTHING:
        assert message in body["error"]["message"], f"{case}: the message should say '{message}': {body['error']['message']}"


def test_a_body_of_150000_unknown_fields_is_refused_cheaply_in_one_short_error(shared_client: ClientFactory) -> None:
    client = shared_client()
    client.post("/v1/predict", content=MANY_FIELDS, headers=JSON)  # warm-up
    started = time.process_time()  # CPU of this process (client and app), so a busy machine does not count
    r = client.post("/v1/predict", content=MANY_FIELDS, headers=JSON)
    seconds = time.process_time() - started
    assert r.status_code == 422 and len(r.content) < 500, f"one error, not one per field: {len(r.content)} bytes"
    assert seconds < 0.6, f"refusing it costs about the parsing of 2 MB of JSON, not 1.6 s of validation: {seconds:.2f} s of CPU"
    batch = client.post("/v1/predict/batch", content=b'{"tickets": [' + MANY_FIELDS + b"]}", headers=JSON)
    assert "150000 fields" in batch.json()["results"][0]["error"]["message"], "a ticket of a batch is refused the same way"


def test_a_long_list_of_errors_is_cut_short(shared_client: ClientFactory) -> None:
    r = shared_client().post("/v1/predict", json={f"f{n}": n for n in range(10)})  # ten unknown fields and no body: eleven errors
    message = r.json()["error"]["message"]
    assert r.status_code == 422 and message.count(": ") == 10 and message.endswith("; and 1 more error"), \
        f"at most ten errors are described, then how many more: {message}"
