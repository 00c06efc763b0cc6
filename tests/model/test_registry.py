import json
import shutil
from pathlib import Path

import pytest

from model.registry import (
    METADATA_FILE,
    MODEL_FILE,
    ModelError,
    current_version,
    list_versions,
    load_pipeline,
    publish,
    rollback,
    verify_model,
)


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_model_directory_has_artifacts_hashes_and_card(small_model_dir: Path) -> None:
    meta = json.loads((small_model_dir / METADATA_FILE).read_text())
    for key in ("version", "created", "labels", "thresholds", "metrics", "data", "libraries", "artifacts"):
        assert key in meta, f"metadata.json should record {key}"
    assert set(meta["artifacts"]) == {"model.skops", "README.md", "oof_predictions.csv"}
    assert meta["data"]["files"][0]["sha256"], "training data is identified by hash"
    assert "per_language" in meta["metrics"]
    assert meta["version"] in (small_model_dir / "README.md").read_text(), "the model card names its version"


def test_load_returns_the_pipeline_with_the_labels_of_its_metadata(small_model_dir: Path) -> None:
    pipeline, meta = load_pipeline(small_model_dir)
    assert list(pipeline.classes_) == meta["labels"] == ["delivery", "support"]


def test_tampered_model_is_refused(small_model_dir: Path, tmp_path: Path) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    with open(d / MODEL_FILE, "ab") as f:
        f.write(b"x")
    with pytest.raises(ModelError, match="does not match its sha256"):
        load_pipeline(d)


def test_truncated_and_missing_artifacts_are_refused(small_model_dir: Path, tmp_path: Path) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    (d / MODEL_FILE).write_bytes((d / MODEL_FILE).read_bytes()[:1000])
    with pytest.raises(ModelError, match="sha256"):
        verify_model(d)
    (d / MODEL_FILE).unlink()
    with pytest.raises(ModelError, match="model.skops is missing"):
        verify_model(d)
    with pytest.raises(ModelError, match="not found"):
        verify_model(tmp_path / "nothing")


def test_model_of_another_scikit_learn_minor_version_is_refused(small_model_dir: Path, tmp_path: Path) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    meta = json.loads((d / METADATA_FILE).read_text())
    meta["libraries"]["scikit-learn"] = "0.24.2"
    (d / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="saved with scikit-learn 0.24.2.*retrain"):
        load_pipeline(d)


def test_publish_and_rollback(small_model_dir: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    first = publish(small_model_dir, registry)
    other = copy_model(small_model_dir, tmp_path / "other")
    meta = json.loads((other / METADATA_FILE).read_text())
    meta["version"] = "99991231-000000-newer"
    (other / METADATA_FILE).write_text(json.dumps(meta))
    second = publish(other, registry)
    assert list_versions(registry) == [first, second] and current_version(registry) == second
    assert rollback(registry) == first and current_version(registry) == first
    with pytest.raises(ModelError, match="no version older"):
        rollback(registry)
    with pytest.raises(ModelError, match="no version 'nope'"):
        rollback(registry, "nope")
