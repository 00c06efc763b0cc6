"""Redaction of personal data: e-mail addresses, Swedish phone numbers, personnummer.

The one place that knows what personal data looks like. Text cleaning (features), the review
queue (stored text), logs and exports all call `redact`, so they agree on what is removed.
"""

from __future__ import annotations

import datetime as dt
import re

EMAIL_TOKEN = "[EMAIL]"
PHONE_TOKEN = "[PHONE]"
PERSONNUMMER_TOKEN = "[PERSONNUMMER]"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

# Dashes people (and word processors) put between digit groups: hyphen, non-breaking hyphen,
# figure dash, en dash.
_DASH = r"\-" + "\u2010\u2011\u2012\u2013"  # the hyphen escaped: these go inside [...]
# Space within a line: also the no-break, thin and narrow no-break spaces that signatures and
# word processors insert between digit groups.
_SPACE = r"[^\S\r\n]"
# Between two digit groups: a few spaces, or one dash with optional spaces around it.
_GROUP_SEPARATOR = rf"(?:{_SPACE}{{0,2}}[{_DASH}]{_SPACE}{{0,2}}|{_SPACE}{{1,3}})"

# 12 digits (YYYYMMDDNNNN) or 10 digits (YYMMDDNNNN); '-' or '+' (over 100 years) may separate
# the date from the last four. Samordningsnummer add 60 to the day.
_PERSONNUMMER = re.compile(rf"(?<![\d\w{_DASH}])((?:19|20)?\d{{6}})\s?([+{_DASH}]?)\s?(\d{{4}})(?![\d\w])")

# Swedish numbers: +46 / 0046 / 0 prefix, then 6-9 more digits with single spaces, dashes or
# a bracketed zero between them ("+46 (0)70-123 45 67", "08-123 456 78", "0046 31 12 34 56").
_PHONE = re.compile(
    rf"(?<![\w+])(?:(?:\+46|0046){_GROUP_SEPARATOR}?(?:\(0\){_GROUP_SEPARATOR}?)?[1-9]|0[1-9])(?:{_GROUP_SEPARATOR}?\d){{6,9}}(?![\d\w])"
)


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
    m = _PERSONNUMMER.fullmatch(text.strip())
    return m is not None and _personnummer_match_valid(m)


def _personnummer_match_valid(m: re.Match[str]) -> bool:
    date, last4 = m.group(1), m.group(3)
    ten = date[-6:] + last4
    return _valid_date(ten[:6]) and luhn_valid(ten)


def _replace_personnummer(m: re.Match[str]) -> str:
    return PERSONNUMMER_TOKEN if _personnummer_match_valid(m) else m.group(0)


# Cheap scans that rule out most texts before the patterns above (which start with look-behinds
# and so are tried at every position) run: both kinds need at least 7 digits close together.
_SEVEN_DIGITS = re.compile(rf"\d(?:[\s()+{_DASH}]{{0,5}}\d){{6}}")


def redact(text: str) -> str:
    """Replace e-mail addresses, phone numbers and valid personnummer with placeholders.

    Redacting the result again changes nothing: passes repeat until one finds nothing, because a
    match never starts right where the previous one ended, so of two numbers or addresses
    written together ("a@b.se+c@d.se") one pass replaces only the first. Each pass that changes
    the text removes digits or an '@', so the loop ends; the common text needs one pass.
    """
    while True:
        redacted = _redact_once(text)
        if redacted == text:
            return text
        text = redacted


def _redact_once(text: str) -> str:
    if "@" in text:
        text = _EMAIL.sub(EMAIL_TOKEN, text)
    if _SEVEN_DIGITS.search(text) is None:
        return text
    text = _PERSONNUMMER.sub(_replace_personnummer, text)
    return _PHONE.sub(PHONE_TOKEN, text)
