"""The agents' review page in-process: sign-in, CSRF protection, deciding through the form, languages."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

import service.review as review_package
from service.auth import key_digest, parse_keys
from service.review.highlight import highlight
from service.review.session import SessionCodec, WebSession, key_fingerprint
from service.review.store import ReviewStore
from service.review.texts import TEXTS, label_name
from tests.service.conftest import DELIVERY_EN, DELIVERY_SV, KEYS, PREDICT_KEY, REVIEW_ALL, REVIEW_KEY, SUPPORT_SV, ClientFactory, TestClient

REVIEW = {"X-API-Key": REVIEW_KEY}
SECRET_MAIL = "per.karlsson@example.se"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'q' / 'reviews.db'}"


@pytest.fixture
def site(make_client: ClientFactory, db_url: str) -> TestClient:
    """An app with API keys whose every ticket routes to review."""
    return make_client(database_url=db_url, api_keys=KEYS, **REVIEW_ALL)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every page with a form carries a CSRF token"
    return found.group(1)


def _enqueue(client: TestClient, *tickets: dict[str, str]) -> list[int]:
    return [client.post("/v1/predict", json=t, headers=REVIEW).json()["review_item_id"] for t in tickets]


def _sign_in(client: TestClient, name: str = "Anna", key: str | None = REVIEW_KEY) -> httpx.Response:
    form = {"csrf": _csrf(client.get("/review/sign-in").text), "name": name}
    if key is not None:
        form["key"] = key
    return client.post("/review/sign-in", data=form, follow_redirects=False)


def test_pages_need_a_signed_in_reviewer(site: TestClient) -> None:
    (item_id,) = _enqueue(site, DELIVERY_SV)
    for path in ("/review", f"/review/items/{item_id}"):
        r = site.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/review/sign-in", f"{path} sends a stranger to sign in: {r.status_code}"
    page = site.get("/review/sign-in")
    assert 'type="password"' in page.text and '<label for="key">' in page.text, "with keys configured, sign-in asks for the key"
    assert 'lang="sv"' in page.text and "Logga in" in page.text, "Swedish is the default language"


def test_sign_in_checks_the_key_and_its_role(site: TestClient) -> None:
    for key, fragment in (("", "Ange din granskarnyckel"), ("not-a-key-0123456789", "gäller inte för granskning"),
                          (PREDICT_KEY, "gäller inte för granskning")):
        r = _sign_in(site, key=key)
        assert r.status_code == 401 and fragment in r.text, f"key {key[:6]!r}... should be refused with '{fragment}': {r.status_code}"
        assert 'aria-invalid="true"' in r.text, "the bad field is marked for assistive technology"
    r = _sign_in(site, name="  ")
    assert r.status_code == 422 and "Ange ditt namn" in r.text, "a name is required"
    r = _sign_in(site)
    assert r.status_code == 303 and r.headers["location"] == "/review", f"a review key signs in: {r.status_code}"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/review" in cookie, cookie
    assert REVIEW_KEY not in cookie, "the session cookie never holds the key"
    queue = site.get("/review")
    assert queue.status_code == 200 and "Inloggad som Anna" in queue.text, "the queue page names the reviewer"
    assert "default-src 'none'" in queue.headers["content-security-policy"] and queue.headers["cache-control"] == "no-store", "strict headers"


def test_without_keys_on_loopback_sign_in_asks_only_for_a_name(make_client: ClientFactory, db_url: str) -> None:
    client = make_client(database_url=db_url)
    page = client.get("/review/sign-in").text
    assert 'type="password"' not in page and '<label for="name">' in page, "open mode: no key field, a labelled name field"
    assert _sign_in(client, key=None).status_code == 303, "a name is enough in open mode"
    assert "Inloggad som Anna" in client.get("/review").text, "signed in by name"


def test_a_post_without_a_valid_csrf_token_is_refused(site: TestClient, db_url: str) -> None:
    (item_id,) = _enqueue(site, DELIVERY_SV)
    _sign_in(site)
    token = _csrf(site.get("/review").text)
    for form in ({"label": "delivery"}, {"label": "delivery", "csrf": "forged"}, {"label": "delivery", "csrf": token[:-2] + "xx"}):
        r = site.post(f"/review/items/{item_id}/decide", data=form, follow_redirects=False)
        assert r.status_code == 403 and "Formuläret kunde inte skickas" in r.text, f"a bad token gets a clear 403 page: {r.status_code}"
    stranger = TestClient(site.app)  # another browser: no session, so no token of its own
    r = stranger.post("/review/sign-in", data={"csrf": token, "name": "Eve", "key": REVIEW_KEY}, follow_redirects=False)
    assert r.status_code == 403, "a token from another session is worthless"
    with ReviewStore(db_url) as store:
        assert store.get(item_id).decided_at is None, "no refused form changed anything"


def test_deciding_through_the_form_removes_the_ticket_and_opens_the_next(site: TestClient, db_url: str) -> None:
    first, second = _enqueue(site, {**DELIVERY_SV, "body": DELIVERY_SV["body"] + f" {SECRET_MAIL}"}, DELIVERY_EN)
    _sign_in(site)
    queue = site.get("/review").text
    assert DELIVERY_SV["id"] in queue and DELIVERY_EN["id"] in queue, "the queue lists both tickets"
    r = site.post(f"/review/items/{first}/claim", data={"csrf": _csrf(queue)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/review/items/{first}", "opening a ticket claims and shows it"
    page = site.get(f"/review/items/{first}").text
    text = re.sub(r"<[^>]+>", "", page)  # the words without their highlights
    assert "Ekbackens skola" in text and SECRET_MAIL not in page, "the ticket page shows the redacted text"
    assert re.search(r'<mark class="label-\d">', page), "the terms behind the model's guess are highlighted"
    assert 'name="label" value="delivery"' in page and "Leveransuppgift" in page, "one decision button per label, by display name"
    assert "Du håller ärendet" in page and "Vad som händer sedan" in page, "the claim and the next steps are shown"
    r = site.post(f"/review/items/{first}/decide", data={"csrf": _csrf(page), "label": "delivery", "note": "ny skola"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/review/items/{second}", f"the next ticket opens: {r.headers.get('location')}"
    assert "Sparat: ärende T-1 är Leveransuppgift." in site.get(r.headers["location"]).text, "the page confirms the decision"
    assert DELIVERY_SV["id"] not in site.get("/review").text, "the decided ticket left the queue"
    with ReviewStore(db_url) as store:
        decided = store.get(first)
    assert (decided.decided_label, decided.decided_by, decided.note) == ("delivery", "Anna", "ny skola"), f"stored: {decided}"


def test_someone_elses_decision_or_claim_is_explained(site: TestClient) -> None:
    decided, held = _enqueue(site, DELIVERY_SV, SUPPORT_SV)
    site.post(f"/v1/review/items/{decided}/decision", json={"label": "support", "reviewer": "Bo"}, headers=REVIEW)
    site.post(f"/v1/review/items/{held}/claim", json={"reviewer": "Bo"}, headers=REVIEW)
    _sign_in(site)
    token = _csrf(site.get("/review").text)
    r = site.post(f"/review/items/{decided}/decide", data={"csrf": token, "label": "delivery"})
    assert r.status_code == 409 and "redan avgjort av Bo (Support)" in r.text, f"a decided ticket says who decided: {r.status_code}"
    assert re.search(r'role="status"[^>]*>\s*<p class="flash flash-error">Ärende T-1 är redan avgjort', r.text), "the message is in the live region"
    r = site.post(f"/review/items/{held}/decide", data={"csrf": token, "label": "delivery"})
    assert r.status_code == 409 and "Bo arbetar med ärende T-3" in r.text, "a ticket held by another says who holds it"
    r = site.post(f"/review/items/{held}/claim", data={"csrf": token})
    assert r.status_code == 200 and "Bo håller ärendet" in r.text, "opening a held ticket explains why not"


def test_the_language_switch_is_remembered(site: TestClient) -> None:
    _sign_in(site)
    page = site.get("/review").text
    r = site.post("/review/language", data={"csrf": _csrf(page), "language": "en", "next": "/review"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review", "switching returns to the page"
    english = site.get("/review").text
    assert 'lang="en"' in english and "Review queue" in english and "På svenska" in english, "the interface is in English now"
    r = site.post("/review/language", data={"csrf": _csrf(english), "language": "sv", "next": "https://evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/review", "the switch only returns to the review site"
    assert "Granskningskö" in site.get("/review").text, "and back to Swedish"


def test_a_tampered_session_cookie_is_ignored(site: TestClient) -> None:
    _sign_in(site)
    value = site.cookies.get("triage_review")
    assert value, "signing in sets the session cookie"
    payload, _, signature = value.partition(".")
    site.cookies.set("triage_review", payload[:-4] + "AAAA." + signature, path="/review")
    r = site.get("/review", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/sign-in", "an altered cookie is no session"


def test_static_files_are_served_locally(site: TestClient) -> None:
    css, js = site.get("/review/static/review.css"), site.get("/review/static/review.js")
    assert css.status_code == 200 and ":focus-visible" in css.text, "the stylesheet (with visible focus) is served"
    assert js.status_code == 200 and "data-shortcut" in js.text, "the shortcut script is served"
    page = site.get("/review/sign-in").text
    assert "http://" not in page and "https://" not in page, "the page loads nothing from elsewhere"


def test_highlight_marks_whole_terms_case_insensitively_and_the_stronger_one_wins() -> None:
    text = "Kan ni Lägga\ntill skolan? Synken, synkens logg."
    explanation = [{"term": "lägga till", "label": "delivery", "weight": 0.5}, {"term": "till", "label": "support", "weight": 0.9},
                   {"term": "synken", "label": "support", "weight": 0.3}]
    segments = highlight(text, explanation)
    assert "".join(s.text for s in segments) == text, "highlighting keeps every character of the text"
    marked = [(s.text, s.label) for s in segments if s.label]
    assert marked == [("till", "support"), ("Synken", "support")], f"whole words only; overlaps go to the stronger term: {marked}"
    pair = highlight("Kan ni lägga  till en skola", explanation[:1])
    assert [(s.text, s.label) for s in pair if s.label] == [("lägga  till", "delivery")], "a word pair matches across any whitespace"


def test_sessions_are_signed_expire_and_end_with_their_key() -> None:
    codec = SessionCodec(b"k" * 32, max_age=60)
    session = WebSession()
    ring = parse_keys(KEYS, "test keys")
    session.sign_in("Anna", key_fingerprint(key_digest(REVIEW_KEY)))
    restored = codec.loads(codec.dumps(session))
    assert restored is not None and restored.signed_in_with(ring), "a signed session round-trips and is signed in"
    assert SessionCodec(b"x" * 32).loads(codec.dumps(session)) is None, "a cookie signed with another key is refused"
    session.issued -= 61
    assert codec.loads(codec.dumps(session)) is None, "an expired session is refused"
    assert not restored.signed_in_with(parse_keys(f"{PREDICT_KEY}:predict", "other keys")), "removing the key ends its sessions"
    predict_only = WebSession()
    predict_only.sign_in("Eve", key_fingerprint(key_digest(PREDICT_KEY)))
    assert not predict_only.signed_in_with(ring), "a key without the review role signs no one in"


def test_every_interface_text_exists_in_both_languages_and_is_used() -> None:
    assert set(TEXTS["sv"]) == set(TEXTS["en"]), f"texts missing in one language: {set(TEXTS['sv']) ^ set(TEXTS['en'])}"
    review = Path(review_package.__file__).parent
    sources = "".join(path.read_text(encoding="utf-8") for pattern in ("templates/*.html", "*.py") for path in review.glob(pattern))
    dynamic = {f"language_{code}" for code in ("sv", "en", "mixed", "unknown")}  # looked up by the ticket's language
    unused = [key for key in TEXTS["sv"] if key not in dynamic and f'"{key}"' not in sources and f"'{key}'" not in sources]
    assert not unused, f"texts nothing uses: {unused}"
    assert label_name("delivery", "sv") == "Leveransuppgift" and label_name("delivery", "en") == "Delivery", "display names per language"
    assert label_name("billing", "sv") == "billing", "a label without a display name shows as itself"


def test_skipping_to_the_next_ticket_gives_the_skipped_one_back(site: TestClient, db_url: str) -> None:
    first, second = _enqueue(site, DELIVERY_SV, DELIVERY_EN)
    _sign_in(site)
    queue = site.get("/review").text
    site.post(f"/review/items/{first}/claim", data={"csrf": _csrf(queue)}, follow_redirects=False)
    page = site.get(f"/review/items/{first}").text
    r = site.post("/review/next", data={"csrf": _csrf(page), "after": str(first), "direction": "next"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/review/items/{second}", f"the next ticket opens: {r.headers.get('location')}"
    with ReviewStore(db_url) as store:
        skipped, opened = store.get(first), store.get(second)
    assert skipped.claimed_by is None, "the skipped ticket is no longer held, so another agent can take it at once"
    assert opened.claimed_by == "Anna", "the ticket the agent moved on to is held by them"
