"""The fast path must give the saved pipeline's probabilities to within 1e-9."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import fastpath
from model.fastpath import FastScorer
from model.predictor import TriageModel
from model.registry import load_pipeline
from model.text import MAX_WORD_CHARS, clean_text
from tests.conftest import shipped_texts

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def small(small_model_dir: Path) -> tuple:  # type: ignore[type-arg]
    pipeline, _ = load_pipeline(small_model_dir)
    return pipeline, FastScorer(pipeline)


@pytest.mark.slow
def test_every_shipped_ticket_matches_the_pipeline(full_model_dir: Path) -> None:
    pipeline, _ = load_pipeline(full_model_dir)
    texts = shipped_texts()
    diff = np.abs(FastScorer(pipeline).predict_proba(texts) - pipeline.predict_proba(texts)).max()
    assert diff <= TOLERANCE, f"fast path differs from the pipeline by {diff:g} on shipped tickets"


def test_shipped_tickets_match_on_the_small_model(small: tuple) -> None:  # type: ignore[type-arg]
    pipeline, fast = small
    texts = shipped_texts()[:400]
    assert np.abs(fast.predict_proba(texts) - pipeline.predict_proba(texts)).max() <= TOLERANCE


PIECE = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.text(st.sampled_from(list("åäöÅÄÖ <>&;@-+#*_`|\n\t0123456789abc")), max_size=20),
    st.sampled_from(["synken ", "SSO ", "ny skola ", "<p>", "&nbsp;", "Mvh\n", "> ", "```", "070-123 45 67 ", "Från: a\nSkickat: b\n"]),
)
TEXT = st.lists(PIECE, max_size=15).map("".join)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=16))  # one at a time, and whole batches
def test_fuzzed_text_matches_the_pipeline(small: tuple, texts: list[str]) -> None:  # type: ignore[type-arg]
    pipeline, fast = small
    diff = np.abs(fast.predict_proba(texts) - pipeline.predict_proba(texts)).max()
    assert diff <= TOLERANCE, f"fast path differs by {diff:g} on {texts!r}"


def test_single_and_batch_agree(small: tuple) -> None:  # type: ignore[type-arg]
    _, fast = small
    texts = shipped_texts()[:50] + ["", "   "]
    one_by_one = np.vstack([fast.predict_proba([t]) for t in texts])
    assert np.abs(one_by_one - fast.predict_proba(texts)).max() <= 1e-12


def test_scores_equal_the_feature_values_times_the_coefficients(small: tuple) -> None:  # type: ignore[type-arg]
    # Explanations read `feature_values`; probabilities come from `proba_cleaned`: both compiled
    # loops must describe the same features.
    pipeline, fast = small
    cleaned = pipeline.named_steps["clean"].transform(shipped_texts()[:200] + ["", "a", "Ö-Ö"])
    coef = np.vstack([fast.word_weights[:, 1:], fast.char_weights[:, 1:]])
    from_values = []
    for text in cleaned:
        ids, values = fast.feature_values(text)
        from_values.append(values @ coef[ids])
    assert np.abs(np.vstack(from_values) - fast.table.scores(cleaned)).max() <= 1e-12


def test_a_full_word_table_starts_afresh_and_scores_alike(small: tuple, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    pipeline, _ = small
    monkeypatch.setattr(fastpath, "_WORD_CACHE_SIZE", 400)  # a few batches' worth of distinct words
    fast = FastScorer(pipeline)
    texts = shipped_texts()[:120]
    batches = [texts[i : i + 4] for i in range(0, len(texts), 4)]
    largest_batch = max(len({w for t in b for w in clean_text(t).lower().split()}) for b in batches)
    expected = pipeline.predict_proba(texts)
    got = np.vstack([fast.predict_proba(b) for b in batches])
    assert len(fast.table.rows) <= max(400, largest_batch), "the table holds its limit, or one batch's words"
    assert np.abs(got - expected).max() <= TOLERANCE


def test_batches_with_nothing_to_count_match_the_pipeline(small: tuple) -> None:  # type: ignore[type-arg]
    pipeline, fast = small
    for texts in ([""] * 8, ["   ", "\n"] * 8, ["!!! ...", "a", "ö"] * 8):
        assert np.abs(fast.predict_proba(texts) - pipeline.predict_proba(texts)).max() <= TOLERANCE


def test_fast_features_match_the_pipeline_features(small: tuple) -> None:  # type: ignore[type-arg]
    pipeline, fast = small
    cleaned = pipeline.named_steps["clean"].transform(shipped_texts()[:30])
    x = pipeline.named_steps["features"].transform(cleaned).tocsr()
    for i, text in enumerate(cleaned):
        ids, values = fast.feature_values(text)
        row = x[i]
        n_word = int(np.count_nonzero(ids < fast.n_word))
        assert ids[:n_word].tolist() == row.indices[:n_word].tolist(), "the same word features, sorted, first"
        order = np.argsort(ids)
        assert ids[order].tolist() == row.indices.tolist(), "the same non-zero features"
        assert np.abs(values[order] - row.data).max() <= TOLERANCE


def test_explanations_are_the_same_through_either_path(small_model_dir: Path) -> None:
    model = TriageModel.load(small_model_dir)
    texts = shipped_texts()[:20]
    fast = model.predict(texts, explain=True)
    model.fast = None
    slow = model.predict(texts, explain=True)
    for a, b in zip(fast, slow):
        assert [e["term"] for e in a.explanation] == [e["term"] for e in b.explanation]
        assert a.probabilities == pytest.approx(b.probabilities, abs=TOLERANCE)


def test_threads_scoring_at_once_get_the_one_thread_results(small: tuple) -> None:  # type: ignore[type-arg]
    # Words are added to the shared table under a lock; the compiled loops run without the GIL,
    # each thread in its own count arrays.
    pipeline, _ = small
    texts = shipped_texts()[:400]
    expected = FastScorer(pipeline).predict_proba(texts)
    fast = FastScorer(pipeline)  # a fresh table: the threads race to add the same new words
    chunks = [texts[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda chunk: [fast.predict_proba([t]) for t in chunk], chunks))
    for i, chunk_result in enumerate(results):
        assert np.abs(np.vstack(chunk_result) - expected[i::4]).max() <= 1e-12


def _table_bytes(table: fastpath.WordTable) -> int:
    """What a word table holds: its words as it counts them, and its arrays' whole allocation."""
    return table.bytes + sum(a.nbytes for a in (table.gram_starts, table.grams, table.token_starts, table.tokens))


