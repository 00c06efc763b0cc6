"""Training data from several sources: the shipped tickets, agents' decided reviews, a helpdesk export.

Sources overlap: a ticket an agent decided may also be in a helpdesk export, and two sources may
give the same text different labels. `combine_sources` keeps one row per text (two rows whose
cleaned text is identical are the same example to the model) and reports every duplicate and
conflict, so the data team can see what the candidate was trained on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from model.data import COLUMNS, ColumnMap, DataError, describe_names, load_tickets

SHIPPED, REVIEWS, HELPDESK = "shipped", "reviews", "helpdesk"
# Which source's label wins when sources disagree about one text: an agent's decision was made
# under the current policy on a real ticket; a helpdesk's own type field is the least trusted.
CONFLICT_PRIORITY = (REVIEWS, SHIPPED, HELPDESK)
SMALL_DATA_TICKETS = 300  # enough for both labels in every language and 5 CV folds, fast for CI
SMALL_DATA_C_GRID = (10.0,)
SAMPLE_SEED = 0
_EXCERPT_CHARS = 160


class ExportSummary(Protocol):
    """What a review export reports (service.review.training's ExportSummary has these attributes)."""

    count: int
    per_label: dict[str, int]
    agreement: float | None


ReviewExport = Callable[[str, Path], ExportSummary]


@dataclass(frozen=True)
class ReviewTickets:
    """Decided reviews loaded as tickets, with a sentence saying what was found."""

    tickets: pd.DataFrame
    message: str


@dataclass(frozen=True)
class CombinedTickets:
    """One row per distinct ticket text, and what combining the sources removed."""

    tickets: pd.DataFrame  # load_tickets columns plus `origin`
    duplicates: pd.DataFrame  # rows dropped as repeats of a kept row with the same label
    conflicts: pd.DataFrame  # one row per text that sources labelled differently
    skipped: int  # rows without a label or usable text

    def per_origin(self) -> pd.DataFrame:
        """Tickets per source and label, with totals."""
        return pd.crosstab(self.tickets["origin"], self.tickets["label"], margins=True, margins_name="total")

    def per_language(self) -> pd.DataFrame:
        """Tickets per language and label, with totals."""
        return pd.crosstab(self.tickets["language"], self.tickets["label"], margins=True, margins_name="total")

    def summary(self) -> str:
        """One sentence: how many tickets, how many from reviews, what was dropped."""
        from_reviews = int((self.tickets["origin"] == REVIEWS).sum())
        return (
            f"{len(self.tickets)} distinct tickets ({from_reviews} from decided reviews); "
            f"{len(self.duplicates)} duplicate rows dropped, {len(self.conflicts)} texts with conflicting labels, "
            f"{self.skipped} rows without a label or usable text skipped."
        )


def empty_tickets() -> pd.DataFrame:
    """A frame with `load_tickets`' columns and no rows."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in (*COLUMNS, "text", "source", "row", "cleaned", "usable")})


def missing_sqlite_file(database_url: str) -> str | None:
    """The path of a SQLite database URL whose file does not exist (yet), else None.

    The service creates its database when it first starts; before that there is nothing to read.
    """
    sqlite_file = database_url.removeprefix("sqlite:///") if database_url.startswith("sqlite:///") else None
    return sqlite_file if sqlite_file is not None and not Path(sqlite_file).expanduser().is_file() else None


def review_tickets(export: ReviewExport, database_url: str | None, out_csv: str | Path) -> ReviewTickets:
    """Export the decided reviews of `database_url` with `export` (service.review.export.export_reviews)
    into `out_csv` and load them; an absent database or no decisions yields no tickets, said so."""
    if not database_url:
        return ReviewTickets(empty_tickets(), "No review database given: training without decided reviews.")
    missing = missing_sqlite_file(database_url)
    if missing is not None:
        return ReviewTickets(
            empty_tickets(), f"No review database at {missing} yet (check the path if the service has run): training without decided reviews."
        )
    summary = export(database_url, Path(out_csv))
    if summary.count == 0:
        return ReviewTickets(empty_tickets(), "The review database has no decided reviews yet: training without them.")
    per_label = ", ".join(f"{label} {n}" for label, n in summary.per_label.items())
    agreed = "" if summary.agreement is None else f"; the model had chosen the agents' label for {summary.agreement:.0%} of them"
    return ReviewTickets(load_tickets([out_csv]), f"{summary.count} decided reviews ({per_label}){agreed}.")


def helpdesk_tickets(path: str | Path | None, export_format: str | None = None, columns: str | None = None) -> pd.DataFrame:
    """A labelled helpdesk export (see `model.data.ColumnMap` for the formats), or no rows without a path."""
    if path is None or str(path) == "":
        return empty_tickets()
    return load_tickets([path], ColumnMap.parse(export_format, columns))


def _dedup_key(cleaned: str) -> str:
    """What the model sees of a text (given cleaned), so tickets differing only in signature or names match."""
    return " ".join(cleaned.casefold().split())


def combine_sources(shipped: pd.DataFrame, reviews: pd.DataFrame | None = None, helpdesk: pd.DataFrame | None = None) -> CombinedTickets:
    """Stack the sources (frames from `load_tickets`), one row per cleaned text.

    Repeats with the same label keep the row of the most trusted source (CONFLICT_PRIORITY).
    Texts with different labels keep the label of the most trusted source that has the text,
    unless that source itself gives it several labels: then the text is dropped.
    Labels must be those of the shipped tickets, so a helpdesk's own types cannot slip in.
    """
    frames = {SHIPPED: shipped, REVIEWS: reviews, HELPDESK: helpdesk}
    stacked = pd.concat(
        [f.assign(origin=name) for name, f in frames.items() if f is not None and len(f)], ignore_index=True
    )
    usable = stacked["usable"].astype(bool) & (stacked["label"] != "")
    rows = stacked.loc[usable].copy()
    known = set(rows.loc[rows["origin"] == SHIPPED, "label"])
    for name in (REVIEWS, HELPDESK):
        foreign = sorted(set(rows.loc[rows["origin"] == name, "label"]) - known)
        if foreign:
            sources = ", ".join(sorted(set(rows.loc[rows["origin"] == name, "source"])))
            message = f"labels the shipped tickets do not have: {describe_names(foreign)}; map them onto {', '.join(sorted(known))} first"
            raise DataError(sources, message, column="label")
    rows["_key"] = [_dedup_key(c) for c in rows["cleaned"]]
    rows["_rank"] = rows["origin"].map({name: i for i, name in enumerate(CONFLICT_PRIORITY)})
    rows = rows.sort_values(["_rank"], kind="stable")

    keep: list[int] = []
    duplicates: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    for _, group in rows.groupby("_key", sort=False):
        best = group[group["_rank"] == group["_rank"].iloc[0]]
        kept = group.index[0] if best["label"].nunique() == 1 else None
        if group["label"].nunique() > 1:
            conflicts.append(_conflict(group, kept))
        elif kept is not None:
            duplicates += [
                {"id": r.id, "origin": r.origin, "label": r.label, "duplicate_of": group.at[kept, "id"]}
                for r in group.drop(index=kept).itertuples()
            ]
        if kept is not None:
            keep.append(kept)
    tickets = rows.loc[sorted(keep)].drop(columns=["_key", "_rank"]).reset_index(drop=True)
    return CombinedTickets(
        tickets=tickets,
        duplicates=pd.DataFrame(duplicates, columns=["id", "origin", "label", "duplicate_of"]),
        conflicts=pd.DataFrame(conflicts, columns=["text", "labels", "kept_id", "resolution"]),
        skipped=int((~usable).sum()),
    )


def _conflict(group: pd.DataFrame, kept: int | None) -> dict[str, Any]:
    """One text labelled differently by the rows of `group`, and what was done about it."""
    labels = "; ".join(f"{r.label} ({r.origin} {r.id})" for r in group.itertuples())
    if kept is None:
        resolution = f"dropped: {group['origin'].iloc[0]} gives it more than one label"
    else:
        resolution = f"kept {group.at[kept, 'label']} from {group.at[kept, 'origin']}"
    text = " ".join(str(group["text"].iloc[0]).split())
    return {"text": text[:_EXCERPT_CHARS], "labels": labels, "kept_id": "" if kept is None else group.at[kept, "id"], "resolution": resolution}


def training_set(tickets: pd.DataFrame, small_data: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The tickets to train on and the extra options for `model.train.train`.

    With `small_data` (CI), a sample of about SMALL_DATA_TICKETS stratified by label and
    language, and a single regularisation strength, so training takes seconds.
    """
    if not small_data or len(tickets) <= SMALL_DATA_TICKETS:
        return tickets, ({"c_grid": SMALL_DATA_C_GRID} if small_data else {})
    share = SMALL_DATA_TICKETS / len(tickets)
    sample = tickets.groupby(["label", "language"], group_keys=False).sample(frac=share, random_state=SAMPLE_SEED)
    return sample.sort_index().reset_index(drop=True), {"c_grid": SMALL_DATA_C_GRID}


def write_training_file(tickets: pd.DataFrame, folder: str | Path) -> Path:
    """Write the tickets a model is trained on to a new, timestamped CSV in `folder` that
    `load_tickets` reads back (a `text` column), so the model's metadata can name and hash exactly
    that data; earlier runs' files stay, as their models' metadata point at them."""
    out_folder = Path(folder).resolve()
    out_folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
    out = out_folder / f"training-tickets-{stamp}.csv"
    columns = ["id", "text", "language", "label", "difficulty", "scenario", "note", "origin"]
    tickets.loc[:, [c for c in columns if c in tickets.columns]].to_csv(out, index=False)
    return out


def loaded_counts(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows per label of each source as loaded, before combining (zeros for an empty source)."""
    counts = {name: f["label"].value_counts() for name, f in frames.items()}
    if not any(len(c) for c in counts.values()):
        return pd.DataFrame(index=list(frames))
    return pd.DataFrame(counts).fillna(0).astype(int).T
