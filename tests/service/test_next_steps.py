"""The editable next-steps file: loaded and checked at start-up, one text per route and language."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.next_steps import DEFAULT_FILE, MESSAGE_LANGUAGE, load_next_steps


def test_shipped_file_covers_every_route_with_both_message_languages() -> None:
    steps = load_next_steps(DEFAULT_FILE)
    steps.check_covers(["delivery", "support"])
    for language in MESSAGE_LANGUAGE:
        delivery = steps.for_route("delivery", language)
        assert delivery.customer_message is not None and delivery.customer_message.language == MESSAGE_LANGUAGE[language], language
    assert steps.for_route("delivery", "mixed").customer_message.text.startswith("Hej"), "mixed Swedish/English tickets get Swedish"
    assert steps.for_route("delivery", "unknown").customer_message.text.startswith("Hello"), "an unknown language gets English"
    assert steps.for_route("review", "sv").customer_message is None, "review has no customer message"


@pytest.mark.parametrize(("text", "fragment"), [
    ("[support\n", "not valid TOML"),
    ('[support]\naction = "a"\nqueue = "q"\nsteps = []\n', "section [support]: steps"),
    ('[support]\naction = "a"\nqueue = "q"\nsteps = ["s"]\ncolour = "red"\n', "colour"),
    ('[delivery]\naction = "a"\nqueue = "q"\nsteps = ["s"]\n[delivery.customer_message]\nsv = "Hej"\n', "customer_message.en: Field required"),
])
def test_malformed_files_say_what_to_fix(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "steps.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_next_steps(path)
    assert fragment in str(caught.value), f"expected '{fragment}' in: {caught.value}"


def test_missing_sections_are_named(tmp_path: Path) -> None:
    path = tmp_path / "steps.toml"
    path.write_text('[support]\naction = "a"\nqueue = "q"\nsteps = ["s"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no section for delivery, review"):
        load_next_steps(path).check_covers(["delivery", "support"])
    with pytest.raises(ValueError, match="cannot be read"):
        load_next_steps(tmp_path / "missing.toml")


def test_steps_may_be_given_per_language(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from service.next_steps import load_next_steps

    path = tmp_path / "steps.toml"
    path.write_text(
        '[support]\naction = "s"\nqueue = "s"\nsteps = ["one list for both"]\n'
        '[delivery]\naction = "d"\nqueue = "d"\n[delivery.steps]\nsv = ["Stäng ärendet."]\nen = ["Close the ticket."]\n',
        encoding="utf-8",
    )
    steps = load_next_steps(path)
    assert steps.for_route("delivery", "sv").steps == ["Stäng ärendet."], "a Swedish ticket gets the Swedish steps"
    assert steps.for_route("delivery", "mixed").steps == ["Stäng ärendet."], "a mixed ticket gets the Swedish steps"
    assert steps.for_route("delivery", "en").steps == ["Close the ticket."]
    assert steps.for_route("support", "sv").steps == ["one list for both"]
