import pytest

from model.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hej, synken funkar inte på skolan sedan i morse", "sv"),
        ("The sync is not working for our school since this morning", "en"),
        ("Hej! Synken har failat igen, can you check the tenant please? Tack", "mixed"),
        ("SSO down??", "unknown"),
    ],
)
def test_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected
