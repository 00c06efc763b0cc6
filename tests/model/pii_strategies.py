"""Hypothesis strategies for personal data as it appears in tickets, and for text around it.

Shared by the redaction tests and the text-cleaning tests: valid personnummer and
samordningsnummer (date and Luhn checked), Swedish phone numbers in the forms people type,
e-mail addresses, and ticket-id-like numbers that are none of those.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import assume
from hypothesis import strategies as st

from model.redact import is_personnummer, luhn_valid

# Separators people put between the groups of a phone number: spaces (also the no-break and
# narrow no-break spaces that word processors and signatures insert), hyphens, dashes, minus signs
# and dots; after the area code also a slash ("070/123 45 67").
PHONE_SEPARATORS = ("", " ", "-", "\u00a0", "\u202f", " - ", "\u2013", " \u2013 ", "\u2014", "\u2212", "\u2011", ".")
AREA_SEPARATORS = (*PHONE_SEPARATORS, "/", " / ")
# Around a piece of personal data: it is never glued to other word characters.
BOUNDARIES = (" ", "\n", "\t", ", ", ": ", " (", ") ", ". ", " <", "> ", "\u00a0")

_words = st.sampled_from(["Hej", "eleven", "saknas", "i", "synken", "ring", "mig", "på", "tack", "Mvh", "Anna", "ärende",
                          "kontakt", "please", "call", "me", "at", "the", "school", "åäö", "SSO", "Google", "ID", "nr", "2024"])
# Random text around the personal data: words, numbers, punctuation and whitespace of every kind.
filler = st.lists(st.one_of(_words, st.text(max_size=8)), max_size=8).map(" ".join)


def _check_digit(nine: str) -> str:
    return next(d for d in "0123456789" if luhn_valid(nine + d))


@st.composite
def personnummer(draw: st.DrawFn, coordination: bool | None = None) -> str:
    """A valid personnummer (or samordningsnummer: day + 60) in one of its written forms."""
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    is_coordination = draw(st.booleans()) if coordination is None else coordination
    day = born.day + (60 if is_coordination else 0)
    serial = draw(st.integers(0, 999))
    nine = f"{born.year % 100:02d}{born.month:02d}{day:02d}{serial:03d}"
    ten = nine + _check_digit(nine)
    with_century = draw(st.booleans())
    separator = draw(st.sampled_from(["", "-", " ", " - ", "\u2013", "\u00a0", "/", "\u2212", "\u2014", "-\n"]
                                     + ([] if with_century else ["+"])))  # '+': over 100 years old
    date = (f"{born.year // 100}" if with_century else "") + ten[:6]
    last4 = ten[6:]
    return f"{date}{separator}{last4}"


@st.composite
def swedish_phone(draw: st.DrawFn) -> str:
    """A Swedish phone number: +46 / 0046 / 0 prefix, then 7-9 digits (area code or mobile prefix first) in groups."""
    area = draw(st.sampled_from(["8", "31", "40", "18", "70", "72", "73", "76", "79", "90", "13", "651", "520"]))
    subscriber = draw(st.text("0123456789", min_size=7 - len(area), max_size=9 - len(area)))
    prefix = draw(st.sampled_from(["0", "+46", "0046", "+46 ", "0046 ", "+46 (0)", "+46(0)", "+46-", "+46.", "(0"]))
    area_separator = draw(st.sampled_from(AREA_SEPARATORS if prefix in ("0", "(0") else PHONE_SEPARATORS))
    if prefix == "(0":  # a bracketed area code: (08) 123 456 78
        area_separator = ")" + draw(st.sampled_from(["", " "]))
    separator = draw(st.sampled_from(PHONE_SEPARATORS))
    size = draw(st.sampled_from([2, 3]))
    groups = [subscriber[i:i + size] for i in range(0, len(subscriber), size)]
    return f"{prefix}{area}{area_separator}{separator.join(groups)}"


@st.composite
def email_address(draw: st.DrawFn) -> str:
    """An e-mail address: dotted local part (with + tags, digits, Swedish letters), subdomains and a TLD."""
    atom = st.text("abcdefghijklmnopqrstuvwxyzåäöABCXYZ0123456789_-", min_size=1, max_size=10)
    local = draw(st.sampled_from([".", "'"])).join(draw(st.lists(atom, min_size=1, max_size=3)))  # anna.o'brien
    if draw(st.booleans()):
        local += "+" + draw(atom)
    labels = draw(st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10), min_size=1, max_size=3))
    if draw(st.integers(0, 4)) == 0:
        return f"{local}@{labels[0]}"  # an internal server's address: anna@skola
    tld = draw(st.sampled_from(["se", "com", "nu", "org", "example", "io"]))
    return f"{local}@{'.'.join(labels)}.{tld}"


@st.composite
def ticket_number(draw: st.DrawFn) -> str:
    """A 10- or 12-digit reference (optionally with a hyphen before the last four) that is no personnummer and no phone number."""
    length = draw(st.sampled_from([10, 12]))
    digits = draw(st.text("123456789", min_size=1, max_size=1)) + draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    text = f"{digits[:-4]}-{digits[-4:]}" if draw(st.booleans()) else digits
    assume(not is_personnummer(text) and not digits.startswith("46"))
    return text


def embedded(pii: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    """(text, piece) pairs: the piece of personal data between random text, set off by a boundary on each side."""
    return st.tuples(filler, st.sampled_from(BOUNDARIES), pii, st.sampled_from(BOUNDARIES), filler).map(
        lambda t: (f"{t[0]}{t[1]}{t[2]}{t[3]}{t[4]}", t[2]))


# --- personal data disguised: what normalisation must see through ------------------------------

# Characters that render as nothing (zero-width space, soft hyphen, word joiner, joiner, byte-order
# mark, direction mark), digits of other scripts and widths, other at signs and dashes, and the
# HTML entities a web form or e-mail leaves.
INVISIBLE = ("\u200b", "\u00ad", "\u2060", "\u200d", "\ufeff", "\u200e", "&shy;", "&#8203;")
_DIGIT_FORMS = (0xFF10, 0x0660, 0x06F0, 0x0966, 0x1D7CE)  # fullwidth, Arabic-Indic, Persian, Devanagari, mathematical bold zero
AT_SIGNS = ("@", "\uff20", "\ufe6b", "%40", "&#64;", "&commat;")
DASHES = ("-", "\u2212", "\u2014", "\u2013", "\u2011", "\uff0d", "&#8211;", "&ndash;")
SPACES = (" ", "&nbsp;", "\u00a0", "\u3000")


@st.composite
def disguised(draw: st.DrawFn, pii: st.SearchStrategy[str]) -> tuple[str, str]:
    """(plain, disguised): a piece of personal data, and the same written to dodge a pattern that
    reads it literally: other digits, at signs and dashes, entities, invisible characters inside,
    Windows line breaks."""
    plain = draw(pii)
    out = []
    for ch in plain:
        if ch.isdigit() and draw(st.booleans()):
            ch = chr(draw(st.sampled_from(_DIGIT_FORMS)) + int(ch))
        elif ch == "@":
            ch = draw(st.sampled_from(AT_SIGNS))
        elif ch == "-":
            ch = draw(st.sampled_from(DASHES))
        elif ch == " ":
            ch = draw(st.sampled_from(SPACES))
        elif ch == "\n":
            ch = "\r\n"
        out.append(ch)
        if draw(st.integers(0, 3)) == 0:
            out.append(draw(st.sampled_from(INVISIBLE)))
    return plain, "".join(out)


# What personal data may be glued to: letters and underscores ("pnr811218-9876", "Tel070-1234567",
# "_811218-9876_"), an HTML tag around it, or another number with a dash ("811218-9876-701063-2391").
GLUE = ("pnr", "Tel", "tel:", "_", "ID", "<b>", "</b>", "<span>", "(")

