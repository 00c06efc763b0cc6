"""What the review pages show, computed from stored items and the model in service.

Templates only lay these out; ages, shares, claim states, highlighted text and the next steps
per label are worked out here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from model.language import LANGUAGES
from model.predictor import TriageModel
from model.text import ticket_text
from service.next_steps import NextStep, NextSteps
from service.review.highlight import Segment, highlight
from service.review.items import ReviewItem
from service.review.texts import label_name, label_shortcuts

HIGHLIGHT_TERMS = 6  # terms per label marked in the ticket: enough to see why, few enough to read
MIN_TERM_CHARS = 2  # a single letter (the "n" of "OU:n") marked in the text tells an agent nothing
Translate = Callable[..., str]


def percent(share: float, language: str) -> str:
    """A share as a whole percentage, written the way the interface language writes it."""
    value = round(100 * share)
    return f"{value}\u00a0%" if language == "sv" else f"{value}%"


def label_classes(labels: Sequence[str]) -> dict[str, str]:
    """The CSS class of each label (its colour in highlights, buttons and bars), by its position."""
    return {label: f"label-{i}" for i, label in enumerate(labels)}


def age_text(t: Translate, since: datetime, now: datetime) -> str:
    """How long ago `since` was, coarsely: minutes, hours or days ('' under a minute)."""
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 1:
        return ""
    if minutes < 60:
        return str(t("age_minutes", n=minutes))
    if minutes < 48 * 60:
        return str(t("age_hours", n=minutes // 60))
    return str(t("age_days", n=minutes // (24 * 60)))


def minutes_left(until: datetime, now: datetime) -> int:
    """Whole minutes until `until`, rounded up (a claim with 20 s left still shows 1 min)."""
    return max(1, math.ceil((until - now).total_seconds() / 60))


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue table."""

    id: int
    ticket_id: str
    subject: str
    label: str
    label_name: str
    confidence: float
    share: str
    age: str
    held_by_you: bool


def queue_rows(items: Sequence[ReviewItem], reviewer: str, language: str, t: Translate, now: datetime) -> list[QueueRow]:
    """The queue table's rows, in the store's order."""
    return [QueueRow(
        id=item.id, ticket_id=item.ticket_id, subject=item.subject.strip() or t("no_subject"), label=item.model_label,
        label_name=label_name(item.model_label, language), confidence=item.confidence, share=percent(item.confidence, language),
        age=age_text(t, item.created_at, now) or t("age_now"),
        held_by_you=item.claimed_by == reviewer and item.claimed_until is not None and item.claimed_until > now,
    ) for item in items]


@dataclass(frozen=True)
class LabelView:
    """Everything the ticket page shows about one label."""

    label: str
    name: str
    css: str
    probability: float
    share: str
    shortcuts: tuple[str, ...]
    next_step: NextStep
    terms: list[str]


@dataclass(frozen=True)
class ItemView:
    """The ticket page's content for one item."""

    item: ReviewItem
    subject: list[Segment]
    body: list[Segment]
    labels: list[LabelView]
    css: dict[str, str]
    model_label_name: str
    model_share: str
    status: str
    status_kind: str
    decidable: bool
    received: str
    language: str
    explained_by: str


def _status(item: ReviewItem, reviewer: str, language: str, t: Translate, now: datetime) -> tuple[str, str, bool]:
    """The claim/decision state as (kind, text, whether this reviewer can decide the item now)."""
    if item.decided_label is not None:
        return "done", t("status_decided", name=item.decided_by, label=label_name(item.decided_label, language)), False
    if item.claimed_by is not None and item.claimed_until is not None and item.claimed_until > now:
        left = minutes_left(item.claimed_until, now)
        if item.claimed_by == reviewer:
            return "yours", t("status_yours", minutes=left), True
        return "other", t("status_other", name=item.claimed_by, minutes=left), False
    return "free", t("status_free"), True


def item_view(item: ReviewItem, model: TriageModel, next_steps: NextSteps, reviewer: str, language: str, t: Translate,
              now: datetime) -> ItemView:
    """The ticket page for an item: its text with the model's strongest terms marked, and each label's facts."""
    explained = model.predict([ticket_text(item.subject, item.body)], explain=True, top_k=HIGHLIGHT_TERMS)[0].explanation
    explanation = [e for e in explained if len(str(e["term"])) >= MIN_TERM_CHARS]
    css = label_classes(model.labels)
    shortcuts = label_shortcuts(model.labels)
    labels = [LabelView(
        label=label, name=label_name(label, language), css=css[label], probability=item.probabilities.get(label, 0.0),
        share=percent(item.probabilities.get(label, 0.0), language), shortcuts=shortcuts[label],
        next_step=next_steps.for_route(label, item.language), terms=[str(e["term"]) for e in explanation if e["label"] == label],
    ) for label in model.labels]
    kind, text, decidable = _status(item, reviewer, language, t, now)
    age = age_text(t, item.created_at, now)
    return ItemView(
        item=item, subject=highlight(item.subject, explanation), body=highlight(item.body, explanation), labels=labels, css=css,
        model_label_name=label_name(item.model_label, language), model_share=percent(item.confidence, language),
        status=text, status_kind=kind, decidable=decidable, received=t("received", age=age) if age else t("received_now"),
        language=t(f"language_{item.language}") if item.language in LANGUAGES else item.language,
        explained_by=model.version,
    )
