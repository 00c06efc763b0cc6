"""Ticket text cleaning: examples of each step, then properties over generated tickets."""

import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import model.text as text_module
from model.redact import redact
from model.text import MAX_WORD_CHARS, TextCleaner, clean_text, is_usable, readable_text, strip_quoted_reply, strip_signature, ticket_text
from tests.conftest import TICKETS, shipped_texts
from tests.model.pii_strategies import BOUNDARIES, email_address, embedded, personnummer, swedish_phone


def test_html_is_reduced_to_text() -> None:
    cleaned = clean_text("<div><p>Synken&nbsp;har <b>stannat</b></p><br>Kan ni titta?</div>")
    assert cleaned == "Synken har stannat Kan ni titta?", "tags and entities removed, blocks separated"


def test_html_comments_from_issue_templates_are_removed() -> None:
    assert clean_text("<!-- Describe your problem here -->Login fails") == "Login fails"


def test_swedish_quoted_reply_is_dropped_when_the_new_part_stands_alone() -> None:
    text = (
        "Hej, nu fungerar inte inloggningen för eleverna på Västerskolan igen sedan i morse och vi har testat "
        "allt som stod i er guide utan att det hjälper alls.\n"
        "Från: Support <support@example.se>\nSkickat: den 3 september 2024 09:12\nTill: Anna\nÄmne: SV: Inlogg\n"
        "Vi har nu lagt till en ny skola i synken."
    )
    assert "lagt till en ny skola" not in clean_text(text), "the quoted earlier reply must not become features"


def test_short_reply_keeps_the_quoted_ticket_without_headers() -> None:
    text = "Any news?\n\nOn Tue, 3 Sep 2024 at 09:12, Anna <a@example.se> wrote:\n> The sync to Google stopped\n> for Norrskolan."
    assert strip_quoted_reply(text) == "Any news?\nThe sync to Google stopped\nfor Norrskolan."


def test_signature_is_cut_at_the_sign_off() -> None:
    text = "Synken har stannat.\nMvh\nAnna Svensson\nIT-tekniker, Exempelby kommun\n070-123 45 67"
    assert strip_signature(text) == "Synken har stannat."
    assert strip_signature("Best regards") == "Best regards", "a text that is only a sign-off stays"


def test_markdown_code_and_stack_traces_are_summarised() -> None:
    text = "### Bug\nCrash on start\n```\nTraceback (most recent call last):\n  File \"x.py\", line 3\nValueError: bad\n```\n- [x] I read [the docs](http://x.y)"
    cleaned = clean_text(text)
    assert "codeblock ValueError" in cleaned, "a code block leaves a marker and the exception name"
    assert "http" not in cleaned and "###" not in cleaned and "[x]" not in cleaned


def test_personal_data_becomes_placeholders() -> None:
    cleaned = clean_text("Eleven 811218-9876 (anna@example.se, 070-123 45 67) saknar konto")
    assert cleaned == "Eleven [PERSONNUMMER] ([EMAIL], [PHONE]) saknar konto"


def test_reply_prefixes_are_removed_from_the_subject() -> None:
    assert clean_text(ticket_text("SV: VB: RE: Synken", "stannat")) == "Synken stannat"


def test_error_codes_survive_but_long_standalone_numbers_do_not() -> None:
    assert clean_text("AADSTS50105 i ärende 8812345") == "AADSTS50105 i ärende NUM"


def test_non_text_input_becomes_empty() -> None:
    assert clean_text(None) == "" and clean_text(3.5) == ""
    assert not is_usable("   <p>&nbsp;</p>  ")
    assert is_usable("funkar inte")


def test_cleaner_step_is_stateless_and_maps_every_row() -> None:
    assert TextCleaner().fit_transform(["a <b>b</b>", None]) == ["a b", ""]


# --- properties --------------------------------------------------------------------------------

# Pieces of real tickets' markup: HTML, entities, quoted replies, sign-offs, markdown, code, traces.
_MARKUP = st.sampled_from([
    "<p>", "</p>", "<div>", "<br>", "<b>", "&nbsp;", "&amp;", "&lt;", "<!--", "-->", "> ", ">", "\n", "\r\n", "\r", "Mvh", "Med vänliga hälsningar",
    "From: a", "Från: b", "Skickat: c", "On Tue, Anna wrote:", "Den 3 sep skrev Anna:", "-- ", "```", "~~~", "Traceback (most recent call last):",
    '  File "x.py", line 3', "http://x.se/a", "www.x.se", "[link](http://a)", "![img](x.png)", "# ", "- [x] ", "* ", "1. ", "**", "_", "`", "|",
    "12345678", "SV: ", "RE: ", "hej", "synken", " ", "  ", "\t", "å", "\u00a0", "\u200b", "e\u0301", "\ufb01",
])
_PIECE = st.one_of(personnummer(), swedish_phone(), email_address())
# A ticket: markup, random text and personal data set off from its neighbours, in any order.
_TICKET = st.lists(st.one_of(_MARKUP, st.text(max_size=6), st.tuples(st.sampled_from(BOUNDARIES), _PIECE, st.sampled_from(BOUNDARIES)).map("".join)),
                   max_size=30).map("".join)
