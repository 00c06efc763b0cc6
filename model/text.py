"""Ticket text cleaning: the ONE place where raw ticket text becomes model input.

`TextCleaner` is the first step of every saved pipeline, so training and prediction clean text
the same way. It removes what says nothing about the request (HTML, quoted earlier replies,
signatures, markdown syntax, template comments, stack-trace bodies) and replaces personal data
with placeholders so that names, addresses and numbers cannot become features.

`readable_text` is the same first steps for text people read: what the review queue stores of a
ticket (and of an agent's note) is its plain, normalised text with personal data redacted.

Every step is linear in the length of the text: patterns never rescan what follows them from
every position (`tests/model/test_linear_cost.py` times them on growing hostile inputs), and no
word is longer than `MAX_WORD_CHARS`, so a pasted blob cannot make the model's word tables grow.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

import joblib
from sklearn.base import BaseEstimator, TransformerMixin

from model.redact import normalise, redact, redact_normalised

_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|sv|vs|vb|fw|fwd|ang|aw|tr)\s*:\s*)+", re.IGNORECASE)

# --- HTML ---------------------------------------------------------------------------------
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)  # an unclosed comment runs to the end
_HTML_DROP_OPEN = re.compile(r"<(script|style|head)\b", re.IGNORECASE)
_HTML_DROP_CLOSE = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "head")}
# A tag ends at the next '>' before any other '<', so a '<' without its '>' is not searched past.
_HTML_BREAK = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h\d|p|div|li|tr|h\d)\b[^<>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,500}>")

# --- quoted replies and forwards ------------------------------------------------------------
_QUOTE_HEADER = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:original message|ursprungligt meddelande|forwarded message|vidarebefordrat meddelande)"
    r"|on\b.{0,120}\bwrote:\s*$"
    r"|den\b.{0,120}\bskrev\b.{0,80}:\s*$"
    r"|(?:från|from|skickat|sent|datum|date)\s*:.*$"
    r")",
    re.IGNORECASE,
)
_HEADER_FIELD = re.compile(
    r"^\s*(?:från|from|skickat|sent|datum|date|till|to|kopia|cc|ämne|subject)\s*:", re.IGNORECASE
)
_QUOTE_MARK = re.compile(r"^\s*(?:>\s?)+")
# A line after the first that could start a quote (a superset of what `_is_quote_start`
# accepts): most tickets have none and skip the line-by-line check.
_QUOTE_CANDIDATE = re.compile(r"\n[^\S\n]*(?:>|-{2,}|on\b|den\b|från|from|skickat|sent|datum|date)", re.IGNORECASE)

# --- signatures -----------------------------------------------------------------------------
_SIGN_OFF = re.compile(
    r"^\s*(?:--\s*$"
    r"|(?:med\s+)?(?:vänliga|vanliga|bästa|varma)\s+hälsningar\b"
    r"|mvh\b|m\.v\.h\b|hälsningar\b|vh\b"
    r"|(?:best|kind|warm|many)\s+regards\b|regards\b|br,?\s*$|cheers,?\s*$"
    r"|(?:skickat|sent)\s+från\s+min\b|sent\s+from\s+my\b"
    r")",
    re.IGNORECASE,
)
_KEEP_QUOTED_BELOW_WORDS = 20  # a short reply ("any news?") keeps the quoted ticket it answers

# --- markdown, code and traces --------------------------------------------------------------
_CODE_FENCE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)", re.DOTALL)
# Dotted names (java.lang.NullPointerException, ValueError): found once each, then cut after their
# last part that names an exception, rather than scanning ahead for a suffix from every position.
_DOTTED_NAME = re.compile(r"\b[A-Za-z_]\w*(?:\.\w+)*")
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "Fault")
_TRACE_LINE = re.compile(
    r"^\s*(?:at\s+[\w$.<>]+\(.*\)|File\s+\".*\",\s+line\s+\d+.*|Traceback \(most recent call last\):"
    r"|\.\.\.\s+\d+\s+more)\s*$"
)
# Link texts and targets hold no brackets or parentheses of their own, so an opening '[' or '('
# without its close is not searched past the next one.
_MD_IMAGE = re.compile(r"!\[([^\[\]]*)\]\([^()]*\)")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\([^()]*\)")
_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", re.IGNORECASE)
_MD_LINE_MARK = re.compile(r"^[ \t]{0,3}(?:#{1,6}|>|[-*+][ \t]+\[[ xX]\]|[-*+]|\d+[.)])[ \t]+", re.MULTILINE)
_MD_INLINE = "*_`~|\u200b"  # emphasis, code, strike-through, table and zero-width marks: each becomes a space
_WORD_CHAR = re.compile(r"\w")
# No word of the shipped tickets is longer than 68 characters (an LDAP path, a .NET exception);
# beyond this many, a "word" is a pasted blob (base64, a token), and only its start is kept.
MAX_WORD_CHARS = 100
_LONG_WORD = re.compile(rf"(?<!\S)(\S{{{MAX_WORD_CHARS}}})\S+")
_LONG_NUMBER = re.compile(r"\d(?<!\w\d)\d{4,}(?!\w)")  # starts with \d so the scan is fast


def ticket_text(subject: object, body: object) -> str:
    """Join a ticket's subject and body into the single raw string the model reads."""
    parts = [str(p) for p in (subject, body) if isinstance(p, str) and p.strip()]
    return "\n".join(parts)


