"""Combining training sources: duplicates, conflicts, review exports, small-data sampling."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from model.data import DataError, load_tickets
from model.sources import (
    HELPDESK,
    REVIEWS,
    SHIPPED,
    SMALL_DATA_C_GRID,
    SMALL_DATA_TICKETS,
    combine_sources,
    helpdesk_tickets,
    loaded_counts,
    review_tickets,
    training_set,
    write_training_file,
)

NEW_SCHOOL = "Hej! Vi startar en ny skola i augusti och vill att den läggs till i synken."
BROKEN_LOGIN = "Hi, since this morning no teacher can log in through SSO, error AADSTS50011."
CLASSROOM = "Hej, eleverna i 7B syns inte i Classroom sedan i går, fast de finns i Schoolsoft."


def _tickets(folder: Path, name: str, rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Load (id, text, label) rows through load_tickets, as the notebook does with real files."""
    path = folder / f"{name}.csv"
    pd.DataFrame(rows, columns=["id", "text", "label"]).to_csv(path, index=False)
    return load_tickets([path])


def test_same_text_same_label_is_one_ticket_from_the_most_trusted_source(tmp_path: Path) -> None:
    shipped = _tickets(tmp_path, "shipped", [("TT-1", NEW_SCHOOL, "delivery"), ("TT-2", BROKEN_LOGIN, "support")])
    reviews = _tickets(tmp_path, "reviews", [("R-1", NEW_SCHOOL, "delivery")])
    combined = combine_sources(shipped, reviews)
    assert len(combined.tickets) == 2, f"two distinct texts should give two tickets, got {len(combined.tickets)}"
    kept = combined.tickets.set_index("id")
    assert "R-1" in kept.index and "TT-1" not in kept.index, "the repeated text should be kept from the reviews, the most trusted source"
    assert combined.duplicates.to_dict("records") == [{"id": "TT-1", "origin": SHIPPED, "label": "delivery", "duplicate_of": "R-1"}], (
        f"the dropped shipped row should be reported as a duplicate of R-1, got {combined.duplicates.to_dict('records')}"
    )
    assert combined.conflicts.empty, "texts with one label are no conflict"


def test_texts_that_differ_only_in_signature_and_email_are_duplicates(tmp_path: Path) -> None:
    shipped = _tickets(tmp_path, "shipped", [("TT-1", NEW_SCHOOL + "\n\nMvh\nAnna Berg\nanna.berg@example.se", "delivery"), ("TT-2", BROKEN_LOGIN, "support")])
    helpdesk = _tickets(tmp_path, "helpdesk", [("FD-1", NEW_SCHOOL + "\n\nVänliga hälsningar\nPer Ek\nper.ek@example.com", "delivery")])
    combined = combine_sources(shipped, helpdesk=helpdesk)
    assert list(combined.duplicates["id"]) == ["FD-1"], f"the helpdesk copy should be a duplicate of the shipped ticket, got {combined.duplicates}"


def test_conflict_keeps_the_reviewers_label_and_is_reported(tmp_path: Path) -> None:
    shipped = _tickets(tmp_path, "shipped", [("TT-1", CLASSROOM, "delivery"), ("TT-2", BROKEN_LOGIN, "support"), ("TT-3", NEW_SCHOOL, "delivery")])
    reviews = _tickets(tmp_path, "reviews", [("R-1", CLASSROOM, "support")])
    combined = combine_sources(shipped, reviews)
    row = combined.tickets.set_index("id").loc["R-1"]
    assert row["label"] == "support" and "TT-1" not in set(combined.tickets["id"]), "the agent's label should replace the shipped one"
    [conflict] = combined.conflicts.to_dict("records")
    assert conflict["kept_id"] == "R-1" and conflict["resolution"] == f"kept support from {REVIEWS}", f"conflict should say what was kept, got {conflict}"
    assert "TT-1" in conflict["labels"] and "R-1" in conflict["labels"], f"conflict should name both rows, got {conflict['labels']}"


