"""API keys: parsing both formats, constant-time lookup, and 401/403 on every protected endpoint."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from service.auth import parse_keys
from service.config import ConfigError, load_settings
from tests.service.conftest import ADMIN_KEY, KEYS, PREDICT_KEY, REVIEW_KEY, SUPPORT_SV, ClientFactory

PROTECTED = [("post", "/v1/predict", {"json": SUPPORT_SV}), ("post", "/v1/predict/batch", {"json": {"tickets": [SUPPORT_SV]}}),
             ("get", "/v1/model", {}), ("post", "/v1/admin/reload", {})]


def test_line_and_json_formats_parse_to_the_same_roles() -> None:
    lines = parse_keys(f"# ops keys\n{PREDICT_KEY}:predict\n{ADMIN_KEY}: admin , predict\n", "file")
    as_json = parse_keys(f'{{"{PREDICT_KEY}": ["predict"], "{ADMIN_KEY}": "admin,predict"}}', "file")
    as_list = parse_keys(f'[{{"key": "{PREDICT_KEY}", "roles": ["predict"]}}, {{"key": "{ADMIN_KEY}", "roles": ["admin", "predict"]}}]', "file")
    for ring in (lines, as_json, as_list):
        assert ring.roles_of(PREDICT_KEY) == {"predict"}, "the predict key should have exactly the predict role"
        assert ring.roles_of(ADMIN_KEY) == {"admin", "predict"}, "the admin key should have both its roles"
        assert ring.roles_of("not-a-configured-key-at-all") is None, "an unknown key has no roles"
    assert parse_keys(KEYS, "env").roles_of(REVIEW_KEY) == {"review", "predict"}, "';' separates entries in one line"
    assert parse_keys("  \n", "env").open, "no keys means open mode"


@pytest.mark.parametrize(("text", "fragment"), [
    ("short:predict", "shorter than 16"),
    (f"{PREDICT_KEY}:superuser", "roles must be some of"),
    (f"{PREDICT_KEY}", "key:role1,role2"),
    (f"{PREDICT_KEY}:predict\n{PREDICT_KEY}:admin", "repeats an earlier key"),
    ('{"a": ', "not valid JSON"),
    ('["x"]', "JSON must be"),
])
def test_bad_key_configurations_say_what_to_fix_without_quoting_keys(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_keys(text, "TRIAGE_API_KEYS")
    assert fragment in str(caught.value), f"expected '{fragment}' in: {caught.value}"
    assert PREDICT_KEY not in str(caught.value), "an error message must never quote a key"


@pytest.mark.parametrize(("method", "path", "kwargs"), PROTECTED)
def test_missing_or_unknown_key_is_401(shared_client: ClientFactory, method: str, path: str, kwargs: dict) -> None:
    client = shared_client(api_keys=KEYS)
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key", f"{path} without a key should be 401: {r.text}"
    assert r.headers["www-authenticate"] == "Bearer", "a 401 should name the Bearer scheme"
    r = getattr(client, method)(path, headers={"X-API-Key": "wrong-key-0123456789abcdef"}, **kwargs)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key", f"{path} with a wrong key should be 401: {r.text}"


def test_roles_decide_access_and_both_headers_work(shared_client: ClientFactory) -> None:
    client = shared_client(api_keys=KEYS)
    bearer = {"Authorization": f"Bearer {PREDICT_KEY}"}
    assert client.post("/v1/predict", json=SUPPORT_SV, headers=bearer).status_code == 200, "a predict key may predict (Bearer)"
    assert client.post("/v1/predict", json=SUPPORT_SV, headers={"X-API-Key": REVIEW_KEY}).status_code == 200, "X-API-Key works too"
    r = client.post("/v1/admin/reload", headers=bearer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden" and "admin" in r.json()["error"]["message"], f"reload needs admin: {r.text}"
    r = client.post("/v1/predict", json=SUPPORT_SV, headers={"X-API-Key": ADMIN_KEY})
    assert r.status_code == 403, "an admin-only key may not predict: roles are explicit"
    assert client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY}).status_code == 200, "an admin key may reload"
    assert client.get("/healthz").status_code == 200 and client.get("/metrics").status_code == 200, "probes and metrics need no key"


def test_keys_from_a_file(make_client: ClientFactory, tmp_path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(f'{{"{PREDICT_KEY}": ["predict"]}}')
    path.chmod(0o600)  # a key file others could read is refused
    client = make_client(api_keys_file=path)
    assert client.get("/v1/model").status_code == 401, "with a key file, requests without a key are refused"
    assert client.get("/v1/model", headers={"X-API-Key": PREDICT_KEY}).status_code == 200, "a key from the file is accepted"


def test_no_keys_grants_every_role_on_loopback(client) -> None:
    assert client.post("/v1/admin/reload").status_code == 200, "open loopback mode grants admin too"
    assert client.post("/v1/predict", json=SUPPORT_SV).status_code == 200, "open loopback mode grants predict"


@pytest.mark.parametrize(("key", "fragment"), [
    ("nyckel-för-helpdesken-Xq7vR2mK9p", "other than printable ASCII"),
    ("key with spaces Xq7vR2mK9pL4", "other than printable ASCII"),
    ("aaaaaaaaaaaaaaaaaaaa", "easy to guess"),
    ("Password1234567890!", "easy to guess"),
    ("0123456789abcdef0123", "easy to guess"),
    ("x" * 300, "longer than 256"),
])
def test_keys_that_could_never_match_or_are_easy_to_guess_are_refused(key: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_keys(f"{key}:predict", "TRIAGE_API_KEYS")
    assert fragment in str(caught.value) and "secrets.token_urlsafe" in str(caught.value), f"expected '{fragment}' and how to make a key: {caught.value}"
    assert key not in str(caught.value), "an error message must never quote a key"


def test_a_generated_key_is_strong_enough() -> None:
    generated = secrets.token_urlsafe(32)
    assert parse_keys(f"{generated}:predict", "env").roles_of(generated) == {"predict"}, "secrets.token_urlsafe(32), as the docs say, is accepted"


@pytest.mark.parametrize("text", ["", "\n\n", "# ops keys\n# none yet\n", "{}", "[]"])
def test_a_key_file_without_keys_is_refused_at_start_up(tmp_path: Path, text: str) -> None:
    path = tmp_path / "keys"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="holds no keys"):
        load_settings({"api_keys_file": path})


def test_an_empty_keys_variable_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="TRIAGE_API_KEYS is set but holds no keys"):
        load_settings({"api_keys": " "})


@pytest.mark.parametrize(("mode", "allowed"), [(0o600, True), (0o400, True), (0o640, True), (0o644, False), (0o660, False), (0o606, False)])
def test_a_key_file_others_could_read_or_change_is_refused(tmp_path: Path, mode: int, allowed: bool) -> None:
    path = tmp_path / "keys"
    path.write_text(f"{PREDICT_KEY}:predict\n")
    path.chmod(mode)
    if allowed:
        assert not load_settings({"api_keys_file": path}).key_ring.open, f"mode {mode:o} keeps the keys private"
        return
    with pytest.raises(ConfigError) as caught:
        load_settings({"api_keys_file": path})
    assert f"mode {mode:o}" in str(caught.value) and f"chmod 600 {path}" in str(caught.value), f"the message says how to fix it: {caught.value}"
