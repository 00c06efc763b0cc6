"""Personal data in a ticket reaches no place it should not: the review queue's database, the review
API, the export (API and `triage export-reviews`) and the prediction's explanation hold it redacted.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import sqlalchemy as sa

from cli.main import main as triage
from tests.service.conftest import KEYS, PREDICT_KEY, REVIEW_ALL, REVIEW_KEY, ClientFactory

# One of each kind, in forms that are easy to miss: a no-break-space phone, a samordningsnummer, an address with '_'.
PIECES = {"e-mail": "kerstin_lund@ekbacken.example.se", "phone": "+46\u00a070\u00a0987\u00a065\u00a043", "phone, national": "08-555 123 45",
          "personnummer": "19811218-9876", "samordningsnummer": "701063-2391"}
TICKET = {"id": "PD-1", "subject": f"Konto för {PIECES['samordningsnummer']}",
          "body": "Hej! Eleven med personnummer {personnummer} syns inte i synken. Ring mig på {phone} eller {phone, national}, "
                  "eller mejla {e-mail}. Mvh Kerstin".format(**PIECES)}
NOTE = f"Ringde {PIECES['phone, national']}, svar till {PIECES['e-mail']}"


def _assert_no_personal_data(text: str, where: str) -> None:
    for kind, piece in PIECES.items():
        assert piece not in text, f"the {kind} {piece!r} should not be in {where}"
    for part in ("kerstin_lund", "kerstin lund", "555 123", "1218-9876", "1063-2391"):
        assert part not in text, f"no part of the personal data ({part!r}) should be in {where}"


def test_stored_served_and_exported_review_text_is_redacted(make_client: ClientFactory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    client = make_client(database_url=url, api_keys=KEYS, **REVIEW_ALL)
    prediction = client.post("/v1/predict", json=TICKET, headers={"X-API-Key": PREDICT_KEY}).json()
    assert prediction["review_queued"] is True, f"the ticket goes to the review queue: {prediction}"
    _assert_no_personal_data(str(prediction["explanation"]), "the prediction's explanation")
    item_id = prediction["review_item_id"]
    review = {"X-API-Key": REVIEW_KEY}
    decided = client.post(f"/v1/review/items/{item_id}/decision", json={"label": "support", "reviewer": "Anna", "note": NOTE}, headers=review)
    assert decided.status_code == 200, decided.text
    _assert_no_personal_data(client.get(f"/v1/review/items/{item_id}", headers=review).text, "the review API's item")
    _assert_no_personal_data(client.get("/v1/review/export", headers=review).text, "the API's export")

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM review_items")).all()
    engine.dispose()
    assert rows, "the item is stored"
    _assert_no_personal_data(repr(rows), "the review database")

    out = tmp_path / "export.csv"
    assert triage(["export-reviews", "--database", url, "--out", str(out)]) == 0, "triage export-reviews writes the decided items"
    exported = out.read_text(encoding="utf-8")
    assert "[PERSONNUMMER]" in exported and "[PHONE]" in exported and "[EMAIL]" in exported, f"placeholders stand where the data was: {exported}"
    _assert_no_personal_data(exported, "triage export-reviews' file")


# Every disguise an attack slipped past the store (issue 16), in one ticket and one note.
DISGUISED = {
    "zero-width in a personnummer": ("8112\u200b18-9876", "1218-9876"),
    "soft hyphen in a phone number": ("070-12\u00ad3 45 67", "45 67"),
    "word joiner in an address": ("lars\u2060.berg@ekbacken.example.se", "lars"),
    "fullwidth digits": ("\uff10\uff17\uff10-\uff19\uff18\uff17 \uff16\uff15 \uff14\uff13", "987 65"),
    "Arabic-Indic digits": ("\u0660\u0667\u0660-\u0665\u0665\u0665 \u0661\u0662 \u0663\u0664", "555 12"),
    "minus sign": ("19811218\u22129876", "1218-9876"),
    "em dash": ("811218\u20149876", "1218-9876"),
    "CRLF inside": ("811218-\r\n9876", "9876"),
    "entity spaces": ("070-321&nbsp;45&nbsp;67", "321"),
    "entity at sign": ("karin&#64;ekbacken.example.se", "karin"),
    "tags around": ("<b>811218</b>-9876", "1218"),
    "mailto with %40": ("mailto:olle%40ekbacken.example.se", "olle"),
    "underscores": ("_811218-9876_", "1218"),
    "glued prefix": ("pnr_811218-9876", "1218"),
    "second in a chain": ("811218-9876-701063-2391", "1063-2391"),
    "fullwidth at": ("stina\uff20ekbacken.example.se", "stina"),
    "small at": ("britt\ufe6bekbacken.example.se", "britt"),
    "apostrophe in the name": ("anna.o'hara@ekbacken.example.se", "o'hara"),
}
DISGUISED_TICKET = {"id": "PD-2", "subject": "Konton", "body": "Hej! " + " och ".join(text for text, _ in DISGUISED.values()) + ". Mvh"}
DISGUISED_NOTE = "Ringde " + ", ".join(text for text, _ in list(DISGUISED.values())[:9])


def test_disguised_personal_data_is_redacted_in_the_database_the_page_and_both_exports(make_client: ClientFactory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    client = make_client(database_url=url, api_keys=KEYS, **REVIEW_ALL)
    prediction = client.post("/v1/predict", json=DISGUISED_TICKET, headers={"X-API-Key": PREDICT_KEY}).json()
    item_id = prediction["review_item_id"]
    review = {"X-API-Key": REVIEW_KEY}
    decided = client.post(f"/v1/review/items/{item_id}/decision", json={"label": "support", "reviewer": "Anna", "note": DISGUISED_NOTE}, headers=review)
    assert decided.status_code == 200, decided.text

    def check(text: str, where: str) -> None:
        for kind, (_, survivor) in DISGUISED.items():
            assert survivor not in text, f"{kind}: {survivor!r} should not be in {where}"

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT subject, body, note FROM review_items")).all()
    engine.dispose()
    check(repr([tuple(row) for row in rows]), "the review database")
    check(client.get(f"/v1/review/items/{item_id}", headers=review).text, "the review API's item")
    check(client.get("/v1/review/export", headers=review).text, "the API's export")
    page = client.get("/review/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, "the sign-in form carries a CSRF token"
    signed_in = client.post("/review/sign-in", data={"csrf": csrf.group(1), "name": "Anna", "key": REVIEW_KEY}, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    item_page = client.get(f"/review/items/{item_id}")
    assert item_page.status_code == 200
    check(html.unescape(item_page.text), "the review page")
    out = tmp_path / "export.csv"
    assert triage(["export-reviews", "--database", url, "--out", str(out)]) == 0
    exported = out.read_text(encoding="utf-8")
    check(exported, "triage export-reviews' file")
    assert exported.count("[PERSONNUMMER]") >= 8 and exported.count("[EMAIL]") >= 7, f"placeholders stand where the data was: {exported}"