def test_conflict_inside_the_most_trusted_source_drops_the_text(tmp_path: Path) -> None:
    shipped = _tickets(tmp_path, "shipped", [("TT-1", CLASSROOM, "support"), ("TT-2", CLASSROOM, "delivery"), ("TT-3", BROKEN_LOGIN, "support"),
                                             ("TT-4", NEW_SCHOOL, "delivery")])
    combined = combine_sources(shipped)
    assert not {"TT-1", "TT-2"} & set(combined.tickets["id"]), "a text its own source labels both ways should not be trained on"
    assert combined.conflicts["resolution"].str.startswith("dropped").all() and len(combined.conflicts) == 1, (
        f"the dropped text should be reported once, got {combined.conflicts.to_dict('records')}"
    )


def test_labels_unknown_to_the_shipped_tickets_are_refused(tmp_path: Path) -> None:
    shipped = _tickets(tmp_path, "shipped", [("TT-1", CLASSROOM, "support"), ("TT-2", NEW_SCHOOL, "delivery")])
    helpdesk = _tickets(tmp_path, "helpdesk", [("FD-1", BROKEN_LOGIN, "Incident")])
    with pytest.raises(DataError, match="Incident") as caught:
        combine_sources(shipped, helpdesk=helpdesk)
    assert "map them onto delivery, support" in str(caught.value), f"the error should say which labels to map onto, got: {caught.value}"


def test_rows_without_label_or_text_are_counted_and_left_out(tmp_path: Path) -> None:
    rows = [("TT-1", CLASSROOM, "support"), ("TT-2", NEW_SCHOOL, "delivery"), ("TT-3", BROKEN_LOGIN, ""), ("TT-4", "   ", "support")]
    combined = combine_sources(_tickets(tmp_path, "shipped", rows))
    kept = set(combined.tickets["id"])
    assert combined.skipped == 2 and kept == {"TT-1", "TT-2"}, f"TT-3 (no label) and TT-4 (no text) should be skipped, kept {kept}"


def test_counts_per_origin_and_summary(tmp_path: Path) -> None:
    shipped = _tickets(tmp_path, "shipped", [("TT-1", CLASSROOM, "support"), ("TT-2", NEW_SCHOOL, "delivery")])
    reviews = _tickets(tmp_path, "reviews", [("R-1", BROKEN_LOGIN, "support")])
    combined = combine_sources(shipped, reviews, helpdesk_tickets(None))
    counts = combined.per_origin()
    assert counts.at[REVIEWS, "support"] == 1 and counts.at["total", "total"] == 3, f"per-origin counts are wrong:\n{counts}"
    assert combined.summary().startswith("3 distinct tickets (1 from decided reviews)"), f"summary should count review tickets: {combined.summary()}"
    assert set(combined.per_language().index) >= {"total"}, "per-language table should have a total row"
    loaded = loaded_counts({SHIPPED: shipped, REVIEWS: reviews, HELPDESK: helpdesk_tickets(None)})
    assert loaded.loc[HELPDESK].sum() == 0 and loaded.loc[SHIPPED].sum() == 2, f"loaded counts should show an empty helpdesk source:\n{loaded}"


@dataclass
class FakeSummary:
    count: int
    per_label: dict[str, int] = field(default_factory=dict)
    agreement: float | None = None


def test_review_tickets_without_database_or_decisions(tmp_path: Path) -> None:
    def must_not_run(url: str, out: Path) -> FakeSummary:
        raise AssertionError("export should not be called")

    none = review_tickets(must_not_run, None, tmp_path / "r.csv")
    assert none.tickets.empty and "No review database given" in none.message, f"no URL should mean no reviews, said: {none.message}"
    missing = review_tickets(must_not_run, f"sqlite:///{tmp_path / 'absent.db'}", tmp_path / "r.csv")
    assert missing.tickets.empty and "absent.db" in missing.message, f"a missing SQLite file should be named, said: {missing.message}"
    empty = review_tickets(lambda url, out: FakeSummary(0), "postgresql+psycopg://db/x", tmp_path / "r.csv")
    assert empty.tickets.empty and "no decided reviews" in empty.message, f"no decisions should be said, said: {empty.message}"


