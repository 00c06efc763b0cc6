"""Next steps per route, from the editable file `service/next_steps.toml`, checked at start-up."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from model.decision import REVIEW
from model.language import LANGUAGES
from service.errors import describe_validation_errors

DEFAULT_FILE = Path(__file__).with_name("next_steps.toml")
# The customer message's language for each detected ticket language.
MESSAGE_LANGUAGE = {"sv": "sv", "mixed": "sv", "en": "en", "unknown": "en"}
assert set(MESSAGE_LANGUAGE) == set(LANGUAGES), "every detectable language needs a message language"


class CustomerMessage(BaseModel):
    """A ready-to-send reply to the customer, in the ticket's language."""

    language: str = Field(description="`sv` or `en`")
    text: str


class NextStep(BaseModel):
    """What to do with the ticket now (texts from service/next_steps.toml)."""

    action: str = Field(description="e.g. `delivery_task`, `support_queue`, `human_review`")
    queue: str
    steps: list[str]
    customer_message: CustomerMessage | None = None


class _Messages(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _StepLists(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sv: list[str] = Field(min_length=1)
    en: list[str] = Field(min_length=1)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(min_length=1)
    queue: str = Field(min_length=1)
    steps: _StepLists | Annotated[list[str], Field(min_length=1)]  # per language, or one list for both
    customer_message: _Messages | None = None


class NextSteps:
    """The next step of every route, ready-made per customer-message language."""

    def __init__(self, sections: dict[tuple[str, str], NextStep], source: Path):
        self._steps = sections
        self.source = source

    @property
    def routes(self) -> frozenset[str]:
        """The routes the file has a section for."""
        return frozenset(route for route, _ in self._steps)

    def for_route(self, route: str, language: str) -> NextStep:
        """The next step for a route and a detected ticket language."""
        return self._steps[(route, MESSAGE_LANGUAGE.get(language, "en"))]

    def check_covers(self, labels: Iterable[str]) -> None:
        """Raise ValueError unless every label (and `review`) has a section."""
        missing = sorted({*labels, REVIEW} - self.routes)
        if missing:
            raise ValueError(f"{self.source}: no section for {', '.join(missing)}; add [{missing[0]}] with action, queue and steps")


def load_next_steps(path: str | Path = DEFAULT_FILE) -> NextSteps:
    """Read and check a next-steps file; ValueError says what to fix."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"next-steps file {source} cannot be read: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"next-steps file {source} is not valid TOML: {e}") from None
    steps: dict[tuple[str, str], NextStep] = {}
    for route, raw in data.items():
        try:
            section = _Section.model_validate(raw)
        except ValidationError as e:
            raise ValueError(f"{source}, section [{route}]: {describe_validation_errors(e.errors())}") from None
        for language in ("sv", "en"):
            message = None
            if section.customer_message is not None:
                message = CustomerMessage(language=language, text=getattr(section.customer_message, language).strip())
            texts = section.steps if isinstance(section.steps, list) else getattr(section.steps, language)
            steps[(route, language)] = NextStep(action=section.action, queue=section.queue, steps=texts, customer_message=message)
    return NextSteps(steps, source)
