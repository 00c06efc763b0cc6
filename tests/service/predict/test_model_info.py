"""GET /v1/model: the model in service, the thresholds in force and where they come from."""

from __future__ import annotations

import json

from tests.service.conftest import ClientFactory


def test_model_endpoint_describes_the_model_in_force(shared_client: ClientFactory, model_a) -> None:
    client = shared_client(thresholds={"support": 0.9})
    info = client.get("/v1/model").json()
    meta = json.loads((model_a / "metadata.json").read_text())
    assert info["version"] == meta["version"] and info["labels"] == meta["labels"], "version and labels come from the model"
    assert info["thresholds"]["support"] == 0.9, "an overridden threshold is the one in force"
    assert info["thresholds"]["delivery"] == meta["thresholds"]["delivery"], "other thresholds stay the model's"
    assert info["threshold_overrides"] == {"support": 0.9}, "overrides are listed"
    assert info["target_precision"] == meta["target_precision"], "the model's target precision applies by default"
    assert info["metrics"] and info["data"]["tickets"] == meta["data"]["tickets"], "metrics and the data summary are included"


def test_target_precision_setting_rechooses_thresholds(shared_client: ClientFactory, model_a) -> None:
    strict = shared_client(target_precision=0.99).get("/v1/model").json()
    loose = shared_client(target_precision=0.6).get("/v1/model").json()
    assert strict["target_precision"] == 0.99 and loose["target_precision"] == 0.6, "the setting is the target in force"
    assert loose["thresholds"]["support"] <= strict["thresholds"]["support"], "a lower target precision should never raise a threshold"
