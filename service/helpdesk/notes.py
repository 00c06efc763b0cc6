"""The private notes the connector writes, in the ticket's language (Swedish for Swedish and mixed
tickets, English otherwise, as the customer messages of service/next_steps.toml).

Each note ends with a marker naming the job, which is how an interrupted job recognises a note it
already wrote. Notes name route, label, confidence, the decisive phrases and the model version.
"""

from __future__ import annotations

from typing import Any

from service.next_steps import MESSAGE_LANGUAGE

_LABELS = {
    "sv": {"support": "supportärende", "delivery": "leveransuppgift", "review": "granskning av en person"},
    "en": {"support": "support case", "delivery": "delivery task", "review": "review by a person"},
}
_TEXTS = {
    "sv": {
        "title": "Triage (automatisk bedömning)",
        "route": "Väg: {route}",
        "label": "Troligast: {label}, säkerhet {confidence:.0%}",
        "terms": "Avgörande formuleringar: {terms}",
        "no_terms": "Avgörande formuleringar: inga enskilda",
        "model": "Modellversion: {version}",
        "review": "Modellen är inte säker nog; ärendet ligger i granskningskön och en person avgör det.",
        "kept": "Ärendet hade redan en typ eller hade ändrats av en person, så bara den här anteckningen lades till.",
        "decided_title": "Triage: granskat av en person",
        "decided": "{reviewer} bedömde ärendet som {label} (modellen trodde {model_label}, säkerhet {confidence:.0%}).",
        "decided_note": "Kommentar: {note}",
        "marker": "ticket-triage, jobb {job}",
    },
    "en": {
        "title": "Triage (automatic assessment)",
        "route": "Route: {route}",
        "label": "Most likely: {label}, confidence {confidence:.0%}",
        "terms": "Decisive phrases: {terms}",
        "no_terms": "Decisive phrases: none stand out",
        "model": "Model version: {version}",
        "review": "The model is not confident enough; the ticket is in the review queue and a person decides it.",
        "kept": "The ticket already had a type or had been changed by a person, so only this note was added.",
        "decided_title": "Triage: reviewed by a person",
        "decided": "{reviewer} judged the ticket a {label} (the model thought {model_label}, confidence {confidence:.0%}).",
        "decided_note": "Comment: {note}",
        "marker": "ticket-triage, job {job}",
    },
}


def note_language(language: str) -> str:
    """`sv` or `en` for a detected ticket language."""
    return MESSAGE_LANGUAGE.get(language, "en")


def label_name(label: str, language: str) -> str:
    """A label or route as words in the note's language (an unknown label as it is)."""
    return _LABELS[note_language(language)].get(label, label)


def marker(job_id: int, language: str) -> str:
    """The line that identifies a job's note."""
    return _TEXTS[note_language(language)]["marker"].format(job=job_id)


def classification_note(result: dict[str, Any], job_id: int, person_kept: bool) -> str:
    """The note for a classified ticket; `person_kept` adds that act mode left a person's ticket alone."""
    language = result["language"]
    t = _TEXTS[note_language(language)]
    lines = [t["title"], t["route"].format(route=label_name(result["route"], language)),
             t["label"].format(label=label_name(result["label"], language), confidence=result["confidence"]),
             t["terms"].format(terms=", ".join(f"“{term}”" for term in result["terms"])) if result["terms"] else t["no_terms"],
             t["model"].format(version=result["model_version"])]
    if result["route"] == "review":
        lines.append(t["review"])
    if person_kept:
        lines.append(t["kept"])
    return "\n".join([*lines, "", marker(job_id, language)])


def decision_note(decision: dict[str, Any], language: str, job_id: int) -> str:
    """The note for an agent's decision on a review item."""
    t = _TEXTS[note_language(language)]
    lines = [t["decided_title"], t["decided"].format(reviewer=decision["reviewer"], label=label_name(decision["label"], language),
                                                     model_label=label_name(decision["model_label"], language), confidence=decision["confidence"])]
    if decision.get("note"):
        lines.append(t["decided_note"].format(note=decision["note"]))
    return "\n".join([*lines, "", marker(job_id, language)])