def strip_html(text: str) -> str:
    """Turn an HTML fragment into plain text with line breaks where blocks ended."""
    text = _HTML_COMMENT.sub(" ", text)
    if "<" in text:
        text = _drop_blocks(text)
        text = _HTML_BREAK.sub("\n", text)
        text = _HTML_TAG.sub(" ", text)
    return html.unescape(text) if "&" in text else text


def _drop_blocks(text: str) -> str:
    """Replace each script, style and head element (opening tag to its closing tag) by a space; an
    opening tag without a closing one is left to the tag step. Linear: once a closing tag is not
    found after some point, it is not looked for again after a later opening tag."""
    parts: list[str] = []
    position = 0
    unclosed: set[str] = set()  # tags with no closing tag after the last search for one
    for opening in _HTML_DROP_OPEN.finditer(text):
        name = opening.group(1).lower()
        if opening.start() < position or name in unclosed:
            continue
        closing = _HTML_DROP_CLOSE[name].search(text, opening.end())
        if closing is None:
            unclosed.add(name)
            continue
        parts += [text[position : opening.start()], " "]
        position = closing.end()
    return "".join(parts) + text[position:] if parts else text


def plain_text(text: str) -> str:
    """Text as a person reads it: HTML reduced to text (entities decoded), then normalised
    (`model.redact.normalise`: NFKC, invisible characters removed, one kind of dash, digit and line break)."""
    if "<" in text or "&" in text:
        text = strip_html(text)
    return normalise(text)


def readable_text(text: str) -> str:
    """A raw ticket text or note as it may be kept and shown to people: `plain_text` with personal
    data replaced by placeholders, without blank space at its ends (what the review queue stores)."""
    return redact(plain_text(text)).strip()


def strip_quoted_reply(text: str) -> str:
    """Drop quoted earlier messages, unless the new part is too short to stand alone."""
    if _QUOTE_CANDIDATE.search(text) is None:
        return text
    lines = text.split("\n")
    # quoted_below[i]: every line from i on is quoted ('>') or blank; one pass from the end, so a
    # '>' line is not checked against all the lines after it.
    quoted_below = [True] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        quoted_below[i] = quoted_below[i + 1] and (not lines[i].strip() or _QUOTE_MARK.match(lines[i]) is not None)
    cut = next((i for i, line in enumerate(lines) if i > 0 and _is_quote_start(lines, i, quoted_below[i])), None)
    if cut is None:
        return text
    new, quoted = lines[:cut], lines[cut:]
    new_text = strip_signature("\n".join(new))
    if len(new_text.split()) >= _KEEP_QUOTED_BELOW_WORDS:
        return new_text
    kept = [_QUOTE_MARK.sub("", line) for line in quoted]
    kept = [line for line in kept if not _HEADER_FIELD.match(line) and not _QUOTE_HEADER.match(line)]
    return new_text.strip() + "\n" + strip_signature("\n".join(kept)).strip()


def _is_quote_start(lines: list[str], i: int, quoted_below: bool) -> bool:
    line = lines[i]
    if _QUOTE_MARK.match(line) and line.strip():
        return quoted_below
    if not _QUOTE_HEADER.match(line):
        return False
    if _HEADER_FIELD.match(line):  # "From: ..." counts only as part of a header block
        return sum(bool(_HEADER_FIELD.match(x)) for x in lines[i : i + 5]) >= 2
    return True


