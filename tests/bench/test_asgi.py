"""The in-server breakdown: every figure measured, and the FastAPI remainder what the steps leave."""

from pathlib import Path

import pytest

from bench import asgi


def test_breakdown_measures_every_step_and_leaves_the_rest_to_fastapi(small_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asgi, "REPEATS", 1)
    figures = asgi.asgi_breakdown(small_model_dir)
    timed = ["healthz_us", "predict_us", "predict_unexplained_us", "cleaning_us", "model_us", "model_explained_us",
             "language_us", "classify_us", "serialise_us"]
    assert all(figures[k] > 0 for k in timed), f"every step takes measurable time: {figures}"
    assert 0 <= figures["review_share"] <= 1 and 0 < figures["audit_share"] < 0.2, f"the default rate picks a few tickets to audit: {figures}"
    assert figures["audit_write_us"] > 0, "and an audit's write is timed on its own"
    own = figures["cleaning_us"] + figures["classify_us"] + figures["serialise_us"] + figures["review_share"] * figures["review_write_us"]
    assert figures["fastapi_us"] == pytest.approx(figures["predict_us"] - own)
