"""Redaction of personal data: e-mail addresses, Swedish phone numbers, personnummer.

The one place that knows what personal data looks like. Text cleaning (features), the review
queue (stored text and agents' notes), logs and exports all call `redact`, so they agree on what
is removed.

Personal data is looked for in normalised text (`normalise`): compatibility forms folded (NFKC:
fullwidth digits and at signs, ligatures, no-break spaces), invisible characters removed (zero-width
spaces, soft hyphens, word joiners, direction marks), every dash and minus sign a hyphen, every
decimal digit an ASCII digit and every line break a newline. So `811218&shy;-9876`,
`０７０−１２３ ４５ ６７` or `anna＠skola.se` cannot hide what `811218-9876` would not. `redact`
returns the normalised text with the data replaced; redacting again changes nothing.

Every pattern is tried only where it can start (look-behinds keep a match from starting inside a
run of its own characters) and consumes a bounded stretch or a run once, so redaction is linear in
the length of the text (`tests/model/test_linear_cost.py` times it on growing hostile inputs).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

EMAIL_TOKEN = "[EMAIL]"
PHONE_TOKEN = "[PHONE]"
PERSONNUMMER_TOKEN = "[PERSONNUMMER]"

# --- normalisation ---------------------------------------------------------------------------

_LINE_BREAK = re.compile("\r\n?|[\x85\u2028\u2029]")
# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt): characters that
# render as nothing, such as soft hyphens, zero-width spaces and joiners, word joiners, direction
# marks and overrides, variation selectors, Hangul fillers and tags.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff"
    "\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Every dash punctuation character (Unicode category Pd) but the hyphen itself, and the minus sign.
_DASH = re.compile(
    "[\u058a\u05be\u1400\u1806\u2010-\u2015\u2e17\u2e1a\u2e3a\u2e3b\u2e40\u2e5d\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d"
    "\U00010ead\u2212]"
)
_OTHER_DIGIT = re.compile(r"[^\D0-9]")  # a decimal digit of another script (Arabic-Indic, Devanagari, ...)


def normalise(text: str) -> str:
    """The form text is redacted (and cleaned) in: see the module docstring. Idempotent."""
    if text.isascii():  # (a constant-time check) nothing but line breaks to normalise
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    if "\r" in text or "\x85" in text or "\u2028" in text or "\u2029" in text:
        text = _LINE_BREAK.sub("\n", text)
    if _is_latin_1(text):
        # Most Swedish tickets: of what is removed or mapped below, Latin-1 holds only the soft
        # hyphen (NFKC folds the rest, e.g. no-break spaces and superscript digits), and the
        # character scans cost more than all of cleaning's other steps together.
        return unicodedata.normalize("NFKC", text.replace("\xad", "") if "\xad" in text else text)
    text = _INVISIBLE.sub("", text)  # before NFKC, so what it folds is not split by what was removed
    text = unicodedata.normalize("NFKC", text)
    text = _DASH.sub("-", text)
    return _OTHER_DIGIT.sub(lambda m: str(unicodedata.digit(m.group())), text)


def _is_latin_1(text: str) -> bool:
    try:
        text.encode("latin-1")  # a copy for text that is, a quick failure at the first other character
    except UnicodeEncodeError:
        return False
    return True


# --- the patterns (on normalised text) --------------------------------------------------------

# An address's local part: word characters, dots, hyphens, '+' tags, apostrophes ("anna.o'brien")
# and percent-encoding ("bj%C3%B6rn"); the at sign may be written %40 (a mailto: link); the domain
# may be a single name ("anna@skola", an internal mail server). Addresses written together
# ("a@b.se+c@d.se") are one match, so one pass finds them all. Quotes before an address
# ('anna@skola.se') are kept, not taken as part of it; possessive, so a run of them is not given
# back and rescanned.
_LOCAL = r"[\w.'+%-]"
_EMAIL = re.compile(rf"(?<!{_LOCAL})('*+)(?:{_LOCAL}+(?:@|%40)[\w-]+(?:\.[\w-]+)*)+")

# 12 digits (YYYYMMDDNNNN) or 10 digits (YYMMDDNNNN); '-', '/' or '+' (over 100 years) may
# separate the date from the last four. Samordningsnummer add 60 to the day. Only digits around
# the number rule it out: "pnr811218-9876", "_811218-9876_" and the second of
# "811218-9876-701063-2391" are numbers too.
_PERSONNUMMER = re.compile(r"(?<!\d)((?:19|20)?\d{6})\s?([-+/]?)\s?(\d{4})(?!\d)")

# Swedish numbers: +46 / 0046 / 0 prefix, then 6-9 more digits with spaces, or one hyphen or dot
# (spaces around it allowed), between them ("08-123 456 78", "+46 (0)70-123 45 67",
# "+46.70.123.45.67", "Tel070-1234567"). An area code may be bracketed or followed by a slash
# ("(08) 123 456 78", "070/123 45 67"); such a number has 8-11 digits, as one without. A digit or
# a slash before, and a digit (or ':' or '/' and a digit) after, make it part of something else,
# such as the date and time "10/08/2024 07:31".
_SPACE = r"[^\S\n]"  # whitespace within a line
_SEPARATOR = rf"(?:{_SPACE}{{0,2}}[-.]{_SPACE}{{0,2}}|{_SPACE}{{1,3}})"
_REST = rf"(?:{_SEPARATOR}?\d)"
# A bracketed or slashed area code of 2 to 4 digits, then the rest: 8-11 digits in all.
_AREA_FORMS = "|".join(
    rf"(?:\(0[1-9]\d{{{extra}}}\)|0[1-9]\d{{{extra}}}{_SPACE}{{0,2}}/){_SPACE}{{0,2}}\d{_REST}{{{5 - extra},{8 - extra}}}" for extra in range(3)
)
_INTERNATIONAL = rf"46{_SEPARATOR}?(?:\(0\){_SEPARATOR}?)?[1-9]{_REST}{{6,9}}"
_PHONE = re.compile(
    rf"(?:\+{_INTERNATIONAL}"  # '+' starts a number even right after digits ("08-123 45 67+46 70 ...")
    rf"|(?<![\d/])(?:00{_INTERNATIONAL}|0[1-9]{_REST}{{6,9}}|{_AREA_FORMS})"
    r")(?!\d|[:/]\d)"
)

# A cheap scan that rules out most texts before the number patterns run: both kinds need at least
# 7 digits close together.
_SEVEN_DIGITS = re.compile(r"\d(?:[\s()+\-/.]{0,5}\d){6}")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (used by personnummer)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _valid_date(yymmdd: str) -> bool:
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > 60:  # samordningsnummer
        day -= 60
    try:
        # Year 2000 is a leap year, so 29 February is accepted for any two-digit year.
        dt.date(2000, month, day)
    except ValueError:
        return False
    return True


def is_personnummer(text: str) -> bool:
    """True for a personnummer or samordningsnummer with a valid date and checksum."""
    m = _PERSONNUMMER.fullmatch(normalise(text).strip())
    return m is not None and _personnummer_match_valid(m)


def _personnummer_match_valid(m: re.Match[str]) -> bool:
    date, last4 = m.group(1), m.group(3)
    ten = date[-6:] + last4
    return _valid_date(ten[:6]) and luhn_valid(ten)


def _replace_personnummer(m: re.Match[str]) -> str:
    return PERSONNUMMER_TOKEN if _personnummer_match_valid(m) else m.group(0)


def redact(text: str) -> str:
    """The text normalised (`normalise`), with e-mail addresses, phone numbers and valid personnummer
    replaced by placeholders. One pass of each pattern: a placeholder never makes a new match."""
    return redact_normalised(normalise(text))


def redact_normalised(text: str) -> str:
    """`redact` of a text that is `normalise`d already (text cleaning normalises first)."""
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(lambda m: m.group(1) + EMAIL_TOKEN, text)
    if _SEVEN_DIGITS.search(text) is None:
        return text
    text = _PERSONNUMMER.sub(_replace_personnummer, text)
    return _PHONE.sub(PHONE_TOKEN, text)
