"""POST /v1/predict and /v1/predict/batch: the response, next steps, limits and every input error."""

from __future__ import annotations

import json

import pytest

from service.predict.schemas import PredictResponse
from tests.service.conftest import DELIVERY_EN, DELIVERY_SV, REVIEW_ALL, ROUTE_ALL, SUPPORT_SV, ClientFactory, TestClient


def test_predict_returns_route_evidence_and_next_step(shared_client: ClientFactory) -> None:
    client = shared_client(**ROUTE_ALL)
    r = client.post("/v1/predict", json=DELIVERY_SV)
    assert r.status_code == 200, f"a valid ticket should be routed, got {r.status_code}: {r.text}"
    body = r.json()
    assert body["id"] == "T-1", "the ticket id should be echoed"
    assert body["route"] == "delivery" and body["label"] == "delivery", f"'add a new school to the sync' should be a delivery task: {body}"
    assert set(body["probabilities"]) == {"delivery", "support"}, "probabilities should cover every label"
    assert abs(sum(body["probabilities"].values()) - 1.0) < 1e-6, "probabilities should sum to 1"
    assert body["confidence"] == max(body["probabilities"].values()), "confidence should be the top probability"
    assert body["thresholds"] == {"delivery": 0.5, "support": 0.5}, "the thresholds in force should be reported"
    assert body["language"] == "sv", "a Swedish ticket should be detected as sv"
    assert body["explanation"] and {"term", "label", "weight"} <= set(body["explanation"][0]), "explanation terms should carry label and weight"
    assert any(t["label"] == "delivery" for t in body["explanation"]), "some terms should push towards delivery"
    assert body["model_version"], "the model version should be reported"
    assert body["review_queued"] is None, "a ticket not routed to review has nothing queued"


def test_predict_sends_the_documented_model_as_fastapi_would(shared_client: ClientFactory) -> None:
    # The endpoint serialises its response itself (no second validation by FastAPI): the bytes
    # must be exactly the PredictResponse's JSON, and the OpenAPI must still document that model.
    for settings, ticket in ((ROUTE_ALL, DELIVERY_SV), (REVIEW_ALL, {**SUPPORT_SV, "id": "T-direct"})):
        client = shared_client(**settings)
        r = client.post("/v1/predict", json=ticket)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", f"a JSON 200 is expected: {r.status_code} {r.headers}"
        model = PredictResponse.model_validate_json(r.content)
        assert r.content == model.model_dump_json().encode(), "the body should be PredictResponse's own serialisation, field for field"
        assert all(set(term) == {"term", "label", "weight"} for term in r.json()["explanation"]), "explanation terms keep their three fields"
        if model.route == "review":
            assert model.review_queued is True and isinstance(model.review_item_id, int), f"the review hand-off should be in the response: {r.text}"
    spec = shared_client(**ROUTE_ALL).get("/openapi.json").json()
    ok = spec["paths"]["/v1/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PredictResponse"}, f"the 200 response should still be documented as PredictResponse: {ok}"


def test_delivery_next_step_follows_the_article_in_the_tickets_language(shared_client: ClientFactory) -> None:
    client = shared_client(**ROUTE_ALL)
    sv = client.post("/v1/predict", json=DELIVERY_SV).json()["next_step"]
    assert sv["action"] == "delivery_task", "a delivery task has its own action"
    steps = " ".join(sv["steps"]).lower()
    for phrase in ("stäng supportärendet", "intern leveransuppgift", "kontaktperson (ku)"):
        assert phrase in steps, f"a Swedish ticket's delivery steps should say '{phrase}' as the article does"
    assert sv["customer_message"]["language"] == "sv", "a Swedish ticket should get the Swedish customer message"
    assert "leveransuppgift" in sv["customer_message"]["text"], "the Swedish message should name the delivery task"
    en = client.post("/v1/predict", json=DELIVERY_EN).json()
    assert en["language"] == "en" and en["next_step"]["customer_message"]["language"] == "en", f"an English ticket should get English: {en['next_step']}"
    assert "delivery task" in en["next_step"]["customer_message"]["text"], "the English message should name the delivery task"
    en_steps = " ".join(en["next_step"]["steps"]).lower()
    for phrase in ("close the support ticket", "internal delivery task", "account manager (ku)"):
        assert phrase in en_steps, f"an English ticket's delivery steps should say '{phrase}' as the article does"


def test_support_and_review_next_steps(shared_client: ClientFactory) -> None:
    routed = shared_client(**ROUTE_ALL).post("/v1/predict", json=SUPPORT_SV).json()
    assert routed["route"] == "support", f"a login failure should be support: {routed}"
    assert routed["next_step"]["queue"] == "support" and routed["next_step"]["customer_message"] is None, "support goes to the support queue"
    review = shared_client(**REVIEW_ALL).post("/v1/predict", json=SUPPORT_SV).json()
    assert review["route"] == "review", "with thresholds of 1.0 every ticket should go to review"
    assert review["next_step"]["action"] == "human_review" and review["next_step"]["queue"] == "review", "review goes to the review queue"


