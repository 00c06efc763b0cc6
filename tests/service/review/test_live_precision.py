"""Live precision from blind audits: the estimate and its Wilson interval, the warning, the summary
endpoint and the metrics gauges."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from model.decision import wilson_interval
from service.metrics import Metrics
from service.review.items import NewReviewItem
from service.review.live_precision import INTERVAL_Z, MIN_AUDITS_FOR_WARNING, REWARN_SECONDS, LabelPrecision, LivePrecision, LivePrecisionWatch
from service.review.store import ReviewStore
from tests.service.conftest import KEYS, REVIEW_KEY, ROUTE_ALL, ClientFactory, TestClient

REVIEW = {"X-API-Key": REVIEW_KEY}
LABELS = ["delivery", "support"]


def test_the_estimate_is_the_share_right_with_its_wilson_interval() -> None:
    p = LabelPrecision.of("delivery", 263, 81)
    assert p.precision == pytest.approx(81 / 263), "the estimate is correct / audits"
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3: 81/263 -> 0.2553 to 0.3662.
    assert (round(p.lower or 0, 4), round(p.upper or 0, 4)) == (0.2553, 0.3662), f"a two-sided 95% Wilson interval: {p}"
    empty = LabelPrecision.of("support", 0, 0)
    assert (empty.precision, empty.lower, empty.upper) == (None, None, None), "no audits: no estimate rather than a made-up one"


def test_below_target_needs_the_whole_interval_below_it_and_enough_audits() -> None:
    n = MIN_AUDITS_FOR_WARNING
    assert LabelPrecision.of("delivery", n, n - 6).below(0.95), f"{n - 6} of {n} right: even the upper end is under 0.95"
    assert not LabelPrecision.of("delivery", n - 1, n - 7).below(0.95), f"fewer than {n} audits never count as below target"
    assert not LabelPrecision.of("delivery", n, n - 1).below(0.95), "29 of 30 right: the interval reaches 0.95, no alarm"
    assert not LabelPrecision.of("delivery", n, 0).below(None), "without a target there is nothing to fall below"


def test_every_label_of_the_model_is_reported() -> None:
    live = LivePrecision.from_counts("v1", 30, 0.95, LABELS, {"delivery": (10, 9), "legacy": (2, 2)}, pending_audits=4)
    assert list(live.per_label) == ["delivery", "support", "legacy"], "the model's labels first, in its order, then any other audited label"
    assert live.per_label["support"].audits == 0 and live.pending_audits == 4, f"a label without audits is listed with none: {live}"


class _Counts:
    """A stand-in store that returns whatever counts the test sets."""

    def __init__(self) -> None:
        self.counts: dict[str, tuple[int, int]] = {}

    def audit_counts(self, window_days: int, model_version: str) -> dict[str, tuple[int, int]]:
        return self.counts

    def count_pending_audits(self) -> int:
        return 0


def test_the_warning_is_logged_when_due_and_not_at_every_refresh(caplog: pytest.LogCaptureFixture) -> None:
    store, now = _Counts(), [0.0]
    watch = LivePrecisionWatch(store, Metrics(), 30, lambda: ("v1", LABELS, 0.95), clock=lambda: now[0])  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger="triage.audit")

    def warnings() -> list[logging.LogRecord]:
        found = [r for r in caplog.records if r.levelno == logging.WARNING]
        caplog.clear()
        return found

    store.counts = {"delivery": (MIN_AUDITS_FOR_WARNING - 1, 20)}
    watch.refresh()
    assert warnings() == [], f"{MIN_AUDITS_FOR_WARNING - 1} audits are too few to warn on, however bad"
    store.counts = {"delivery": (MIN_AUDITS_FOR_WARNING, 20), "support": (MIN_AUDITS_FOR_WARNING, 30)}
    watch.refresh()
    [warning] = warnings()
    fields = warning.__dict__["fields"]
    assert "'delivery'" in warning.getMessage() and fields["label"] == "delivery", f"the warning names the label: {warning.getMessage()}"
    assert fields["upper"] < fields["target"] == 0.95 and fields["audits"] == MIN_AUDITS_FOR_WARNING, f"and gives the figures: {fields}"
    watch.refresh()
    assert warnings() == [], "a label still below target is not warned about again at every decision"
    now[0] += REWARN_SECONDS
    watch.refresh()
    assert len(warnings()) == 1, "but again after an hour while it stays below"
    store.counts = {"delivery": (MIN_AUDITS_FOR_WARNING, 30)}
    watch.refresh()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.INFO, "live precision no longer below the target")], \
        "recovery is logged as information, without a warning"


def _decided_audits(url: str, version: str, label: str, audits: int, correct: int) -> None:
    """Decided audits of tickets the model routed to `label`, `correct` of them confirmed by the agent."""
    other = "support" if label == "delivery" else "delivery"
    with ReviewStore(url) as store:
        for n in range(audits):
            item = store.enqueue(NewReviewItem(ticket_id=f"{version}-{label}-{n}", subject="Ärende", body=f"Text {n}", model_label=label, confidence=0.97,
                                               probabilities={label: 0.97, other: 0.03}, model_version=version, audit=True))
            store.decide(item.id, label if n < correct else other, "Anna")


@pytest.fixture
def audited(make_client: ClientFactory, tmp_path: Path) -> tuple[TestClient, str]:
    """An app with 30 decided audits of 'delivery' (20 right) and 12 of 'support' (12 right) for its model, and the database URL."""
    url = f"sqlite:///{tmp_path / 'q' / 'reviews.db'}"
    client = make_client(database_url=url, api_keys=KEYS, **ROUTE_ALL)
    version = client.get("/v1/model", headers=REVIEW).json()["version"]
    _decided_audits(url, version, "delivery", 30, 20)
    _decided_audits(url, version, "support", 12, 12)
    _decided_audits(url, "some-older-version", "support", 5, 0)  # not the model in service: does not count
    return client, url


def test_the_summary_reports_live_precision_and_warns(audited: tuple[TestClient, str], caplog: pytest.LogCaptureFixture) -> None:
    client, _ = audited
    caplog.set_level(logging.WARNING, logger="triage.audit")
    live = client.get("/v1/review/summary", headers=REVIEW).json()["live_precision"]
    lower, upper = (float(x) for x in wilson_interval(20, 30, INTERVAL_Z))
    delivery = live["per_label"]["delivery"]
    assert (delivery["audits"], delivery["correct"]) == (30, 20) and delivery["precision"] == pytest.approx(20 / 30), f"delivery: {delivery}"
    assert (delivery["lower"], delivery["upper"]) == (pytest.approx(lower), pytest.approx(upper)) and delivery["below_target"], \
        f"delivery's interval ({lower:.3f}-{upper:.3f}) lies below the target: {delivery}"
    support = live["per_label"]["support"]
    assert (support["audits"], support["precision"], support["below_target"]) == (12, 1.0, False), f"support, own version only: {support}"
    assert live["target_precision"] == 0.95 and live["window_days"] == 30 and live["audit_rate"] == 0.05, f"the settings in force: {live}"
    assert [r.__dict__["fields"]["label"] for r in caplog.records if r.levelno == logging.WARNING] == ["delivery"], \
        "reading the figures warns about the label below target"


def _gauges(client: TestClient) -> dict[tuple[str, str], float]:
    families = text_string_to_metric_families(client.get("/metrics").text)
    return {(s.name, s.labels.get("label", "")): s.value for f in families if f.name.startswith(("triage_live", "triage_audits")) for s in f.samples}


def test_metrics_show_live_precision_as_gauges(audited: tuple[TestClient, str]) -> None:
    client, _ = audited
    client.get("/v1/review/summary", headers=REVIEW)
    gauges = _gauges(client)
    lower, upper = (float(x) for x in wilson_interval(20, 30, INTERVAL_Z))
    assert gauges[("triage_live_precision", "delivery")] == pytest.approx(20 / 30), f"the estimate per label: {gauges}"
    assert gauges[("triage_live_precision_lower", "delivery")] == pytest.approx(lower), "the interval's lower end"
    assert gauges[("triage_live_precision_upper", "delivery")] == pytest.approx(upper), "the interval's upper end"
    assert gauges[("triage_live_precision_audits", "delivery")] == 30 and gauges[("triage_live_precision", "support")] == 1.0, f"{gauges}"
    assert gauges[("triage_live_precision_target", "")] == 0.95 and gauges[("triage_audits_pending", "")] == 0, f"{gauges}"


def test_a_decided_audit_updates_the_gauges(make_client: ClientFactory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q' / 'reviews.db'}"
    client = make_client(database_url=url, audit_rate=1.0, **ROUTE_ALL)
    routed = client.post("/v1/predict", json={"id": "A-1", "body": "Hej! Vi vill lägga till en ny skola i synken till Google."}).json()
    [item] = client.get("/v1/review/items").json()["items"]
    client.post(f"/v1/review/items/{item['id']}/decision", json={"label": routed["label"], "reviewer": "Anna"})
    gauges = _gauges(client)
    assert gauges[("triage_live_precision", routed["label"])] == 1.0 and gauges[("triage_live_precision_audits", routed["label"])] == 1, \
        f"the decision is in the gauges at once: {gauges}"
