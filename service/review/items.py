"""Plain data crossing the store's boundary: what the service queues and what it gets back."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from model.language import LANGUAGES

# Column sizes; the schema and the validation below share these definitions.
TICKET_ID_LENGTH = 200
NAME_LENGTH = 100  # labels, reviewers, model versions
LANGUAGE_LENGTH = 16
NOTE_LENGTH = 2000


def _require_text(name: str, value: object, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > max_length:
        raise ValueError(f"{name} must be at most {max_length} characters (got {len(value)})")
    return value.strip()


def _require_share(name: str, value: object) -> float:
    share = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    if not 0.0 <= share <= 1.0:  # NaN fails this too
        raise ValueError(f"{name} must be a number between 0 and 1 (got {value!r})")
    return share


def require_name(name: str, value: object) -> str:
    """A reviewer, label or model version: non-empty, at most NAME_LENGTH characters, stripped."""
    return _require_text(name, value, NAME_LENGTH)


@dataclass(frozen=True, kw_only=True)
class NewReviewItem:
    """A ticket for the queue, as the service hands it over: one the model was unsure about, or
    (`audit=True`) one it routed by itself and that was picked for a blind audit.

    Subject and body may hold personal data; the store redacts them before writing.
    `ticket_id=None` lets the store generate one; `language=None` lets it detect one.
    Invalid values raise ValueError with what to fix.
    """

    subject: str
    body: str
    model_label: str
    confidence: float
    probabilities: Mapping[str, float]
    model_version: str
    ticket_id: str | None = None
    language: str | None = None
    audit: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.subject, str) or not isinstance(self.body, str):
            raise ValueError("subject and body must be strings")
        if not (self.subject.strip() or self.body.strip()):
            raise ValueError("a review item needs a subject or a body")
        object.__setattr__(self, "model_label", require_name("model_label", self.model_label))
        object.__setattr__(self, "model_version", require_name("model_version", self.model_version))
        object.__setattr__(self, "confidence", _require_share("confidence", self.confidence))
        if not isinstance(self.probabilities, Mapping) or not self.probabilities:
            raise ValueError("probabilities must be a non-empty mapping of label to probability")
        probabilities = {require_name("label", k): _require_share(f"probability of {k!r}", p) for k, p in self.probabilities.items()}
        object.__setattr__(self, "probabilities", probabilities)
        if self.ticket_id is not None:
            object.__setattr__(self, "ticket_id", _require_text("ticket_id", self.ticket_id, TICKET_ID_LENGTH))
        if self.language is not None and self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)} (got {self.language!r})")
        if not isinstance(self.audit, bool):
            raise ValueError(f"audit must be true or false (got {self.audit!r})")


@dataclass(frozen=True)
class ReviewItem:
    """One stored review item; text is redacted and timestamps are timezone-aware UTC.

    An `audit` item is a ticket the model routed by itself; agents decide it without seeing the
    model's label, probabilities or highlighted terms until the decision is saved.
    """

    id: int
    ticket_id: str
    subject: str
    body: str
    language: str
    model_label: str
    confidence: float
    probabilities: dict[str, float] = field(hash=False)
    model_version: str
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None
    decided_label: str | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    audit: bool = False

    @property
    def is_decided(self) -> bool:
        """Whether a reviewer has decided the item's label."""
        return self.decided_at is not None

    @property
    def is_blind(self) -> bool:
        """Whether the model's view of the item is withheld: an audit nobody has decided yet."""
        return self.audit and not self.is_decided

    @property
    def model_agreed(self) -> bool | None:
        """Whether the decision equals the model's label; None until decided."""
        return None if self.decided_label is None else self.decided_label == self.model_label
