import hashlib
import json
import shutil
from pathlib import Path

import pytest
import skops.io as sio

import model.registry as registry_module
from model.registry import (
    CURRENT_FILE,
    METADATA_FILE,
    MODEL_FILE,
    SIGNATURE_FILE,
    ModelError,
    check_new_model_dir,
    current_version,
    file_sha256,
    list_versions,
    load_pipeline,
    publish,
    read_metadata,
    rollback,
    sign_model,
    verify_model,
)
from tests.conftest import sign_metadata


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
    sign_metadata(d)  # as saved (and signed) by a machine with that scikit-learn
    with pytest.raises(ModelError, match="saved with scikit-learn 0.24.2.*retrain"):
        load_pipeline(d)


def test_publish_and_rollback(small_model_dir: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    first = publish(small_model_dir, registry)
    other = copy_model(small_model_dir, tmp_path / "other")
    meta = json.loads((other / METADATA_FILE).read_text())
    meta["version"] = "99991231-000000-newer"
    (other / METADATA_FILE).write_text(json.dumps(meta))
    sign_metadata(other)
    second = publish(other, registry)
    assert list_versions(registry) == [first, second] and current_version(registry) == second
    assert rollback(registry) == first and current_version(registry) == first
    with pytest.raises(ModelError, match="no version older"):
        rollback(registry)
    with pytest.raises(ModelError, match="no version 'nope'"):
        rollback(registry, "nope")


# --- what an attack on the registry tried (issue 16) -------------------------------------------


def _edit_metadata(model_dir: Path, **changes: object) -> None:
    meta = json.loads((model_dir / METADATA_FILE).read_text())
    meta.update(changes)
    (model_dir / METADATA_FILE).write_text(json.dumps(meta))


def test_metadata_edited_without_the_registry_key_is_refused_by_publish_and_load(small_model_dir: Path, tmp_path: Path) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    _edit_metadata(d, thresholds={"delivery": 0.5, "support": 0.5}, version="99991231-000000-madeup")
    registry = tmp_path / "registry"
    with pytest.raises(ModelError, match="does not match its signature"):
        publish(d, registry)
    assert list_versions(registry) == [], "nothing is published from a directory whose metadata was edited"
    with pytest.raises(ModelError, match="does not match its signature"):
        load_pipeline(d)
    (d / SIGNATURE_FILE).unlink()
    with pytest.raises(ModelError, match="not signed.*triage sign"):
        verify_model(d)


@pytest.mark.parametrize("version", ["../../x", "../outside", "/tmp/abs", ".hidden", "a/b", "..", "x" * 101])
def test_publish_refuses_a_version_that_is_no_plain_name_before_writing_anything(small_model_dir: Path, tmp_path: Path, version: str) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    _edit_metadata(d, version=version)
    sign_metadata(d)  # even a key holder's metadata may not lead out of the registry
    registry = tmp_path / "a" / "registry"
    with pytest.raises(ModelError, match="'version' is not a plain version name"):
        publish(d, registry)
    assert not registry.exists(), "publish refuses before it creates or writes anything"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"], f"nothing was written beside the registry: {list(tmp_path.iterdir())}"


def test_publish_refuses_artifacts_other_than_a_model_directorys_files(small_model_dir: Path, tmp_path: Path) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    meta = json.loads((d / METADATA_FILE).read_text())
    (d / "__init__.py").write_text("raise SystemExit('ran')\n")
    _edit_metadata(d, artifacts={**meta["artifacts"], "__init__.py": file_sha256(d / "__init__.py")})
    sign_metadata(d)
    with pytest.raises(ModelError, match=r"'artifacts' lists files a model directory does not hold: '__init__.py'"):
        publish(d, tmp_path / "registry")
    assert not (tmp_path / "registry").exists()


def test_publish_writes_the_bytes_it_verified(small_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    original = (d / MODEL_FILE).read_bytes()
    real_mkdtemp = registry_module.tempfile.mkdtemp

    def swap_then_mkdtemp(*args: object, **kwargs: object) -> str:
        (d / MODEL_FILE).write_bytes(b"swapped after the check")  # between verification and copy
        return real_mkdtemp(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(registry_module.tempfile, "mkdtemp", swap_then_mkdtemp)
    version = publish(d, tmp_path / "registry")
    assert (tmp_path / "registry" / version / MODEL_FILE).read_bytes() == original, "the registry holds the verified model, not the swapped file"


def test_loading_hashes_and_loads_the_same_bytes(small_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    real_loads = registry_module.sio.loads
    seen: list[bytes] = []

    def swap_then_load(data: bytes, **kwargs: object) -> object:
        (d / MODEL_FILE).write_bytes(b"PK\x03\x04 swapped after the hash check")  # the file changes under the loader
        seen.append(data)
        return real_loads(data, **kwargs)

    monkeypatch.setattr(registry_module.sio, "loads", swap_then_load)
    pipeline, meta = load_pipeline(d)
    assert hashlib.sha256(seen[0]).hexdigest() == meta["artifacts"][MODEL_FILE], "the bytes loaded are the bytes whose sha256 was checked"
    assert list(pipeline.classes_) == meta["labels"]


def test_a_model_that_unpacks_beyond_the_limit_is_refused_before_unpacking(small_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "MAX_MODEL_BYTES", 500_000)  # the small model: a 0.2 MB file that unpacks to 0.8 MB
    with pytest.raises(ModelError, match=r"model.skops could not be loaded: it unpacks to [\d,]+ bytes, more than the 500,000"):
        load_pipeline(small_model_dir)


def test_a_model_whose_arrays_do_not_fit_together_is_refused_with_the_reason(small_model_dir: Path, tmp_path: Path) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    pipeline, _ = load_pipeline(d)
    word = dict(pipeline.named_steps["features"].transformer_list)["word"]
    word._tfidf.idf_ = word.idf_[:-5]  # a vocabulary with fewer idf weights than terms
    sio.dump(pipeline, d / MODEL_FILE)
    meta = json.loads((d / METADATA_FILE).read_text())
    _edit_metadata(d, artifacts={**meta["artifacts"], MODEL_FILE: file_sha256(d / MODEL_FILE)})
    sign_metadata(d)
    with pytest.raises(ModelError, match=r"parts do not fit together: the word features have \d+ terms but idf weights of shape"):
        load_pipeline(d)


def test_train_never_writes_into_a_folder_that_holds_files(small_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "project"
    out.mkdir()
    (out / "README.md").write_text("the project's own README")
    with pytest.raises(ModelError, match="already holds files; choose a new folder"):
        check_new_model_dir(out)
    check_new_model_dir(tmp_path / "new")  # absent: fine
    (tmp_path / "empty").mkdir()
    check_new_model_dir(tmp_path / "empty")  # empty: fine
    assert (out / "README.md").read_text() == "the project's own README"


# --- CURRENT: the version in service is the one chosen, or none ----------------------------------


@pytest.fixture
def two_versions(small_model_dir: Path, tmp_path: Path) -> tuple[Path, str, str]:
    registry = tmp_path / "registry"
    older = publish(small_model_dir, registry)
    newer_dir = copy_model(small_model_dir, tmp_path / "newer")
    _edit_metadata(newer_dir, version="99991231-000000-newer")
    sign_metadata(newer_dir)
    newer = publish(newer_dir, registry)
    rollback(registry, older)
    return registry, older, newer


def test_a_deleted_current_never_brings_back_the_newest_version(two_versions: tuple[Path, str, str]) -> None:
    registry, older, _ = two_versions
    assert current_version(registry) == older, "rolled back"
    (registry / CURRENT_FILE).unlink()
    with pytest.raises(ModelError, match="CURRENT is missing, so no version is chosen.*triage rollback"):
        current_version(registry)


@pytest.mark.parametrize("content", ["20000101-000000-unknown\n", "../elsewhere\n", "/etc\n", "", "\xff\xfe"])
def test_a_current_naming_no_version_of_the_registry_is_refused(two_versions: tuple[Path, str, str], tmp_path: Path, content: str) -> None:
    registry, _, _ = two_versions
    elsewhere = tmp_path / "elsewhere"
    copy_model(registry / list_versions(registry)[-1], elsewhere)  # a valid model just outside the registry
    (registry / CURRENT_FILE).write_bytes(content.encode("latin-1"))
    with pytest.raises(ModelError, match=r"CURRENT (names version|does not hold a version name|is unreadable)"):
        current_version(registry)


def test_a_version_folder_linking_outside_the_registry_is_refused(small_model_dir: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    publish(small_model_dir, registry)
    outside = copy_model(small_model_dir, tmp_path / "outside")
    (registry / "99991231-000000-link").symlink_to(outside, target_is_directory=True)
    (registry / CURRENT_FILE).write_text("99991231-000000-link\n")
    with pytest.raises(ModelError, match="is a link to a folder outside the registry"):
        current_version(registry)
    with pytest.raises(ModelError, match="is a link to a folder outside the registry"):
        rollback(registry, "99991231-000000-link")


def test_an_empty_registry_has_no_current_version(tmp_path: Path) -> None:
    assert current_version(tmp_path / "none") is None
    (tmp_path / "empty").mkdir()
    assert current_version(tmp_path / "empty") is None


def test_sign_model_signs_a_directory_whose_files_match_its_metadata(small_model_dir: Path, tmp_path: Path) -> None:
    d = copy_model(small_model_dir, tmp_path / "m")
    (d / SIGNATURE_FILE).unlink()
    assert sign_model(d) == read_metadata(small_model_dir)["version"]
    verify_model(d)
    with open(d / MODEL_FILE, "ab") as f:
        f.write(b"x")
    (d / SIGNATURE_FILE).unlink()
    with pytest.raises(ModelError, match="does not match its sha256"):
        sign_model(d)
    assert not (d / SIGNATURE_FILE).exists(), "a directory whose files do not match is not signed"
