"""Redaction of e-mail addresses, Swedish phone numbers and personnummer: examples, then properties."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.redact import EMAIL_TOKEN, PERSONNUMMER_TOKEN, PHONE_TOKEN, is_personnummer, luhn_valid, redact
from tests.model.pii_strategies import email_address, embedded, personnummer, swedish_phone, ticket_number


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
    assert address.split("@")[1] not in out, f"not even the domain of {address!r} should remain: {out!r}"


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
