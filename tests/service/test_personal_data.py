"""Personal data in a ticket reaches no place it should not: the review queue's database, the review
API, the export (API and `triage export-reviews`) and the prediction's explanation hold it redacted.
"""

from __future__ import annotations

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
