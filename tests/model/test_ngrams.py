"""`model.ngrams` must count exactly what scikit-learn's vectorizers count."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer

from model.ngrams import count_char_wb, count_words, split_texts
from model.pipeline import CHAR_NGRAMS, WORD_NGRAMS, build_features
from model.text import clean_text
from tests.conftest import shipped_texts

TOKEN_PATTERN = dict(build_features().transformer_list)["word"].token_pattern


def sklearn_counts(texts: list[str], analyzer: str, ngram_range: tuple[int, int]) -> tuple[dict[str, int], sp.csr_matrix]:
    pattern = {"token_pattern": TOKEN_PATTERN} if analyzer == "word" else {}
    vectorizer = CountVectorizer(analyzer=analyzer, ngram_range=ngram_range, dtype=np.float64, **pattern)
    return vectorizer.fit(texts).vocabulary_, sp.csr_matrix(vectorizer.transform(texts))


def assert_same_counts(ours: tuple[dict[str, int], sp.csr_matrix], theirs: tuple[dict[str, int], sp.csr_matrix]) -> None:
    (vocabulary, counts), (expected_vocabulary, expected) = ours, theirs
    assert set(vocabulary) == set(expected_vocabulary)
    in_their_order = [vocabulary[t] for t in sorted(expected_vocabulary, key=expected_vocabulary.__getitem__)]
    assert abs(counts[:, in_their_order] - expected).max() == 0


def count_both(texts: list[str], ngrams: tuple[int, int] = WORD_NGRAMS) -> None:
    split = split_texts(texts)
    assert_same_counts(count_char_wb(split, CHAR_NGRAMS), sklearn_counts(texts, "char_wb", CHAR_NGRAMS))
    words = count_words(split, TOKEN_PATTERN, ngrams)
    if words[0]:
        assert_same_counts(words, sklearn_counts(texts, "word", ngrams))
    else:  # no token at all: scikit-learn has no vocabulary either
        with pytest.raises(ValueError, match="empty vocabulary"):
            sklearn_counts(texts, "word", ngrams)


@pytest.mark.parametrize("cleaned", [True, False], ids=["cleaned", "raw"])
def test_every_shipped_ticket_is_counted_as_scikit_learn_counts_it(cleaned: bool) -> None:
    texts = shipped_texts()
    count_both([clean_text(t) for t in texts] if cleaned else texts)


@pytest.mark.parametrize("ngrams", [(1, 1), (2, 2), (1, 2)])
def test_word_ngram_ranges_up_to_bigrams(ngrams: tuple[int, int]) -> None:
    texts = [clean_text(t) for t in shipped_texts()[:300]]
    assert_same_counts(count_words(split_texts(texts), TOKEN_PATTERN, ngrams), sklearn_counts(texts, "word", ngrams))


def test_longer_word_ngrams_and_other_token_patterns_are_refused_rather_than_miscounted() -> None:
    with pytest.raises(ValueError, match="1 and 2 only"):
        count_words(split_texts(["a b c"]), TOKEN_PATTERN, (1, 3))
    with pytest.raises(ValueError, match="across whitespace"):
        count_words(split_texts(["a b c"]), r"\S+ \S+", (1, 1))


def test_edge_cases_short_words_hyphens_case_and_unusual_spaces() -> None:
    texts = ["", "   ", "a", "Ä-b c- -d e_f 1-2-3", "x\u00a0y\x1cz\u2003w", "İstanbul ﬁle ß", "ab", "a b\n\nc\td", "ok ok ok ok"]
    count_both(texts + ["tail word"])


WORDS = st.text(st.sampled_from(list("aåäöÅÄÖbc-_1 \n\t\u00a0İß.,!")), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=8))
def test_fuzzed_texts_are_counted_as_scikit_learn_counts_them(texts: list[str]) -> None:
    if not any(t.split() for t in texts):  # scikit-learn refuses an empty vocabulary
        return
    count_both(texts + ["anchor word"])
