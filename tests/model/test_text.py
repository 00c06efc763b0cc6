from model.text import TextCleaner, clean_text, is_usable, strip_quoted_reply, strip_signature, ticket_text


def test_html_is_reduced_to_text() -> None:
    cleaned = clean_text("<div><p>Synken&nbsp;har <b>stannat</b></p><br>Kan ni titta?</div>")
    assert cleaned == "Synken har stannat\nKan ni titta?", "tags and entities removed, blocks become lines"


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
    assert clean_text(ticket_text("SV: VB: RE: Synken", "stannat")) == "Synken\nstannat"


def test_error_codes_survive_but_long_standalone_numbers_do_not() -> None:
    assert clean_text("AADSTS50105 i ärende 8812345") == "AADSTS50105 i ärende NUM"


def test_non_text_input_becomes_empty() -> None:
    assert clean_text(None) == "" and clean_text(3.5) == ""
    assert not is_usable("   <p>&nbsp;</p>  ")
    assert is_usable("funkar inte")


def test_cleaner_step_is_stateless_and_maps_every_row() -> None:
    assert TextCleaner().fit_transform(["a <b>b</b>", None]) == ["a b", ""]