def test_unique_long_words_cannot_grow_the_word_table_beyond_its_bytes(small: tuple, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    """The attack: batches of tickets made of unique long words grew the server by about 10 MB per
    request. Cleaning cuts words to `MAX_WORD_CHARS` and the table is bounded by bytes (beyond one
    call's words), so it stays flat, and a table that started afresh scores alike."""
    pipeline, _ = small
    fast = FastScorer(pipeline)  # a table of its own
    budget = 1 << 20
    monkeypatch.setattr(fastpath, "_WORD_TABLE_BYTES", budget)
    held = []
    for batch in range(30):
        # 10 tickets of 100 unique 200-character words: about 2 MB of new words per call once cut.
        texts = [" ".join(f"{batch:03d}{ticket:03d}{word:03d}" + "synkroniseringen" * 12 for word in range(100)) for ticket in range(10)]
        cleaned = [clean_text(t) for t in texts]
        assert max(len(w) for c in cleaned for w in c.split()) == MAX_WORD_CHARS, "cleaning cuts absurd words"
        fast.proba_cleaned(cleaned)
        held.append(_table_bytes(fast.table))
    assert max(held) < 8 * budget, f"the table grew to {max(held):,} bytes over 30 calls of unique words; it is bounded near {budget:,} plus one call"
    assert max(held[10:]) <= 1.5 * max(held[:10]), f"the table stays flat call after call: {held}"
    texts = shipped_texts()[:200]
    diff = np.abs(fast.predict_proba(texts) - pipeline.predict_proba(texts)).max()
    assert diff <= TOLERANCE, f"after starting afresh the fast path still matches the pipeline (differs by {diff:g})"
