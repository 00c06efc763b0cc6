"""The agents' review page under `/review`: sign in, see the queue, open a ticket, decide it, move on.

Every POST carries the session's CSRF token and answers with a redirect (or, when the decision
was refused, the ticket page with the reason and status 409). Opening a ticket claims it, so
other agents see it is taken; the claim lapses after `TRIAGE_CLAIM_TTL_SECONDS`.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response

from service.auth import key_digest
from service.db.errors import StoreError
from service.review.errors import ClaimConflict, DecisionConflict, ItemNotFound
from service.review.items import NAME_LENGTH, NOTE_LENGTH, ReviewItem
from service.review.queue import Direction, claim_neighbour, refresh_agreement
from service.review.session import LANGUAGES, OPEN_MODE, key_fingerprint
from service.review.texts import label_name
from service.review.views import item_view, label_classes, minutes_left, percent, queue_rows
from service.review.web import QUEUE_URL, SIGN_IN_URL, FormPageDep, Page, PageDep, PageError, ReviewerFormPageDep, ReviewerPageDep
from service.throttle import client_address

log = logging.getLogger("triage.review")
router = APIRouter(include_in_schema=False)
QUEUE_PAGE_SIZE = 25


def _store_down() -> PageError:
    return PageError(503, "store_down")


def _go_to(page: Page, item: ReviewItem | None) -> Response:
    if item is None:
        return page.redirect(QUEUE_URL)
    return page.redirect(f"{QUEUE_URL}/items/{item.id}")


@router.get(SIGN_IN_URL)
def sign_in_form(page: PageDep) -> Response:
    """The sign-in form (only a name when the service runs without API keys)."""
    if page.session.signed_in_with(page.services.keys):
        return page.redirect(QUEUE_URL)
    return page.render("sign_in.html", open_mode=page.services.keys.open, name="", errors={})


@router.post(SIGN_IN_URL)
def sign_in(page: FormPageDep) -> Response:
    """Check the reviewer key (role `review`) and the name, then open the queue."""
    ring, t = page.services.keys, page.t
    name, key = page.field("name").strip(), page.field("key").strip()
    errors: dict[str, str] = {}
    if not 1 <= len(name) <= NAME_LENGTH:
        errors["name"] = t("error_name", max=NAME_LENGTH)
    fingerprint = OPEN_MODE
    if not ring.open:
        failures, address = page.services.auth_failures, client_address(page.request.scope)
        wait = failures.retry_after(address) if key else None
        roles = ring.roles_of(key) if key and wait is None else None
        if not key:
            errors["key"] = t("error_missing_key")
        elif wait is not None:  # no key is checked while the address is turned away, so guessing gains nothing
            log.warning("review page sign-in refused", extra={"fields": {"reason": "too many wrong keys"}})
            response = page.render("sign_in.html", status=429, open_mode=False, name=name, errors={"key": t("error_too_many", seconds=wait)})
            response.headers["Retry-After"] = str(wait)
            return response
        elif roles is None or "review" not in roles:
            failures.record(address)
            errors["key"] = t("error_bad_key")
        else:
            fingerprint = key_fingerprint(key_digest(key))
    if errors:
        if "key" in errors:  # repeated refusals may be someone guessing keys; the key itself is never logged
            log.warning("review page sign-in refused", extra={"fields": {"reason": "no key" if not key else "not a review key"}})
        return page.render("sign_in.html", status=401 if "key" in errors else 422, open_mode=ring.open, name=name, errors=errors)
    page.session.sign_in(name, fingerprint)
    return page.redirect(QUEUE_URL)


@router.post("/review/sign-out")
def sign_out(page: FormPageDep) -> Response:
    """Forget the reviewer in this browser."""
    page.session.sign_out()
    page.session.say("info", page.t("signed_out"))
    return page.redirect(SIGN_IN_URL)


@router.post("/review/language")
def switch_language(page: FormPageDep) -> Response:
    """Switch the interface between Swedish and English and return to the page the agent was on."""
    language = page.field("language")
    if language in LANGUAGES:
        page.session.language = language
    back = page.field("next")
    local = back.startswith("/review") and not back.startswith("//") and "\\" not in back
    return page.redirect(back if local else QUEUE_URL)


@router.get(QUEUE_URL)
def queue(page: ReviewerPageDep) -> Response:
    """The pending tickets, most uncertain first, with the model's guess and age."""
    raw = page.request.query_params.get("page", "1")
    number = int(raw) if raw.isdigit() and int(raw) >= 1 else 1
    store, now = page.services.review.store, datetime.now(UTC)
    try:
        total = store.count_pending(reviewer=page.reviewer)
        pages = max(1, math.ceil(total / QUEUE_PAGE_SIZE))
        number = min(number, pages)
        items = store.list_pending(limit=QUEUE_PAGE_SIZE, offset=(number - 1) * QUEUE_PAGE_SIZE, reviewer=page.reviewer)
        agreement = store.agreement()
    except StoreError:
        raise _store_down() from None
    share = None if agreement["agreement"] is None else percent(agreement["agreement"], page.session.language)
    return page.render("queue.html", rows=queue_rows(items, page.reviewer, page.session.language, page.t, now),
                       label_css=label_classes(page.services.holder.current.labels), here=f"{QUEUE_URL}?page={number}",
                       total=total, page_number=number, pages=pages, agreement_share=share, decisions=agreement["count"])


