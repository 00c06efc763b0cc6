"""An agent's whole round in a real browser against the real server process.

`triage serve` runs in its own process (a small model, a SQLite queue, an API key file, every
ticket routed to review); Chromium, driven by Playwright, signs in with the keyboard, opens a
ticket, decides it with a shortcut, and the decision shows up in the export. Set
UPDATE_SCREENSHOTS=1 to write the ticket page's screenshot to docs/review-page.png.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server_process import free_port, start_serve, stop

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "review-page.png"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]
PREDICT_KEY = "browser-predict-key-0123456789"
REVIEW_KEY = "browser-review-key-0123456789"
START_SECONDS = 60
BORDERLINE = {  # the customer renewed its own certificate: a change in its environment, so a delivery task by the policy
    "id": "INC-2041",
    "subject": "Inloggning via Skolfederation slutade fungera",
    "body": "Hej!\n\nEfter att vi förnyade vårt eget certifikat på ADFS i går kan ingen lärare logga in i Skolon via Skolfederation. "
            "Felet som visas är \"Invalid signature\".\n\nVad behöver vi göra för att det ska fungera igen?\n\n"
            "Med vänliga hälsningar\nMaria Andersson\nIT-tekniker, Barn- och utbildningsförvaltningen\nExempelby kommun\n"
            "maria.andersson@example.se\n070-123 45 67",
}
OTHERS = [
    {"id": "INC-2042", "subject": "Inloggning funkar inte",
     "body": "Hej, eleverna på Norrskolan kan inte logga in med SSO sedan i morse, de får ett felmeddelande. Mvh Per"},
    {"id": "INC-2043", "subject": "Teachers missing in Classroom",
     "body": "Hi, since yesterday's sync two teachers are missing from their Google Classroom courses. Could you look into it?"},
]


@pytest.fixture
def server(tmp_path: Path, small_model_dir: Path) -> Iterator[str]:
    """A running `triage serve` on a free loopback port: API keys, a SQLite queue, every ticket routed to review."""
    port = free_port()
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{PREDICT_KEY}:predict\n{REVIEW_KEY}:review\n")
    keys.chmod(0o600)  # a key file others could read is refused
    env = {"TRIAGE_WATCH_INTERVAL": "0", "TRIAGE_THRESHOLDS": '{"delivery": 1.0, "support": 1.0}'}
    args = ["--model", str(small_model_dir), "--api-keys-file", str(keys), "--database", f"sqlite:///{tmp_path / 'var' / 'reviews.db'}"]
    process = start_serve(args, tmp_path, env, port, START_SECONDS)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture
def browser_page(server: str) -> Iterator[tuple[sync_api.Page, list[str]]]:
    """A Chromium page at laptop size, and the JavaScript errors it raises."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="sv-SE")
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, errors
        browser.close()


def test_an_agent_signs_in_decides_with_the_keyboard_and_the_decision_is_exported(
        server: str, browser_page: tuple[sync_api.Page, list[str]], tmp_path: Path) -> None:
    expect, (page, errors) = sync_api.expect, browser_page
    for ticket in (BORDERLINE, *OTHERS):
        r = httpx.post(f"{server}/v1/predict", json=ticket, headers={"X-API-Key": PREDICT_KEY})
        assert r.status_code == 200 and r.json()["review_queued"], f"each ticket should be queued for review: {r.text}"

    page.goto(f"{server}/review")
    expect(page.get_by_role("heading", name="Logga in för att granska ärenden")).to_be_visible()
    expect(page.get_by_label("Granskarnyckel")).to_be_focused()  # keyboard only from here: type, Tab, type, Enter
    page.keyboard.type(REVIEW_KEY)
    page.keyboard.press("Tab")
    page.keyboard.type("Anna Lindqvist")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Granskningskö")).to_be_visible()
    expect(page.get_by_text("3 ärenden väntar på beslut.")).to_be_visible()

    page.get_by_role("button", name="Öppna ärende INC-2041").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Inloggning via Skolfederation slutade fungera")
    assert page.locator(".ticket-text mark").count() > 0, "the words behind the model's guess are highlighted"
    expect(page.locator(".ticket-text")).not_to_contain_text("maria.andersson@example.se")  # redacted by the store
    expect(page.get_by_text("Du håller ärendet")).to_be_visible()
    page.screenshot(path=str(SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "review-page.png"), full_page=True)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).not_to_have_attribute("open", "")

    page.keyboard.press("l")  # l = leveransuppgift (delivery)
    expect(page.get_by_role("status")).to_contain_text("Sparat: ärende INC-2041 är Leveransuppgift.")
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("Skolfederation")  # the next ticket opened
    page.get_by_role("link", name="Tillbaka till kön").click()
    expect(page.get_by_text("2 ärenden väntar på beslut.")).to_be_visible()
    expect(page.get_by_role("button", name="Öppna ärende INC-2041")).to_have_count(0)

    page.get_by_role("button", name="In English").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en", "the page's lang attribute follows the switch"
    assert errors == [], f"the page ran without JavaScript errors: {errors}"

    export = httpx.get(f"{server}/v1/review/export", headers={"X-API-Key": REVIEW_KEY})
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(export.text))}
    assert export.status_code == 200 and set(rows) == {"INC-2041"}, f"the export holds the one decision: {export.text[:300]}"
    assert rows["INC-2041"]["label"] == "delivery" and export.headers["x-review-count"] == "1", f"decided as delivery: {rows}"
