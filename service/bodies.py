"""What every JSON request body shares: unknown fields are refused, and cheaply.

pydantic reports each unknown field as an error of its own: a body of 150,000 made-up keys cost
1.6 s of CPU and a 6 MB error listing them all. Past MAX_UNKNOWN_FIELDS the whole body is
refused with one error before any field is validated.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

MAX_UNKNOWN_FIELDS = 10  # a few are typos worth naming one by one; more is not a request of this API
_QUOTED_NAMES = 3
_QUOTED_NAME_CHARS = 40


class RequestBody(BaseModel):
    """Base of the API's request bodies: unknown fields are an error (422)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _few_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(data) > len(cls.model_fields) + MAX_UNKNOWN_FIELDS:
            unknown = [name for name in data if name not in cls.model_fields]
            if len(unknown) > MAX_UNKNOWN_FIELDS:
                first = ", ".join(repr(str(name)[:_QUOTED_NAME_CHARS]) for name in unknown[:_QUOTED_NAMES])
                raise ValueError(f"the object has {len(unknown)} fields it does not take (the first: {first}); "
                                 f"it takes only {', '.join(cls.model_fields)}")
        return data