@router.post("/review/items/{item_id:int}/claim")
def claim(item_id: int, page: ReviewerFormPageDep) -> Response:
    """Open a ticket from the queue: claim it for this reviewer and show it."""
    t, language = page.t, page.session.language
    try:
        item = page.services.review.store.claim(item_id, page.reviewer)
    except ItemNotFound:
        page.session.say("error", t("not_found", ticket=item_id))
        return page.redirect(QUEUE_URL)
    except DecisionConflict as e:
        page.session.say("error", t("status_decided", name=e.decided_by, label=label_name(e.decided_label or "", language)))
        return page.redirect(QUEUE_URL)
    except ClaimConflict as e:
        left = minutes_left(e.claimed_until, datetime.now(UTC)) if e.claimed_until else 1
        page.session.say("error", t("status_other", name=e.claimed_by, minutes=left))
        return page.redirect(QUEUE_URL)
    except StoreError:
        raise _store_down() from None
    return _go_to(page, item)


@router.post("/review/next")
def next_item(page: ReviewerFormPageDep) -> Response:
    """Open the next (or previous) pending ticket after the one the agent was on."""
    store = page.services.review.store
    direction: Direction = "previous" if page.field("direction") == "previous" else "next"
    after_id = page.field("after")
    try:
        after = store.get(int(after_id)) if after_id.isdigit() else None
    except ItemNotFound:
        after = None
    except StoreError:
        raise _store_down() from None
    try:
        item = claim_neighbour(store, page.reviewer, after, direction)
        if after is not None and (item is None or item.id != after.id):
            store.release(after.id, page.reviewer)  # skipped: back to the queue for the others now
    except StoreError:
        raise _store_down() from None
    if item is None:
        page.session.say("info", page.t("queue_done"))
    return _go_to(page, item)


def _render_item(page: Page, item: ReviewItem, status: int = 200, flash: tuple[str, str] | None = None) -> Response:
    view = item_view(item, page.services.holder.current, page.services.next_steps, page.reviewer, page.session.language,
                     page.t, datetime.now(UTC))
    return page.render("item.html", status=status, view=view, flash=flash, note_max=NOTE_LENGTH, here=f"{QUEUE_URL}/items/{item.id}")


@router.get("/review/items/{item_id:int}")
def show_item(item_id: int, page: ReviewerPageDep) -> Response:
    """A ticket: its text with the model's strongest words marked, the probabilities, next steps and the decision form."""
    try:
        item = page.services.review.store.get(item_id)
    except ItemNotFound:
        raise PageError(404, "not_found", ticket=item_id) from None
    except StoreError:
        raise _store_down() from None
    return _render_item(page, item)


@router.post("/review/items/{item_id:int}/decide")
def decide(item_id: int, page: ReviewerFormPageDep) -> Response:
    """Record the reviewer's label, then open the next ticket; a refused decision shows the ticket and why (409)."""
    services, t, language = page.services, page.t, page.session.language
    store, labels = services.review.store, services.holder.current.labels
    label, note = page.field("label"), page.field("note").strip()
    if label not in labels:
        raise PageError(422, "bad_label")
    if len(note) > NOTE_LENGTH:
        raise PageError(422, "note_too_long", max=NOTE_LENGTH)
    try:
        item = store.decide(item_id, label, page.reviewer, note=note or None, allowed_labels=labels)
    except ItemNotFound:
        raise PageError(404, "not_found", ticket=item_id) from None
    except (DecisionConflict, ClaimConflict) as e:
        try:
            current = store.get(item_id)
        except StoreError:
            raise _store_down() from None
        if isinstance(e, DecisionConflict):
            message = t("conflict_decided", ticket=current.ticket_id, name=e.decided_by, label=label_name(e.decided_label or "", language))
        else:
            message = t("conflict_claimed", ticket=current.ticket_id, name=e.claimed_by)
        return _render_item(page, current, status=409, flash=("error", message))
    except StoreError:
        raise _store_down() from None
    refresh_agreement(store, services.metrics)
    page.session.say("ok", t("decided_ok", ticket=item.ticket_id, label=label_name(label, language)))
    try:
        following = claim_neighbour(store, page.reviewer, item, "next")
    except StoreError:
        following = None  # the decision is stored; the queue page will say if the database is down
    return _go_to(page, following)
