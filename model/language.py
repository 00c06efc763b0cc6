"""Language of a ticket: Swedish, English, a mix of both, or unknown.

A small function-word count is enough to tell Swedish from English helpdesk text and needs no
downloaded model. Used for per-language metrics when a data file has no `language` column,
and by the service to report the language of each ticket.
"""

from __future__ import annotations

import re

LANGUAGES = ("sv", "en", "mixed", "unknown")

_SWEDISH = frozenset(
    "och att det är inte på för som med har vi jag kan en ett till av om ni eller hej tack mvh "
    "från vår våra vårt de den denna detta när så men hur vad varför ska skulle också nu där här "
    "finns får fått alla inga ingen efter innan igen sedan måste behöver vill eleverna elever "
    "skolan skola lärare användare inloggning fungerar funkar kommer mot under även bara redan "
    "hälsningar vänliga".split()
)
_ENGLISH = frozenset(
    "the and is are not to for with we i can have has on of please thanks thank it this that "
    "from our you your be been was were when what why how there here all no any after before "
    "again since must need want students school teachers users login working work does doesn't "
    "don't isn't would could should also now only already hi hello regards best kind".split()
)
_WORD = re.compile(r"[a-zåäöé']+")
_MIN_WORDS = 2
_MIXED_SHARE = 0.2  # each language has at least this share of the function words


def detect_language(text: str) -> str:
    """Return 'sv', 'en', 'mixed' or 'unknown' for a (raw or cleaned) ticket text."""
    words = _WORD.findall(text.lower())
    sv = sum(w in _SWEDISH for w in words)
    en = sum(w in _ENGLISH for w in words)
    if sv + en < _MIN_WORDS:
        if any(ch in text for ch in "åäöÅÄÖ"):
            return "sv"
        return "unknown" if sv + en == 0 else ("sv" if sv else "en")
    share_sv = sv / (sv + en)
    if share_sv >= 1 - _MIXED_SHARE:
        return "sv"
    if share_sv <= _MIXED_SHARE:
        return "en"
    return "mixed"
