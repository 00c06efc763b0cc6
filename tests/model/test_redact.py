"""Redaction of e-mail addresses, Swedish phone numbers and personnummer: examples, then properties."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import model.redact as redact_module
from model.redact import EMAIL_TOKEN, PERSONNUMMER_TOKEN, PHONE_TOKEN, is_personnummer, luhn_valid, normalise, redact
from model.text import readable_text
from tests.model.pii_strategies import (
    BOUNDARIES,
    GLUE,
    disguised,
    email_address,
    embedded,
    filler,
    personnummer,
    swedish_phone,
    ticket_number,
)


@pytest.mark.parametrize(
    "number",
    [
        "19811218-9876",  # 12 digits with hyphen
        "198112189876",  # 12 digits, no separator
        "811218-9876",  # 10 digits with hyphen
        "8112189876",  # 10 digits
        "811218+9876",  # '+' for people over 100
        "701063-2391",  # samordningsnummer: day + 60
    ],
)
def test_valid_personnummer_are_redacted(number: str) -> None:
    assert is_personnummer(number), f"{number} has a valid date and checksum"
    assert redact(f"eleven {number} saknas") == f"eleven {PERSONNUMMER_TOKEN} saknas"


@pytest.mark.parametrize(
    "number",
    [
        "811218-9877",  # wrong checksum
        "811318-9876",  # month 13
        "1234567890",  # an ordinary ticket number
        "20241003",  # a date, 8 digits
    ],
)
def test_numbers_that_are_not_personnummer_survive(number: str) -> None:
    assert redact(f"ärende {number}") == f"ärende {number}", f"{number} is not a valid personnummer and must survive"


@pytest.mark.parametrize(
    "phone",
    ["070-123 45 67", "+46 70 123 45 67", "0046 70 123 45 67", "08-123 456 78", "031-12 34 56", "+46 (0)70-123 45 67", "0701234567"],
)
def test_swedish_phone_numbers_are_redacted(phone: str) -> None:
    assert PHONE_TOKEN in redact(f"ring mig på {phone} tack") or PERSONNUMMER_TOKEN in redact(f"ring mig på {phone} tack"), (
        f"{phone} should not survive redaction"
    )
    assert "123" not in redact(f"ring mig på {phone} tack"), f"no digits of {phone} should remain"


@pytest.mark.parametrize("text", ["version 2024-09-03", "HTTP 401 och 500", "AADSTS50105", "port 5432"])
def test_ordinary_numbers_are_not_phone_numbers(text: str) -> None:
    assert redact(text) == text, f"{text!r} holds no personal data"


def test_emails_are_redacted() -> None:
    assert redact("skriv till anna.svensson+skola@example.se.") == f"skriv till {EMAIL_TOKEN}."


def test_luhn() -> None:
    assert luhn_valid("8112189876")
    assert not luhn_valid("8112189877")


# --- properties: any valid piece of personal data in any text is redacted ---------------------

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


@PROPERTY_SETTINGS
@given(embedded(personnummer()))
def test_any_valid_personnummer_or_samordningsnummer_in_text_is_redacted(case: tuple[str, str]) -> None:
    text, number = case
    out = redact(text)
    assert number not in out and PERSONNUMMER_TOKEN in out, f"{number!r} should be redacted in {text!r}, got {out!r}"


@PROPERTY_SETTINGS
@given(embedded(personnummer(coordination=True)))
def test_any_samordningsnummer_in_text_is_redacted(case: tuple[str, str]) -> None:
    text, number = case
    assert is_personnummer(number), f"{number!r} is a samordningsnummer (day + 60) with a valid checksum"
    assert number not in redact(text), f"{number!r} should be redacted in {text!r}"


@PROPERTY_SETTINGS
@given(embedded(swedish_phone()))
def test_any_swedish_phone_number_in_text_is_redacted(case: tuple[str, str]) -> None:
    text, phone = case
    out = redact(text)
    assert phone not in out, f"{phone!r} should be redacted in {text!r}, got {out!r}"
    assert PHONE_TOKEN in out or PERSONNUMMER_TOKEN in out, f"{phone!r} should leave a placeholder in {out!r}"


@PROPERTY_SETTINGS
@given(embedded(email_address()))
def test_any_email_address_in_text_is_redacted(case: tuple[str, str]) -> None:
    text, address = case
    out = redact(text)
    assert address not in out and EMAIL_TOKEN in out, f"{address!r} should be redacted in {text!r}, got {out!r}"
    domain = address.split("@")[1]
    assert "." not in domain or domain not in out, f"not even the domain of {address!r} should remain: {out!r}"


@PROPERTY_SETTINGS
@given(ticket_number(), st.sampled_from(["ärende", "ticket", "order nr", "faktura", "Ref:"]), st.sampled_from(["", ".", " gäller synken", ", tack"]))
def test_ticket_numbers_that_fail_the_date_or_luhn_check_survive(number: str, before: str, after: str) -> None:
    text = f"{before} {number}{after}"
    assert redact(text) == text, f"{number!r} is no personnummer (date or checksum fails) and no phone number, so it must survive"


@PROPERTY_SETTINGS
@given(st.text())
def test_redaction_is_idempotent_and_never_raises(text: str) -> None:
    once = redact(text)
    assert redact(once) == once, f"redacting redacted text should change nothing: {text!r} -> {once!r}"


# --- what an attack found unredacted (issue 16), and the kinds they stand for ----------------------

TOKENS = (EMAIL_TOKEN, PHONE_TOKEN, PERSONNUMMER_TOKEN)


@pytest.mark.parametrize(
    ("text", "survivor"),
    [
        ("ring (08) 123 456 78", "123"), ("ring (070) 123 45 67", "123"), ("ring 070/123 45 67", "123"), ("ring 070.123.45.67", "123"),
        ("ring +46.70.123.45.67", "123"), ("Tel070-123 45 67", "123"),
        ("pnr121212-1212", "1212"), ("121212/1212", "1212"), ("_811218-9876_", "9876"), ("pnr_811218-9876", "9876"),
        ("811218-9876-701063-2391", "2391"), ("811218-\r\n9876", "9876"), ("81121\u200b8-9876", "9876"), ("811218\u00ad-9876", "9876"),
        ("811218\u2060-9876", "9876"), ("811218\u2212" "9876", "9876"), ("811218\u2014" "9876", "9876"),
        ("\uff10\uff17\uff10-\uff11\uff12\uff13 \uff14\uff15 \uff16\uff17", "\uff11\uff12\uff13"),
        ("\u0660\u0667\u0660-\u0661\u0662\u0663 \u0664\u0665 \u0666\u0667", "\u0661\u0662\u0663"),
        ("anna@skola", "anna"), ("anna\uff20skola.se", "anna"), ("anna\ufe6bskola.se", "anna"), ("anna.o'brien@skola.se", "brien"),
        ("mailto:anna%40skola.se", "anna"), ("an\u200bna@sko\u00adla.se", "sko"),
    ],
)
def test_personal_data_the_attack_found_is_redacted(text: str, survivor: str) -> None:
    out = redact(text)
    assert survivor not in out and normalise(survivor) not in out, f"{text!r} should be redacted, got {out!r}"
    assert any(token in out for token in TOKENS), f"a placeholder stands where the data was: {out!r}"


@pytest.mark.parametrize(
    "text",
    ["070-123&nbsp;45&nbsp;67", "anna&#64;skola.se", "anna&commat;skola.se", "<b>811218</b>-9876", "<p>070-123 45 67</p>",
     "811218&shy;-9876", "811218&#8211;9876"],
)
def test_personal_data_in_html_is_redacted_in_readable_text(text: str) -> None:
    out = readable_text(text)
    assert not any(group in out for group in ("811218", "9876", "123", "anna")), f"{text!r} should be redacted, got {out!r}"
    assert any(token in out for token in TOKENS), f"a placeholder stands where the data was: {out!r}"


@pytest.mark.parametrize("text", ["10/08/2024 07:31:12", "08/15/2024 07:31", "10.08.2024 07:31", "user=anna", "v2.0.1", "(Ref 08)"])
def test_dates_times_and_versions_are_not_phone_numbers(text: str) -> None:
    assert redact(text) == text, f"{text!r} holds no personal data"


def test_quotes_around_an_address_stay() -> None:
    assert redact("skriv till 'anna@skola.se' eller \"per@skola.se\"") == f"skriv till '{EMAIL_TOKEN}' eller \"{EMAIL_TOKEN}\""


_ANY_PIECE = st.one_of(personnummer(), swedish_phone(), email_address())


@PROPERTY_SETTINGS
@given(filler, st.sampled_from(BOUNDARIES), disguised(_ANY_PIECE), st.sampled_from(BOUNDARIES), filler)
def test_disguised_personal_data_is_redacted(before: str, left: str, piece: tuple[str, str], right: str, after: str) -> None:
    plain, written = piece
    text = f"{before}{left}{written}{right}{after}"
    out = readable_text(text)
    assert normalise(plain) not in out, f"{plain!r} written as {written!r} should be redacted in {text!r}, got {out!r}"
    if "<" not in text and "&" not in before + after:  # random markup around it may swallow it whole
        assert any(token in out for token in TOKENS), f"a placeholder stands where {written!r} was: {out!r}"


@PROPERTY_SETTINGS
@given(st.sampled_from(GLUE), _ANY_PIECE, st.sampled_from((*GLUE, "-")), st.one_of(st.just(""), _ANY_PIECE))
def test_personal_data_glued_to_words_tags_or_other_numbers_is_redacted(glue: str, piece: str, between: str, second: str) -> None:
    text = f"{glue}{piece}{between}{second}"
    out = readable_text(text)
    for part in (piece, second):
        if part:
            assert normalise(part) not in out, f"{part!r} should be redacted in {text!r}, got {out!r}"


@PROPERTY_SETTINGS
@given(st.lists(_ANY_PIECE, min_size=2, max_size=6), st.sampled_from(["+", "-", ".", ",", " ", ";"]))
def test_pieces_written_together_are_redacted_in_one_pass(pieces: list[str], joint: str) -> None:
    text = joint.join(pieces)
    out = redact(text)
    assert redact(out) == out, f"redacting again changes nothing: {text!r} -> {out!r} -> {redact(out)!r}"
    for piece in pieces:
        assert normalise(piece) not in out, f"{piece!r} should be redacted in {text!r}, got {out!r}"



def _normalise_the_long_way(text: str) -> str:
    """`normalise` by its definition, every step on every text (no shortcut for ASCII or Latin-1)."""
    text = redact_module._LINE_BREAK.sub("\n", text)
    text = unicodedata.normalize("NFKC", redact_module._INVISIBLE.sub("", text))
    text = redact_module._DASH.sub("-", text)
    return redact_module._OTHER_DIGIT.sub(lambda m: str(unicodedata.digit(m.group())), text)


@PROPERTY_SETTINGS
@given(st.one_of(st.text(), st.text(st.characters(max_codepoint=0xFF)), st.text(st.sampled_from("a1\r\n\x85\xad\xa0\u2028\u2013\u200b\uff10\u0661"))))
def test_normalise_is_idempotent_and_its_shortcuts_change_nothing(text: str) -> None:
    out = normalise(text)
    assert out == _normalise_the_long_way(text), f"the ASCII and Latin-1 shortcuts give the full normalisation: {text!r}"
    assert normalise(out) == out, f"normalising again changes nothing: {text!r} -> {out!r}"