def test_review_tickets_from_the_real_review_store(tmp_path: Path) -> None:
    from service.review.export import export_reviews
    from service.review.items import NewReviewItem
    from service.review.store import ReviewStore

    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    with ReviewStore(url) as store:
        store.migrate()
        for n, (text, label) in enumerate([(CLASSROOM, "support"), (NEW_SCHOOL, "delivery"), (BROKEN_LOGIN, None)]):
            item = store.enqueue(NewReviewItem(subject="", body=text, model_label="support", confidence=0.6,
                                               probabilities={"support": 0.6, "delivery": 0.4}, model_version="v1", ticket_id=f"R-{n}"))
            if label:
                store.decide(item.id, label, reviewer="agent")
    loaded = review_tickets(export_reviews, url, tmp_path / "out" / "reviews.csv")
    assert sorted(loaded.tickets["id"]) == ["R-0", "R-1"], f"the two decided reviews should load, got {list(loaded.tickets['id'])}"
    assert loaded.message.startswith("2 decided reviews") and "50%" in loaded.message, f"message should count and give agreement: {loaded.message}"


def test_training_set_small_data_is_a_stratified_sample(tickets_frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "all.csv"
    tickets_frame.to_csv(path, index=False)
    tickets = load_tickets([path])
    full, options = training_set(tickets, small_data=False)
    assert len(full) == len(tickets) and options == {}, "without small_data every ticket trains with the default options"
    small, options = training_set(tickets, small_data=True)
    assert abs(len(small) - SMALL_DATA_TICKETS) <= 6, f"small data should be about {SMALL_DATA_TICKETS} tickets, got {len(small)}"
    assert options == {"c_grid": SMALL_DATA_C_GRID}, f"small data should train one C, got {options}"
    assert set(small.groupby(["label", "language"]).size().index) == set(tickets.groupby(["label", "language"]).size().index), (
        "every label and language should be in the sample"
    )
    shares = small["label"].value_counts(normalize=True) - tickets["label"].value_counts(normalize=True)
    assert shares.abs().max() < 0.02, f"label shares of the sample should match the data's, differences {shares.to_dict()}"


def test_training_file_reads_back(tmp_path: Path) -> None:
    combined = combine_sources(_tickets(tmp_path, "shipped", [("TT-1", CLASSROOM, "support"), ("TT-2", NEW_SCHOOL + "\nrad två, med komma", "delivery")]))
    path = write_training_file(combined.tickets, tmp_path / "out")
    again = load_tickets([path])
    assert path.parent == (tmp_path / "out").resolve() and path.name.startswith("training-tickets-"), f"unexpected training file path {path}"
    assert again[["id", "text", "label"]].equals(combined.tickets[["id", "text", "label"]]), "the training file should read back to the same tickets"
    assert write_training_file(combined.tickets, tmp_path / "out") != path, "a second run should not overwrite the first run's training file"


def test_helpdesk_export_in_freshdesk_format(tmp_path: Path) -> None:
    path = tmp_path / "fd.csv"
    pd.DataFrame({"Ticket ID": ["7"], "Subject": ["Ny skola"], "Description": [NEW_SCHOOL], "Type": ["delivery"]}).to_csv(path, index=False)
    loaded = helpdesk_tickets(path, "freshdesk")
    assert loaded.loc[0, ["id", "label"]].tolist() == ["7", "delivery"], f"Freshdesk columns should map onto id and label, got {loaded.loc[0].to_dict()}"
    assert helpdesk_tickets(None).empty, "no export path should give no tickets"
