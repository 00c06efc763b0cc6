"""The shipped data: schema, mix, hard cases, scenario tags, near-duplicates, personal data, leakage into the eval sets."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from model.redact import luhn_valid
from tests.conftest import EDGE_CASES, INDEPENDENT, TICKETS

COLUMNS = {
    "tickets": ["id", "subject", "body", "language", "label", "difficulty", "scenario", "note"],
    "independent": ["id", "subject", "body", "language", "label", "difficulty", "note"],
    "edge-cases": ["id", "subject", "body", "language", "label", "difficulty", "scenario", "note"],
}
FILES = {"tickets": TICKETS, "independent": INDEPENDENT, "edge-cases": EDGE_CASES}
SCENARIO_TAG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
LANGUAGE_SHARE = {"sv": (0.45, 0.55), "en": (0.30, 0.40), "mixed": (0.10, 0.20)}
# Any 6 or 8 digits, optional separator, 4 digits: the shape of a personnummer, valid date or not.
PERSONNUMMER_SHAPE = re.compile(r"(?<!\d)(?:\d{2})?(\d{6})[-+ ]?(\d{4})(?!\d)")


def load(path) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module", params=list(FILES))
def frame(request: pytest.FixtureRequest) -> pd.DataFrame:
    data = load(FILES[request.param])
    data.attrs["name"] = request.param
    return data


MARKUP = re.compile(r"<[^>]{1,200}>|&[a-z]+;")


def texts(frame: pd.DataFrame) -> list[str]:
    """Subject and body, without HTML markup: tags would make unrelated HTML mails look alike."""
    return [MARKUP.sub(" ", f"{s} {b}") for s, b in zip(frame["subject"], frame["body"])]


def test_schema_and_values(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS[frame.attrs["name"]]
    assert frame["id"].is_unique
    assert set(frame["language"]) == {"sv", "en", "mixed"}
    assert set(frame["label"]) == {"support", "delivery"}
    assert set(frame["difficulty"]) <= {"normal", "hard"}
    assert (frame["body"].str.strip() != "").all(), "every ticket has a body"


def test_enough_tickets() -> None:
    assert len(load(TICKETS)) >= 2500, "the training data holds at least 2,500 tickets"
    assert len(load(EDGE_CASES)) >= 240, "the edge-case evaluation set holds at least 240 tickets"


def test_every_training_ticket_has_a_scenario_tag_of_one_label() -> None:
    tickets = load(TICKETS)
    bad = tickets.loc[~tickets["scenario"].str.match(SCENARIO_TAG), "id"].tolist()
    assert not bad, f"every training ticket needs a lowercase-hyphenated scenario tag: {bad[:10]}"
    labels_per_tag = tickets.groupby("scenario")["label"].nunique()
    mixed = labels_per_tag[labels_per_tag > 1].index.tolist()
    assert not mixed, f"a scenario is a situation family of one label (its contrast gets its own tag): {mixed}"
    assert tickets["scenario"].nunique() >= 40, "situations are varied enough to hold whole ones out of cross-validation"


def test_training_data_teaches_the_edge_cases() -> None:
    tickets = load(TICKETS)
    hard = tickets[tickets["difficulty"] == "hard"]
    assert len(hard) >= 900, "at least 900 hard training tickets (the policy's edge cases)"
    for tag in ("new-unit-not-in-scope", "target-never-connected", "agreed-behaviour-called-bug", "restore-delivered",
                "customer-cert-renewal", "vendor-cert-expired", "two-requests-breakage-main", "two-requests-wish-main"):
        assert (tickets["scenario"] == tag).sum() >= 10, f"at least 10 training tickets of the edge-case family {tag}"


def test_edge_case_set_is_mostly_hard() -> None:
    edge = load(EDGE_CASES)
    assert (edge["difficulty"] == "hard").mean() >= 0.5, "at least half of the edge-case set is hard"
    rules = {"customer-side-change", "vendor-or-platform-breakage", "change-is-defect", "outside-scope", "agreed-behaviour",
             "restore-delivered", "two-requests", "question-about-change"}
    assert rules <= set(edge.loc[edge["difficulty"] == "hard", "scenario"]), "every edge-case rule of the policy is represented"


def test_language_mix(frame: pd.DataFrame) -> None:
    share = frame["language"].value_counts(normalize=True)
    for lang, (low, high) in LANGUAGE_SHARE.items():
        assert low <= share[lang] <= high, f"{lang} should be {low:.0%}-{high:.0%} of tickets, is {share[lang]:.1%}"


def test_labels_balanced_within_every_language(frame: pd.DataFrame) -> None:
    for lang, group in frame.groupby("language"):
        share = (group["label"] == "support").mean()
        assert 0.40 <= share <= 0.60, f"support should be 40-60% of {lang} tickets, is {share:.1%}"


def test_hard_cases_are_flagged_and_explained(frame: pd.DataFrame) -> None:
    hard = frame[frame["difficulty"] == "hard"]
    assert len(hard) >= 0.15 * len(frame), f"at least 15% hard cases, found {len(hard) / len(frame):.1%}"
    assert (hard["note"].str.len() > 10).all(), "every hard case says why the policy gives its label"


def test_lengths_vary_from_one_liners_to_long_tickets(frame: pd.DataFrame) -> None:
    words = pd.Series([len(t.split()) for t in texts(frame)])
    assert words.min() >= 3 and words.max() <= 200, "3 to 200 words"
    if frame.attrs["name"] != "edge-cases":  # an edge case needs its clue: few fit in ten words
        assert (words <= 10).sum() >= 0.03 * len(frame), "some one-liners"
    assert (words >= 80).sum() >= 0.05 * len(frame), "some long tickets"


def test_structure_varies(frame: pd.DataFrame) -> None:
    body = frame["body"]
    for name, pattern, share in [
        ("signatures", r"(?im)^\s*(?:mvh|med vänliga hälsningar|vänliga hälsningar|best regards|kind regards|regards)", 0.10),
        ("quoted replies", r"(?im)^\s*(?:från:|from:|>|on .* wrote:|den .* skrev)", 0.03),
        ("HTML fragments", r"<(?:p|br|div|b)\b|&nbsp;", 0.01),
    ]:
        found = body.str.contains(pattern, regex=True).mean()
        assert found >= share, f"at least {share:.0%} of tickets should have {name}, found {found:.1%}"


def test_no_near_duplicates(frame: pd.DataFrame) -> None:
    x = TfidfVectorizer().fit_transform(texts(frame))
    sim = (x @ x.T).toarray()
    np.fill_diagonal(sim, 0)
    share = (sim.max(axis=1) > 0.8).mean()
    assert share <= 0.01, f"at most 1% of tickets may have a near-duplicate (cosine > 0.8), found {share:.1%}"


@pytest.mark.parametrize("evaluation", [INDEPENDENT, EDGE_CASES], ids=["independent", "edge-cases"])
def test_eval_set_does_not_leak_into_training(evaluation) -> None:  # type: ignore[no-untyped-def]
    vec = TfidfVectorizer().fit(texts(load(TICKETS)) + texts(load(evaluation)))
    sim = vec.transform(texts(load(evaluation))) @ vec.transform(texts(load(TICKETS))).T
    leaked = (sim.max(axis=1).toarray().ravel() > 0.8).sum()
    assert leaked == 0, f"{leaked} tickets of {evaluation.name} nearly duplicate a training ticket"


def test_no_personnummer_passes_luhn(frame: pd.DataFrame) -> None:
    bad = [m.group(0) for t in texts(frame) for m in PERSONNUMMER_SHAPE.finditer(t) if luhn_valid(m.group(1) + m.group(2))]
    assert not bad, f"personnummer-shaped strings that pass the Luhn check (must be fake): {bad}"


def test_only_example_e_mail_domains(frame: pd.DataFrame) -> None:
    domains = {d.lower() for t in texts(frame) for d in re.findall(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", t)}
    # Google service-account addresses name a system, not a person.
    real = {d for d in domains if not re.search(r"(^|\.)example\.(se|com|org)$|\.iam\.gserviceaccount\.com$", d)}
    assert not real, f"e-mail addresses must use example domains, found: {sorted(real)}"
