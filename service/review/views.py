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
from service.review.live_precision import LivePrecision
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
    """One line of the queue table; an audit's row carries no trace of the model's view."""

    id: int
    ticket_id: str
    subject: str
    audit: bool
    label: str
    label_name: str
    confidence: float
    share: str
    age: str
    held_by_you: bool


def queue_rows(items: Sequence[ReviewItem], reviewer: str, language: str, t: Translate, now: datetime) -> list[QueueRow]:
    """The queue table's rows, in the store's order."""
    return [QueueRow(
        id=item.id, ticket_id=item.ticket_id, subject=item.subject.strip() or t("no_subject"), audit=item.audit,
        label="" if item.is_blind else item.model_label, label_name="" if item.is_blind else label_name(item.model_label, language),
        confidence=0.0 if item.is_blind else item.confidence, share="" if item.is_blind else percent(item.confidence, language),
        age=age_text(t, item.created_at, now) or t("age_now"),
        held_by_you=item.claimed_by == reviewer and item.claimed_until is not None and item.claimed_until > now,
    ) for item in items]


@dataclass(frozen=True)
class LiveRow:
    """One label's live precision on the queue page."""

    label: str
    name: str
    text: str
    state: str  # "none" (no audits yet), "below" (under the target), "ok"


def live_rows(live: LivePrecision, labels: Sequence[str], language: str, t: Translate) -> list[LiveRow]:
    """Live precision per label of the model in service, in the model's label order."""
    rows = []
    for label in labels:
        p = live.per_label.get(label)
        if p is None or p.precision is None or p.lower is None or p.upper is None:
            rows.append(LiveRow(label, label_name(label, language), t("live_none"), "none"))
            continue
        text = t("live_text", share=percent(p.precision, language), lower=percent(p.lower, language), upper=percent(p.upper, language),
                 correct=p.correct, n=p.audits)
        rows.append(LiveRow(label, label_name(label, language), text, "below" if p.below(live.target) else "ok"))
    return rows


@dataclass(frozen=True)
class LabelView:
    """Everything the ticket page shows about one label (for an undecided audit: no probability, no terms)."""

    label: str
    name: str
    css: str
    probability: float
    share: str
    shortcuts: tuple[str, ...]
    next_step: NextStep
    terms: list[str]
    steps_open: bool  # the next steps shown unfolded: the model's label's, never an undecided audit's


@dataclass(frozen=True)
class ItemView:
    """The ticket page's content for one item.

    For an undecided audit (`blind`), nothing of the model's view is computed: no highlighted
    terms, no probabilities, no guess. Once decided, `audit_outcome` says whether the model agreed.
    """

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
    blind: bool
    audit_outcome: str | None


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


def audit_outcome(item: ReviewItem, language: str, t: Translate) -> str | None:
    """For a decided audit, whether the model agreed with the agent and where it had routed the ticket; else None."""
    if not item.audit or item.decided_label is None:
        return None
    values = {"model": label_name(item.model_label, language), "share": percent(item.confidence, language),
              "label": label_name(item.decided_label, language)}
    return t("audit_agreed" if item.model_agreed else "audit_disagreed", **values)


def item_view(item: ReviewItem, model: TriageModel, next_steps: NextSteps, reviewer: str, language: str, t: Translate,
              now: datetime) -> ItemView:
    """The ticket page for an item: its text with the model's strongest terms marked, and each label's facts."""
    blind = item.is_blind
    explanation: list[dict[str, object]] = []
    if not blind:
        explained = model.predict([ticket_text(item.subject, item.body)], explain=True, top_k=HIGHLIGHT_TERMS)[0].explanation
        explanation = [e for e in explained if len(str(e["term"])) >= MIN_TERM_CHARS]
    css = label_classes(model.labels)
    shortcuts = label_shortcuts(model.labels)
    labels = [LabelView(
        label=label, name=label_name(label, language), css=css[label], probability=0.0 if blind else item.probabilities.get(label, 0.0),
        share="" if blind else percent(item.probabilities.get(label, 0.0), language), shortcuts=shortcuts[label],
        next_step=next_steps.for_route(label, item.language), terms=[str(e["term"]) for e in explanation if e["label"] == label],
        steps_open=not blind and label == item.model_label,
    ) for label in model.labels]
    kind, text, decidable = _status(item, reviewer, language, t, now)
    age = age_text(t, item.created_at, now)
    return ItemView(
        item=item, subject=highlight(item.subject, explanation), body=highlight(item.body, explanation), labels=labels, css=css,
        model_label_name="" if blind else label_name(item.model_label, language), model_share="" if blind else percent(item.confidence, language),
        status=text, status_kind=kind, decidable=decidable, received=t("received", age=age) if age else t("received_now"),
        language=t(f"language_{item.language}") if item.language in LANGUAGES else item.language,
        explained_by=model.version, blind=blind, audit_outcome=audit_outcome(item, language, t),
    )
