"""What a job does to its ticket: classify it and write the result back, according to the mode.

- `suggest`: a private note (route, label, confidence, decisive phrases, model version) and the
  route's tag, merged into the ticket's tags; review-routed tickets go to the review queue.
- `act`: the same, plus the ticket type; review-routed tickets move to the review group; a
  delivery task runs the seed's process: reply to the customer, create the internal delivery
  task (a child ticket in the delivery group), close the ticket.
- A decision job writes an agent's decision on a review item back the same way.

A person is never overwritten: a ticket that already has a type, was changed after the event,
or is no longer open gets only the note (and the merged tags). Every step is recorded in the
job's progress once done; a step that creates something (note, reply, delivery task) is also
recorded as started first, and a job that finds a step started but not done asks the helpdesk
whether it happened before doing it again, so a crash in between never makes it happen twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from model.decision import REVIEW
from model.language import detect_language
from model.predictor import TriageModel
from model.text import clean_text, has_words, ticket_text
from service.helpdesk import notes
from service.helpdesk.base import Connector, HelpdeskTicket, HelpdeskUnavailable, TicketChange
from service.helpdesk.jobs import Job
from service.helpdesk.settings import ConnectorSettings, HelpdeskSettings
from service.metrics import Metrics
from service.next_steps import NextSteps
from service.review import NewReviewItem, ReviewHook

DECISIVE_TERMS = 5  # phrases named in a note
Save = Callable[[dict[str, Any], str | None], None]  # records progress (and the review ticket id) durably


def review_ticket_id(helpdesk: str, ticket_id: str) -> str:
    """The review queue's id of a helpdesk ticket, e.g. `freshdesk:4711`."""
    return f"{helpdesk}:{ticket_id}"