def strip_signature(text: str) -> str:
    """Cut the text at the last sign-off line ("Mvh", "Best regards", "-- ") that has text above it."""
    lines = text.split("\n")
    first_text = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    for i in range(len(lines) - 1, first_text, -1):  # a sign-off with a line of text above it
        if _SIGN_OFF.match(lines[i]):
            return "\n".join(lines[:i])
    return text


def strip_markdown(text: str) -> str:
    """Reduce markdown, code blocks and stack traces to the words that carry meaning."""
    if "```" in text or "~~~" in text:
        text = _CODE_FENCE.sub(_code_summary, text)
    if "at " in text or "File " in text or "Traceback" in text:
        text = "\n".join(_trace_summary(line) for line in text.split("\n"))
    if "](" in text:
        text = _MD_IMAGE.sub(r" image \1 ", text)
        text = _MD_LINK.sub(r" \1 ", text)
    if "://" in text or "www." in text:
        text = _URL.sub(" url ", text)
    text = _MD_LINE_MARK.sub(" ", text)
    for mark in _MD_INLINE:  # str.replace per mark present: str.translate costs ~0.1 us per character
        if mark in text:
            text = text.replace(mark, " ")
    return text


def _code_summary(m: re.Match[str]) -> str:
    names = " ".join(dict.fromkeys(filter(None, map(_exception_name, _DOTTED_NAME.findall(m.group(0))))))
    return f"\ncodeblock {names}\n"


def _exception_name(dotted: str) -> str | None:
    """The dotted name up to its last part naming an exception ("java.lang.NullPointerException",
    "ValueError"), or None; a bare "Error" names none."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        suffix = next((s for s in _EXCEPTION_SUFFIXES if parts[end - 1].endswith(s)), None)
        if suffix is not None:
            name = ".".join(parts[:end])
            return name if len(name) > len(suffix) else None
    return None


def _trace_summary(line: str) -> str:
    return "stacktrace" if _TRACE_LINE.match(line) else line


def clean_text(text: object) -> str:
    """Clean one raw ticket text (subject + body) into model input. Never raises."""
    if not isinstance(text, str):
        return ""
    text = _SUBJECT_PREFIX.sub("", plain_text(text))
    text = strip_quoted_reply(text)
    text = strip_signature(text)
    # Redact before markdown stripping, which removes '_' and so would split an address such as
    # anna_svensson@example.se into a name that survives and an address that is redacted.
    text = redact_normalised(text)  # normalised by plain_text above
    text = strip_markdown(text)
    text = _LONG_NUMBER.sub(" NUM ", text)
    # Runs of whitespace of any kind, line breaks included, become one space: both analyzers
    # split on whitespace, so the model reads the same words, and lines have done their work
    # (quotes, signatures and markdown are found line by line above).
    text = " ".join(text.split())
    return _LONG_WORD.sub(r"\1", text) if len(text) > MAX_WORD_CHARS else text


PARALLEL_CLEANING_FROM = 20_000  # texts; fewer are cleaned faster than worker processes start


def clean_texts(texts: Sequence[object]) -> list[str]:
    """`clean_text` of every text; a large collection is cleaned in parallel worker processes."""
    workers = joblib.cpu_count()
    if len(texts) < PARALLEL_CLEANING_FROM or workers < 2:
        return [clean_text(t) for t in texts]
    size = -(-len(texts) // (4 * workers))  # a few chunks per worker, so none waits long for the last
    chunks = joblib.Parallel(n_jobs=workers)(
        joblib.delayed(_clean_chunk)(texts[i : i + size]) for i in range(0, len(texts), size)
    )
    return [text for chunk in chunks for text in chunk]


def _clean_chunk(texts: Sequence[object]) -> list[str]:
    return [clean_text(t) for t in texts]


class TextCleaner(TransformerMixin, BaseEstimator):
    """Pipeline step applying `clean_text` to every ticket; stateless."""

    def fit(self, X: Iterable[object], y: object = None) -> TextCleaner:
        return self

    def transform(self, X: Iterable[object]) -> list[str]:
        return [clean_text(x) for x in X]

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags


def has_words(cleaned: str) -> bool:
    """Whether a cleaned text has anything left to classify."""
    return _WORD_CHAR.search(cleaned) is not None


def is_usable(text: object) -> bool:
    """Whether a raw ticket text has anything left to classify after cleaning."""
    return has_words(clean_text(text))