def test_batch_answers_in_order_and_isolates_bad_tickets(shared_client: ClientFactory) -> None:
    client = shared_client(**ROUTE_ALL)
    tickets = [DELIVERY_SV, {"body": "  "}, SUPPORT_SV, 42, {"id": "X", "body": "x" * 30_000}, {"id": "Y"}, {"body": "hej", "colour": "red"}]
    r = client.post("/v1/predict/batch", json={"tickets": tickets})
    assert r.status_code == 200, f"a batch with some bad tickets should still succeed: {r.text}"
    results = r.json()["results"]
    assert [item["index"] for item in results] == list(range(len(tickets))), "one result per ticket, in order"
    assert results[0]["result"]["route"] == "delivery" and results[2]["result"]["route"] == "support", "good tickets are routed"
    assert results[0]["error"] is None and results[0]["id"] == "T-1", "a good ticket has no error and keeps its id"
    codes = [item["error"]["code"] if item["error"] else None for item in results]
    assert codes == [None, "empty_ticket", None, "invalid_ticket", "ticket_too_long", "invalid_ticket", "invalid_ticket"], codes
    assert results[4]["id"] == "X", "an error entry keeps the ticket's id"
    assert "body" in results[5]["error"]["message"] and "colour" in results[6]["error"]["message"], "errors name the field to fix"
    assert all(item["result"] is None for item in results if item["error"]), "a ticket has a result or an error, never both"


def test_batch_limits(shared_client: ClientFactory) -> None:
    client = shared_client(max_batch=3)
    r = client.post("/v1/predict/batch", json={"tickets": [SUPPORT_SV] * 4})
    assert r.status_code == 422 and r.json()["error"]["code"] == "batch_too_large", f"4 tickets over a limit of 3 should be 422: {r.text}"
    assert "3" in r.json()["error"]["message"], "the message should state the limit"
    r = client.post("/v1/predict/batch", json={"tickets": "not a list"})
    assert r.status_code == 422 and "tickets" in r.json()["error"]["message"], f"a non-list should be a 422 naming the field: {r.text}"


@pytest.mark.parametrize(("ticket", "code"), [
    ({"body": ""}, "empty_ticket"),
    ({"subject": "Re:", "body": "<p></p>\n--\nMvh"}, "empty_ticket"),
    ({"body": "x" * 20_001}, "ticket_too_long"),
    ({"subject": "hej"}, "invalid_request"),
    ({"body": 5}, "invalid_request"),
    ({"body": "hej", "id": "  "}, "invalid_request"),
    ({"body": "hej", "id": "i" * 201}, "invalid_request"),
])
def test_bad_tickets_are_422_with_a_reason(client: TestClient, ticket: dict[str, object], code: str) -> None:
    r = client.post("/v1/predict", json=ticket)
    assert r.status_code == 422, f"{ticket!r:.60} should be rejected with 422, got {r.status_code}"
    error = r.json()["error"]
    assert error["code"] == code and error["message"], f"expected code {code} with a message, got {error}"


def test_malformed_json_is_400_and_non_json_is_415(client: TestClient) -> None:
    r = client.post("/v1/predict", content=b'{"body": "hej"', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json", f"broken JSON should be 400: {r.text}"
    assert "character" in r.json()["error"]["message"], "the message should say where the JSON broke"
    r = client.post("/v1/predict", content=b"body=hej", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", f"a form body should be 415: {r.text}"
    r = client.post("/v1/predict")
    assert r.status_code == 422 and "JSON body" in r.json()["error"]["message"], f"no body at all should be 422: {r.text}"


def test_oversized_body_is_413_by_length_and_by_streamed_bytes(shared_client: ClientFactory) -> None:
    client = shared_client(max_body_bytes=2048)
    big = json.dumps({"body": "hej " * 1000}).encode()
    r = client.post("/v1/predict", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413, f"a body over the limit should be 413, got {r.status_code}"
    assert r.json()["error"]["code"] == "body_too_large" and "2048" in r.json()["error"]["message"], f"the message should state the limit: {r.text}"

    def chunks():  # no Content-Length: the limit must count the bytes as they arrive
        for start in range(0, len(big), 512):
            yield big[start:start + 512]

    r = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large", f"a streamed body over the limit should be 413: {r.text}"


def test_unknown_path_and_method_use_the_error_shape(client: TestClient) -> None:
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", f"unknown paths should be 404 with the error body: {r.text}"
    r = client.get("/v1/predict")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed", f"GET on predict should be 405: {r.text}"
