"""Every text of the agents' review page, in Swedish and English, and the labels' display names.

Templates ask for a text by key (`t("queue_title")`); placeholders are filled with
`str.format`. Swedish is the default language. A label the model may learn later but that has
no entry in LABEL_NAMES is shown by its own name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

LabelNames = dict[str, dict[str, str]]

LABEL_NAMES: LabelNames = {
    "support": {"sv": "Support", "en": "Support"},
    "delivery": {"sv": "Leveransuppgift", "en": "Delivery"},
}
# Keyboard shortcuts per label; labels without one get their position's digit (1, 2, ...).
LABEL_SHORTCUTS: dict[str, tuple[str, ...]] = {"support": ("s",), "delivery": ("l", "d")}
NEXT_KEYS = ("j", "n")
PREVIOUS_KEYS = ("k",)
HELP_KEY = "?"

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "app_title": "Granskning av ärenden",
        "skip_link": "Hoppa till innehållet",
        "signed_in_as": "Inloggad som {name}",
        "sign_out": "Logga ut",
        "switch_language": "In English",
        "status_region": "Meddelanden",
        "sign_in_title": "Logga in för att granska ärenden",
        "sign_in_intro": "Ange din granskarnyckel och ditt namn. Namnet sparas med dina beslut.",
        "sign_in_intro_open": "Tjänsten körs utan nycklar på den här datorn, så du anger bara ditt namn. Namnet sparas med dina beslut.",
        "field_key": "Granskarnyckel",
        "field_name": "Ditt namn",
        "sign_in_button": "Logga in",
        "error_missing_key": "Ange din granskarnyckel.",
        "error_bad_key": "Nyckeln gäller inte för granskning. Kontrollera den, eller be om en nyckel med rollen review.",
        "error_name": "Ange ditt namn (högst {max} tecken).",
        "signed_out": "Du är utloggad.",
        "sign_in_needed": "Logga in för att fortsätta.",
        "queue_title": "Granskningskö",
        "queue_count_one": "1 ärende väntar på beslut.",
        "queue_count_many": "{n} ärenden väntar på beslut.",
        "queue_empty": "Kön är tom. Nya osäkra ärenden hamnar här.",
        "queue_caption": "Osäkraste ärendet först, sedan äldsta; stickprov sist, äldsta först",
        "open_next": "Öppna nästa ärende",
        "col_ticket": "Ärende",
        "col_model": "Modellens bedömning",
        "col_age": "Ålder",
        "col_status": "Status",
        "col_action": "Åtgärd",
        "open": "Öppna",
        "open_ticket": "Öppna ärende {ticket}",
        "held_by_you": "Hålls av dig",
        "free": "Ledigt",
        "no_subject": "(inget ämne)",
        "page_previous": "Föregående sida",
        "page_next": "Nästa sida",
        "page_of": "Sida {page} av {pages}",
        "agreement_heading": "Modellen och granskarna",
        "agreement_text": "Granskarna höll med modellen i {share} av {n} beslut.",
        "agreement_none": "Inga beslut ännu.",
        "audit_tag": "Stickprov",
        "audit_hidden": "modellens bedömning visas efter ditt beslut",
        "audit_blind_note": "Stickprov: modellen skickade det här ärendet vidare själv. Bedöm det utan modellens bedömning; "
                            "den visas när ditt beslut är sparat.",
        "audit_decide_hint": "Välj vad ärendet är. Sedan visas vad modellen valde.",
        "audit_outcome_heading": "Stickprov: modellens bedömning",
        "audit_agreed": "Modellen höll med: den skickade ärendet själv till {model} ({share}).",
        "audit_disagreed": "Modellen höll inte med: den skickade ärendet själv till {model} ({share}), du valde {label}. "
                           "Flytta ärendet till rätt kö i helpdesken.",
        "live_heading": "Automatisk routning, mätt med stickprov",
        "live_intro": "Andel rätt bland stickproven av ärenden som modellen i drift skickade själv, de senaste {days} dygnen, "
                      "med 95\u00a0% konfidensintervall. Mål: {target}. Stickprov som väntar på beslut: {n}.",
        "live_text": "{share} rätt ({lower}–{upper}), {correct} av {n} stickprov",
        "live_none": "inga avgjorda stickprov ännu",
        "live_below": "under målet",
        "age_now": "nyss",
        "age_minutes": "{n} min",
        "age_hours": "{n} tim",
        "age_days": "{n} dygn",
        "back_to_queue": "Tillbaka till kön",
        "ticket_heading": "Ärende {ticket}",
        "received": "Inkom för {age} sedan",
        "received_now": "Inkom nyss",
        "meta_language": "Språk",
        "meta_model": "Köades av modell",
        "status_yours": "Du håller ärendet i {minutes} min till; sedan går det tillbaka till kön.",
        "status_other": "{name} håller ärendet i {minutes} min till. Välj gärna ett annat ärende.",
        "status_free": "Ingen håller ärendet just nu.",
        "status_decided": "Redan avgjort: {name} valde {label}.",
        "text_heading": "Ärendets text",
        "legend_heading": "Markerade ord",
        "legend_item": "Drar mot {label}",
        "legend_note": "Orden som påverkade modellen mest (modell {version}).",
        "probabilities_heading": "Modellens sannolikheter",
        "model_guess": "Modellen lutar åt {label} ({share}).",
        "decide_heading": "Ditt beslut",
        "decide_hint": "Välj vad ärendet är. Nästa ärende öppnas direkt efter.",
        "note_label": "Anteckning (valfri)",
        "note_hint": "Till exempel varför. E-postadresser, telefonnummer och personnummer tas bort.",
        "next_ticket": "Nästa",
        "previous_ticket": "Föregående",
        "next_steps_heading": "Vad som händer sedan",
        "next_steps_for": "Om det är {label}",
        "customer_message": "Svar till kunden",
        "help_summary": "Kortkommandon",
        "help_decide": "Besluta: {label}",
        "help_next": "Nästa ärende",
        "help_previous": "Föregående ärende",
        "help_help": "Visa eller dölj den här hjälpen",
        "help_escape": "Lämna anteckningsfältet",
        "decided_ok": "Sparat: ärende {ticket} är {label}.",
        "conflict_decided": "Ärende {ticket} är redan avgjort av {name} ({label}). Ditt beslut sparades inte.",
        "conflict_claimed": "{name} arbetar med ärende {ticket} just nu. Ditt beslut sparades inte; välj ett annat ärende.",
        "not_found": "Ärende {ticket} finns inte i kön.",
        "queue_done": "Inga fler ärenden i kön.",
        "store_down": "Granskningsdatabasen svarar inte just nu. Inget sparades; försök igen om en stund.",
        "bad_label": "Okänt beslut. Välj en av beslutsknapparna.",
        "note_too_long": "Anteckningen får vara högst {max} tecken.",
        "csrf_title": "Formuläret kunde inte skickas",
        "csrf_text": "Formuläret saknade en giltig säkerhetstoken. Sidan kan ha varit öppen länge, eller så kom formuläret från en annan webbplats.",
        "csrf_action": "Öppna granskningen igen och försök en gång till.",
        "error_title": "Något gick fel",
        "language_sv": "svenska",
        "language_en": "engelska",
        "language_mixed": "blandat svenska och engelska",
        "language_unknown": "okänt",
    },
    "en": {
        "app_title": "Ticket review",
        "skip_link": "Skip to content",
        "signed_in_as": "Signed in as {name}",
        "sign_out": "Sign out",
        "switch_language": "På svenska",
        "status_region": "Messages",
        "sign_in_title": "Sign in to review tickets",
        "sign_in_intro": "Enter your reviewer key and your name. Your name is recorded with your decisions.",
        "sign_in_intro_open": "The service runs without keys on this computer, so just enter your name. Your name is recorded with your decisions.",
        "field_key": "Reviewer key",
        "field_name": "Your name",
        "sign_in_button": "Sign in",
        "error_missing_key": "Enter your reviewer key.",
        "error_bad_key": "That key is not valid for reviewing. Check it, or ask for a key with the review role.",
        "error_name": "Enter your name (at most {max} characters).",
        "signed_out": "You are signed out.",
        "sign_in_needed": "Sign in to continue.",
        "queue_title": "Review queue",
        "queue_count_one": "1 ticket is waiting for a decision.",
        "queue_count_many": "{n} tickets are waiting for a decision.",
        "queue_empty": "The queue is empty. New uncertain tickets will appear here.",
        "queue_caption": "Most uncertain ticket first, then oldest; spot checks last, oldest first",
        "open_next": "Open the next ticket",
        "col_ticket": "Ticket",
        "col_model": "Model's guess",
        "col_age": "Age",
        "col_status": "Status",
        "col_action": "Action",
        "open": "Open",
        "open_ticket": "Open ticket {ticket}",
        "held_by_you": "Held by you",
        "free": "Free",
        "no_subject": "(no subject)",
        "page_previous": "Previous page",
        "page_next": "Next page",
        "page_of": "Page {page} of {pages}",
        "agreement_heading": "Model and reviewers",
        "agreement_text": "Reviewers agreed with the model in {share} of {n} decisions.",
        "agreement_none": "No decisions yet.",
        "audit_tag": "Spot check",
        "audit_hidden": "the model's view is shown after your decision",
        "audit_blind_note": "Spot check: the model routed this ticket by itself. Decide it without the model's view; "
                            "it is shown once your decision is saved.",
        "audit_decide_hint": "Choose what the ticket is. Then you see what the model chose.",
        "audit_outcome_heading": "Spot check: the model's view",
        "audit_agreed": "The model agreed: it routed the ticket to {model} by itself ({share}).",
        "audit_disagreed": "The model disagreed: it routed the ticket to {model} by itself ({share}); you chose {label}. "
                           "Move the ticket to the right queue in the helpdesk.",
        "live_heading": "Automatic routing, measured by spot checks",
        "live_intro": "Share right among spot checks of tickets the model in service routed by itself, over the last {days} days, "
                      "with a 95% confidence interval. Target: {target}. Spot checks waiting for a decision: {n}.",
        "live_text": "{share} right ({lower}–{upper}), {correct} of {n} spot checks",
        "live_none": "no decided spot checks yet",
        "live_below": "below target",
        "age_now": "just now",
        "age_minutes": "{n} min",
        "age_hours": "{n} h",
        "age_days": "{n} d",
        "back_to_queue": "Back to the queue",
        "ticket_heading": "Ticket {ticket}",
        "received": "Received {age} ago",
        "received_now": "Received just now",
        "meta_language": "Language",
        "meta_model": "Queued by model",
        "status_yours": "You hold this ticket for {minutes} more min; then it returns to the queue.",
        "status_other": "{name} holds this ticket for {minutes} more min. Consider picking another ticket.",
        "status_free": "Nobody holds this ticket right now.",
        "status_decided": "Already decided: {name} chose {label}.",
        "text_heading": "Ticket text",
        "legend_heading": "Highlighted words",
        "legend_item": "Pulling towards {label}",
        "legend_note": "The words that swayed the model most (model {version}).",
        "probabilities_heading": "The model's probabilities",
        "model_guess": "The model leans towards {label} ({share}).",
        "decide_heading": "Your decision",
        "decide_hint": "Choose what the ticket is. The next ticket opens right after.",
        "note_label": "Note (optional)",
        "note_hint": "For example why. E-mail addresses, phone numbers and personnummer are removed.",
        "next_ticket": "Next",
        "previous_ticket": "Previous",
        "next_steps_heading": "What happens next",
        "next_steps_for": "If it is {label}",
        "customer_message": "Reply to the customer",
        "help_summary": "Keyboard shortcuts",
        "help_decide": "Decide: {label}",
        "help_next": "Next ticket",
        "help_previous": "Previous ticket",
        "help_help": "Show or hide this help",
        "help_escape": "Leave the note field",
        "decided_ok": "Saved: ticket {ticket} is {label}.",
        "conflict_decided": "Ticket {ticket} was already decided by {name} ({label}). Your decision was not saved.",
        "conflict_claimed": "{name} is working on ticket {ticket} right now. Your decision was not saved; pick another ticket.",
        "not_found": "Ticket {ticket} is not in the queue.",
        "queue_done": "No more tickets in the queue.",
        "store_down": "The review database is not answering right now. Nothing was saved; try again in a moment.",
        "bad_label": "Unknown decision. Use one of the decision buttons.",
        "note_too_long": "The note may be at most {max} characters.",
        "csrf_title": "The form could not be sent",
        "csrf_text": "The form had no valid security token. The page may have been open for a long time, or the form came from another site.",
        "csrf_action": "Open the review page again and try once more.",
        "error_title": "Something went wrong",
        "language_sv": "Swedish",
        "language_en": "English",
        "language_mixed": "mixed Swedish and English",
        "language_unknown": "unknown",
    },
}


def translator(language: str) -> Callable[..., str]:
    """`t(key, **values)` for one interface language; an unknown language falls back to Swedish."""
    texts = TEXTS.get(language, TEXTS["sv"])

    def t(key: str, **values: object) -> str:
        return texts[key].format(**values) if values else texts[key]

    return t


def label_name(label: str, language: str) -> str:
    """A label's display name in the interface language."""
    return LABEL_NAMES.get(label, {}).get(language, label)


def label_shortcuts(labels: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The keys that decide each label: its configured letters, else its position's digit."""
    return {label: LABEL_SHORTCUTS.get(label, (str(i),) if i <= 9 else ()) for i, label in enumerate(labels, start=1)}