@dataclass
class WriteBack:
    """Everything a job needs: settings, connectors, the model in service, the review queue and the next steps."""

    settings: HelpdeskSettings
    connectors: dict[str, Connector]
    model: Callable[[], TriageModel]
    review: ReviewHook
    next_steps: NextSteps
    metrics: Metrics
    max_ticket_chars: int

    def run(self, job: Job, save: Save) -> dict[str, Any]:
        """Carry the job out from where its progress says it stopped; returns the final progress."""
        progress = dict(job.progress)
        connector = self.connectors[job.helpdesk]
        section: ConnectorSettings = getattr(self.settings, job.helpdesk)
        if "plan" not in progress:
            ticket = connector.fetch(job.ticket_id)
            progress.update(self._plan(job, ticket))
            review_id = None
            if progress.get("result", {}).get("route") == REVIEW:
                review_id = self._send_to_review(job, ticket, progress["result"])
            save(progress, review_id)
        done = progress.setdefault("done", [])
        while pending := [step for step in progress["plan"] if step not in done]:  # a step may shorten the plan
            self._step(pending[0], job, connector, section, progress, save)
            done.append(pending[0])
            save(progress, None)
        return progress

    # --- deciding what to do --------------------------------------------------------------
    def _person_kept(self, ticket: HelpdeskTicket, event_at: datetime, our_type: str | None = None) -> bool:
        """Whether a person has made the ticket theirs: a type set (not ours), a change after the event, or no longer open."""
        grace = timedelta(seconds=self.settings.worker.person_grace_seconds)
        return (ticket.type is not None and ticket.type != our_type) or ticket.updated_at > event_at + grace or not ticket.open

    def _plan(self, job: Job, ticket: HelpdeskTicket) -> dict[str, Any]:
        acting = self.settings.mode == "act"
        if job.kind == "decision":
            decision = job.progress["decision"]
            label, language = decision["label"], detect_language(ticket_text(ticket.subject, ticket.text))
            kept = acting and self._person_kept(ticket, job.event_at)
            steps = ["note", "fields"] + (["reply", "task", "close"] if acting and not kept and label == "delivery" else [])
            return {"plan": steps, "language": language, "route": label, "act": acting and not kept, "person_kept": kept}
        result = self._classify(ticket)
        if result is None:
            return {"plan": [], "skipped": "empty_ticket"}
        kept = acting and self._person_kept(ticket, job.event_at)
        steps = ["note", "fields"] + (["reply", "task", "close"] if acting and not kept and result["route"] == "delivery" else [])
        return {"plan": steps, "result": result, "language": result["language"], "route": result["route"], "act": acting and not kept,
                "person_kept": kept}

    def _classify(self, ticket: HelpdeskTicket) -> dict[str, Any] | None:
        text = ticket_text(ticket.subject, ticket.text)[: self.max_ticket_chars]  # the first part, as /v1/predict asks callers to send
        cleaned = clean_text(text)
        if not has_words(cleaned):
            return None
        model = self.model()
        prediction = model.predict_cleaned([cleaned], explain=True, top_k=DECISIVE_TERMS)[0]
        self.metrics.observe_routes([(prediction.route, prediction.label)], REVIEW)
        terms = [str(e["term"]) for e in prediction.explanation if e["label"] == prediction.label][:DECISIVE_TERMS]
        return {"route": prediction.route, "label": prediction.label, "confidence": prediction.confidence,
                "probabilities": prediction.probabilities, "terms": terms, "language": detect_language(text), "model_version": model.version}

    def _send_to_review(self, job: Job, ticket: HelpdeskTicket, result: dict[str, Any]) -> str:
        review_id = review_ticket_id(job.helpdesk, ticket.id)
        handoff = self.review.submit(NewReviewItem(
            ticket_id=review_id, subject=ticket.subject[: self.max_ticket_chars], body=(ticket.text or ticket.subject)[: self.max_ticket_chars],
            model_label=result["label"], confidence=result["confidence"], probabilities=result["probabilities"],
            model_version=result["model_version"], language=result["language"]))
        if not handoff.queued:
            # The review hook would keep it in memory only; the job is durable, so it is retried instead
            # (queueing again under the same id is harmless).
            raise HelpdeskUnavailable("review_queue_unavailable", "the review queue did not take the ticket; the job is retried")
        return review_id

    # --- doing it --------------------------------------------------------------------------
    def _step(self, step: str, job: Job, connector: Connector, section: ConnectorSettings, progress: dict[str, Any], save: Save) -> None:
        language, route = progress["language"], progress["route"]
        our_type = section.types.for_label(route)
        if step == "note":
            text = (notes.decision_note(progress_decision(job), language, job.id) if job.kind == "decision"
                    else notes.classification_note(progress["result"], job.id, progress["person_kept"]))
            self._once(step, progress, save, lambda: connector.has_note(job.ticket_id, notes.marker(job.id, language)),
                       lambda: connector.add_note(job.ticket_id, text))
        elif step == "fields":
            ticket = connector.fetch(job.ticket_id)  # fresh: the tags are merged with what is there now
            connector.update(job.ticket_id, self._fields(ticket, job, route, our_type, section, progress["act"]))
        elif step in ("reply", "task", "close"):
            self._delivery_step(step, job, connector, section, progress, save, our_type)

    def _fields(self, ticket: HelpdeskTicket, job: Job, route: str, our_type: str | None, section: ConnectorSettings, act: bool) -> TicketChange:
        tags = merge_tags(ticket.tags, add=[self.settings.tags.for_route(route)],
                          remove=[self.settings.tags.review] if job.kind == "decision" else [])
        if not act or ticket.type is not None:  # a type someone set meanwhile stays
            return TicketChange(tags=tags)
        if route == REVIEW:
            return TicketChange(tags=tags, group_id=section.review_group_id)
        return TicketChange(tags=tags, type=our_type)

    def _delivery_step(self, step: str, job: Job, connector: Connector, section: ConnectorSettings, progress: dict[str, Any], save: Save,
                       our_type: str | None) -> None:
        ticket = connector.fetch(job.ticket_id)
        if step == "reply":
            if ticket.type not in (None, our_type) or not ticket.open:
                # A person took the ticket over since the plan was made: leave the rest of the process to them.
                progress["plan"] = [s for s in progress["plan"] if s not in ("reply", "task", "close")]
                progress["person_kept"] = True
                return
            text = self._reply_text(progress["language"])
            self._once(step, progress, save, lambda: connector.has_reply(job.ticket_id, text), lambda: connector.reply(job.ticket_id, text))
        elif step == "task":
            messages, lang = self.settings.messages, notes.note_language(progress["language"])
            subject = getattr(messages.delivery_task_subject, lang).format(subject=ticket.subject, ticket_id=ticket.id)
            body = getattr(messages.delivery_task_body, lang).format(subject=ticket.subject, ticket_id=ticket.id)
            mark = notes.marker(job.id, progress["language"])
            assert section.delivery_group_id is not None  # act mode's settings check requires it

            def create() -> None:
                progress["task_id"] = connector.create_delivery_task(ticket, subject, body, section.delivery_group_id or 0, mark)

            def exists() -> bool:
                found = connector.find_delivery_task(ticket, mark)
                if found is not None:
                    progress["task_id"] = found
                return found is not None

            self._once(step, progress, save, exists, create)
        else:
            connector.close(job.ticket_id)

    def _reply_text(self, language: str) -> str:
        lang = notes.note_language(language)
        configured = self.settings.messages.delivery_reply
        if configured is not None:
            return str(getattr(configured, lang))
        message = self.next_steps.for_route("delivery", language).customer_message
        assert message is not None, "the next-steps file's delivery section needs a customer_message for act mode"
        return message.text

    @staticmethod
    def _once(step: str, progress: dict[str, Any], save: Save, happened: Callable[[], bool], do: Callable[[], None]) -> None:
        """Do a step that creates something exactly once: if an earlier attempt started it, ask the helpdesk first."""
        started = progress.setdefault("started", [])
        if step in started and happened():
            return
        if step not in started:
            started.append(step)
            save(progress, None)
        do()


def progress_decision(job: Job) -> dict[str, Any]:
    """The decision a decision job writes back."""
    return dict(job.progress["decision"])


def merge_tags(current: Iterable[str], add: Iterable[str], remove: Iterable[str] = ()) -> list[str]:
    """The ticket's tags with ours added (and our own stale ones taken away), in their order; never anyone else's removed."""
    removed = {t.lower() for t in remove} - {t.lower() for t in add}
    tags = [t for t in current if t.lower() not in removed]
    present = {t.lower() for t in tags}
    return tags + [t for t in add if t.lower() not in present]
