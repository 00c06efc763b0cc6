"""Who may call what, for every route the app has: derived from the app itself, so a new endpoint
cannot be left out. API endpoints: no key 401, a key without the endpoint's role 403, a key with it
gets through. Probes, docs and static files are public by name. The review page's GET pages send a
stranger to sign in, and every one of its forms refuses a POST without the session's CSRF token.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, Route

from service.app import create_app
from service.auth import ROLES
from service.config import load_settings
from service.review.store import ReviewStore
from tests.service.conftest import DELIVERY_SV, REVIEW_ALL, SUPPORT_SV, TestClient

KEY_OF_ROLE = {role: f"{role}-only-key-0123456789abcdef" for role in sorted(ROLES)}
PUBLIC_API = {"/healthz", "/readyz", "/metrics"}  # probes and metrics: no key, by design (docs/SERVICE.md)
PUBLIC_OTHER = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/review/static"}  # the API's docs, the page's CSS/JS
PAGE_PREFIX = "/review"  # the agents' page: a signed session cookie instead of an API key
SIGN_IN = "/review/sign-in"
# A request that does what each endpoint is for, so "gets through" means it is served (default: no body).
BODIES: dict[str, Any] = {"/v1/predict": SUPPORT_SV, "/v1/predict/batch": {"tickets": [SUPPORT_SV]},
                          "/v1/review/items/{item_id}/claim": {"reviewer": "Anna"},
                          "/v1/review/items/{item_id}/decision": {"label": "delivery", "reviewer": "Anna"}}


def required_role(route: APIRoute) -> str | None:
    """The role `require_role(...)` asks for anywhere in the route's dependencies, or None."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        call = dependency.call
        if getattr(call, "__qualname__", "") == "require_role.<locals>.check":
            return str(inspect.getclosurevars(call).nonlocals["role"])
        pending.extend(dependency.dependencies)
    return None