_WORDS = st.lists(st.one_of(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8), st.sampled_from([".", ",", "!", "?", ":"])),
                  max_size=30)
# Words and punctuation with a space or a line break after each.
_PROSE = _WORDS.flatmap(lambda words: st.tuples(st.just(words), st.lists(st.sampled_from([" ", "\n"]), min_size=len(words), max_size=len(words))))
_SIGN_OFFS_AND_HEADERS = re.compile(r"(?im)^\s*(?:mvh|vh|hälsningar|regards|br|cheers)\b")
PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTIES
@given(st.one_of(st.text(), _TICKET, st.binary().map(lambda b: b.decode("latin-1")), st.none(), st.integers(), st.floats(), st.lists(st.text())))
def test_clean_text_never_raises_and_returns_normalised_lines(raw: object) -> None:
    cleaned = clean_text(raw)
    assert isinstance(cleaned, str), "clean_text always returns text"
    assert "\r" not in cleaned, "line breaks are normalised to \\n"
    assert all(line and line == " ".join(line.split()) for line in cleaned.split("\n")) if cleaned else True, (
        f"every line is non-empty with single spaces and no padding: {cleaned!r}")


@PROPERTIES
@given(_TICKET)
def test_clean_text_leaves_nothing_for_redaction_to_find(raw: str) -> None:
    cleaned = clean_text(raw)
    assert redact(cleaned) == cleaned, f"cleaned text should hold no e-mail, phone number or personnummer: {raw!r} -> {cleaned!r}"


@PROPERTIES
@given(embedded(_PIECE), _MARKUP, _MARKUP)
def test_no_personal_data_survives_cleaning(case: tuple[str, str], before: str, after: str) -> None:
    text, piece = case
    cleaned = clean_text(before + text + after)
    assert piece not in cleaned, f"{piece!r} should not survive cleaning: {cleaned!r}"
    if "@" in piece:  # no part of an address (e.g. the name in anna_svensson@...) may become a feature
        around = set(re.findall(r"\w+", before + text.replace(piece, " ") + after))
        parts = {p for p in re.split(r"[\W_]+", piece.split("@")[0]) if len(p) >= 4} - around
        assert not parts & set(re.findall(r"\w+", cleaned)), f"parts of {piece!r} survived cleaning: {cleaned!r}"


@PROPERTIES
@given(_PROSE)
def test_cleaning_plain_prose_twice_changes_nothing(prose: tuple[list[str], list[str]]) -> None:
    words, gaps = prose
    text = "".join(w + g for w, g in zip(words, gaps))
    assume(not _SIGN_OFFS_AND_HEADERS.search(text))  # a sign-off line is cut wherever it is; that is layout, not prose
    once = clean_text(text)
    assert clean_text(once) == once, f"cleaned prose is already clean: {text!r} -> {once!r} -> {clean_text(once)!r}"


def test_an_address_with_underscores_is_redacted_whole() -> None:
    assert clean_text("Skriv till anna_svensson@skola.example.se om kontot") == "Skriv till [EMAIL] om kontot", (
        "markdown stripping must not split an address before it is redacted")


def test_many_texts_are_cleaned_in_parallel_exactly_as_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.read_csv(TICKETS, dtype=str, keep_default_na=False).head(60)
    texts = [ticket_text(s, b) for s, b in zip(frame["subject"], frame["body"])] + [None, "", "<p>&nbsp;</p>"]
    monkeypatch.setattr(text_module, "PARALLEL_CLEANING_FROM", 10)
    assert text_module.clean_texts(texts) == [clean_text(t) for t in texts]


def test_absurdly_long_words_are_cut_and_no_shipped_word_is_that_long() -> None:
    cleaned = clean_text("x" * 19_000 + " synken har stannat")
    assert cleaned.split()[0] == "x" * MAX_WORD_CHARS and cleaned.endswith("synken har stannat"), "a pasted blob keeps its first characters"
    longest = max(len(word) for text in shipped_texts() for word in clean_text(text).split())
    assert longest < MAX_WORD_CHARS, f"cutting words changes no shipped ticket: its longest word has {longest} characters"


def test_cleaning_reads_disguised_text_as_plain_text() -> None:
    assert clean_text("Syn\u00adken har\u200b stannat") == "Synken har stannat", "invisible characters are removed"
    assert clean_text("Ｓｙｎｋｅｎ") == "Synken", "fullwidth letters are folded (NFKC)"
    assert clean_text("åk 4\u20136 och 7\u22129") == "åk 4-6 och 7-9", "every dash is a hyphen"
    assert clean_text("<b>811218</b>-9876 och anna&#64;skola.se") == "[PERSONNUMMER] och [EMAIL]"


def test_readable_text_is_the_plain_redacted_ticket_for_people() -> None:
    text = "<p>Hej!<br>Eleven 811218&shy;-9876 saknas.</p>\r\n> Tidigare svar\r\nMvh Anna, anna\uff20skola.se"
    assert readable_text(text) == "Hej!\nEleven [PERSONNUMMER] saknas.\n\n> Tidigare svar\nMvh Anna, [EMAIL]", (
        "quotes and signatures stay for the agent; HTML, disguises and personal data do not")
