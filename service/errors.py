"""Error responses: one body shape (`ErrorResponse`) for every failure, and their OpenAPI docs.

Malformed JSON is a 400, a body that does not fit the schema a 422, an oversized body a 413;
each message says what to change. Unexpected failures become a 500 in `service.middleware`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import Message
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorDetail(BaseModel):
    """What went wrong, as a stable machine-readable code and a message saying what to fix."""

    code: str = Field(description="stable error code, e.g. `invalid_request`, `missing_api_key`, `ticket_too_long`")
    message: str = Field(description="what went wrong and what to change")
    details: dict[str, Any] | None = Field(default=None, description="extra facts for some errors (e.g. readiness state)")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Malformed JSON.",
    401: "No API key, or an unknown one.",
    403: "The API key lacks the role this endpoint needs.",
    408: "The request body did not arrive within TRIAGE_REQUEST_READ_TIMEOUT seconds.",
    409: "The new model was refused; the old one keeps serving.",
    413: "Request body larger than the configured limit.",
    415: "The body is not sent as JSON.",
    422: "The body does not fit the schema, a ticket has no usable text or is too long, or the batch is too large.",
    429: "Too many wrong API keys from this address; see `Retry-After`.",
    503: "Not ready, or (for a ticket routed to review) the review queue cannot take it now: see the message and `Retry-After`.",
}
_UNREADABLE_BODY = "There was an error parsing the body"  # FastAPI's detail when the body cannot even be decoded
_CODES = {400: "malformed_json", 404: "not_found", 405: "method_not_allowed", 408: "request_timeout", 413: "body_too_large",
          415: "unsupported_media_type"}


class ApiError(Exception):
    """An error with its HTTP status, code and message, rendered as an `ErrorResponse`."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = dict(headers or {})


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON of an `ErrorResponse`."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the given error statuses with `ErrorResponse`."""
    return {status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]} for status in statuses}


def _location(loc: Sequence[int | str]) -> str:
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


MAX_DESCRIBED_ERRORS = 10  # a message that lists more helps nobody, and its size would be the client's to choose


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """One readable line for pydantic errors, naming each field (never echoing the input), the first few only."""
    text = "; ".join(f"{_location(e.get('loc', ()))}: {str(e.get('msg', 'invalid')).removeprefix('Value error, ')}"
                     for e in errors[:MAX_DESCRIBED_ERRORS])
    more = len(errors) - MAX_DESCRIBED_ERRORS
    return f"{text}; and {more} more error{'s' if more > 1 else ''}" if more > 0 else text


def is_json_media_type(content_type: str) -> bool:
    """Whether a Content-Type is JSON as FastAPI parses it: `application/json` or `application/<something>+json`."""
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        position = bad_json["loc"][-1]
        reason = bad_json.get("ctx", {}).get("error", "invalid JSON")
        return JSONResponse(error_body("malformed_json", f"the request body is not valid JSON: {reason} at character {position}"), status_code=400)
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return JSONResponse(error_body("invalid_request", "the request needs a JSON body"), status_code=422)
    content_type = request.headers.get("content-type", "")
    about_body = all(e.get("loc", ("",))[0] == "body" for e in errors)
    # FastAPI reads any other body (text/json, application/x-json...) as bytes, which then fails the schema.
    if about_body and not is_json_media_type(content_type):
        message = f"send the body as JSON with 'Content-Type: application/json' (got '{content_type or 'no content type'}')"
        return JSONResponse(error_body("unsupported_media_type", message), status_code=415)
    return JSONResponse(error_body("invalid_request", describe_validation_errors(errors)), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = str(exc.detail)
    if exc.status_code == 400 and message == _UNREADABLE_BODY:
        message = "the request body could not be read as JSON: it is not valid UTF-8, or nested too deeply; send UTF-8 encoded JSON"
    code = _CODES.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None))


# What any request body can get from the handlers above and the body-size limit, whichever
# endpoint it is sent to; documented on every operation that takes a body. Every operation that
# checks a key (it documents 401) can also be turned away for too many wrong keys (429).
BODY_ERRORS = (400, 408, 413, 415, 422)


def _document_common_errors(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    statuses = [*(BODY_ERRORS if "requestBody" in operation else ()), *((429,) if "401" in operation["responses"] else ())]
                    for status in statuses:
                        operation["responses"].setdefault(str(status), {
                            "description": _DESCRIPTIONS[status],
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}})
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    """Render every error raised while handling a request as an `ErrorResponse`, and document the body errors."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    _document_common_errors(app)