def app_routes(app: FastAPI) -> Iterator[BaseRoute]:
    """Every route the app serves, with included routers expanded (newer FastAPI keeps them as one entry each)."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            yield route
        else:
            yield from (context.starlette_route or context.original_route for context in contexts())


def _classify() -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], list[str]]:
    """(method, path, role) of API endpoints; (method, path) of review-page routes; everything else by path."""
    api, pages, other = [], [], []
    app = create_app(load_settings({"model": None, "watch_interval": 0}))  # never started: only its routes are read
    for route in app_routes(app):
        if isinstance(route, APIRoute):
            role = required_role(route)
            for method in sorted(route.methods):
                if route.path.startswith(PAGE_PREFIX) and not route.include_in_schema:
                    pages.append((method, route.path))
                elif role is not None:
                    api.append((method, route.path, role))
                else:
                    other.append(route.path)
        elif isinstance(route, Route | Mount):
            other.append(route.path)
        else:
            other.append(repr(route))
    return api, pages, other


API, PAGES, OTHER = _classify()


def test_every_route_is_protected_or_public_by_name() -> None:
    unknown = sorted(set(OTHER) - PUBLIC_API - PUBLIC_OTHER)
    assert not unknown, f"routes with neither a role nor a place on the public list (add require_role or list them here): {unknown}"
    assert {path for _, path, _ in API} >= {"/v1/predict", "/v1/model", "/v1/admin/reload"}, f"the API endpoints were found: {API}"
    assert PAGES, "the review page's routes were found"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, model_a: Path) -> Iterator[tuple[TestClient, str]]:
    """An app with one key per role, every ticket routed to review, and one item in the queue."""
    url = f"sqlite:///{tmp_path_factory.mktemp('access') / 'reviews.db'}"
    keys = ";".join(f"{key}:{role}" for role, key in KEY_OF_ROLE.items())
    with TestClient(create_app(load_settings({"model": model_a, "database_url": url, "watch_interval": 0, "api_keys": keys,
                                              **REVIEW_ALL}))) as client:
        r = client.post("/v1/predict", json=DELIVERY_SV, headers={"X-API-Key": KEY_OF_ROLE["predict"]})
        assert r.json()["review_queued"], f"the fixture ticket is queued: {r.text}"
        yield client, url


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body = BODIES.get(path)
    return client.request(method, path.replace("{item_id}", "1"), headers=headers, **({"json": body} if body is not None else {}))


@pytest.mark.parametrize(("method", "path", "role"), API, ids=[f"{m} {p}" for m, p, _ in API])
def test_an_api_endpoint_needs_a_key_with_its_role(keyed: tuple[TestClient, str], method: str, path: str, role: str) -> None:
    client, _ = keyed
    r = _call(client, method, path, {})
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key", f"{method} {path} without a key: {r.status_code} {r.text}"
    r = _call(client, method, path, {"X-API-Key": "not-a-configured-key-0123456789"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key", f"{method} {path} with an unknown key: {r.status_code}"
    for other, key in KEY_OF_ROLE.items():
        if other != role:
            r = _call(client, method, path, {"Authorization": f"Bearer {key}"})
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", f"{method} {path} with a {other} key: {r.status_code}"
    r = _call(client, method, path, {"Authorization": f"Bearer {KEY_OF_ROLE[role]}"})
    assert r.status_code < 400, f"{method} {path} with a {role} key should be served: {r.status_code} {r.text[:300]}"


@pytest.mark.parametrize("path", sorted(PUBLIC_API))
def test_probes_and_metrics_need_no_key(keyed: tuple[TestClient, str], path: str) -> None:
    assert keyed[0].get(path).status_code == 200, f"{path} is public"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "a page with a form carries the session's CSRF token"
    return found.group(1)


@pytest.mark.parametrize(("method", "path"), PAGES, ids=[f"{m} {p}" for m, p in PAGES])
def test_a_review_page_needs_a_session_and_its_forms_a_csrf_token(keyed: tuple[TestClient, str], method: str, path: str) -> None:
    client, url = keyed
    stranger = TestClient(client.app)  # a browser without a session
    target = re.sub(r"\{item_id(:int)?\}", "1", path)
    if method == "GET":
        r = stranger.get(target, follow_redirects=False)
        allowed = r.status_code == 200 if path == SIGN_IN else (r.status_code == 303 and r.headers["location"] == SIGN_IN)
        assert allowed, f"GET {path} without a session should {'show the form' if path == SIGN_IN else 'send to sign-in'}: {r.status_code}"
        return
    with ReviewStore(url) as store:
        before = store.get(1)
    agent = TestClient(client.app)  # a signed-in agent's browser
    token = _csrf(agent.get(SIGN_IN).text)
    signed_in = agent.post(SIGN_IN, data={"csrf": token, "name": "Anna", "key": KEY_OF_ROLE["review"]}, follow_redirects=False)
    assert signed_in.status_code == 303, f"the agent signs in: {signed_in.status_code}"
    token = _csrf(agent.get("/review").text)
    form = {"label": "delivery", "name": "Eve", "key": KEY_OF_ROLE["review"], "language": "en", "direction": "next", "after": "1"}
    other_session = _csrf(TestClient(client.app).get(SIGN_IN).text)  # a valid token, of a third browser's session
    for csrf, whose in ((None, "no token"), ("forged-" + token[7:], "a forged token"), (other_session, "another session's token")):
        for browser, who in ((agent, "a signed-in agent"), (TestClient(client.app), "a browser without a session")):
            r = browser.post(target, data=form if csrf is None else {**form, "csrf": csrf}, follow_redirects=False)
            assert r.status_code == 403, f"POST {path} by {who} with {whose} should be refused: {r.status_code}"
    with ReviewStore(url) as store:
        assert store.get(1) == before, "no refused form changed the queue"


@pytest.mark.parametrize(("host", "allowed"), [
    ("localhost", True), ("localhost:8000", True), ("127.0.0.1:8000", True), ("127.1.2.3", True), ("[::1]:8000", True),
    ("attacker.example", False), ("attacker.example:8000", False), ("localhost.attacker.example", False), ("127.0.0.1.nip.io", False),
    ("", False),
])
def test_open_mode_answers_only_requests_to_a_loopback_name(client: TestClient, host: str, allowed: bool) -> None:
    r = client.get("/v1/model", headers={"host": host})
    if allowed:
        assert r.status_code == 200, f"Host {host!r} names this machine: {r.status_code} {r.text[:200]}"
    else:
        assert r.status_code == 400 and r.json()["error"]["code"] == "host_not_allowed", f"Host {host!r} could be a rebound name: {r.status_code}"
        assert "configure API keys" in r.json()["error"]["message"], "the message says what to do"


def test_with_keys_any_host_name_is_served(keyed: tuple[TestClient, str]) -> None:
    r = keyed[0].get("/v1/model", headers={"host": "triage.example.org", "X-API-Key": KEY_OF_ROLE["predict"]})
    assert r.status_code == 200, f"with keys the service may be reached under any name (behind a proxy): {r.status_code}"
