"""What every page of the agents' review site shares: the session, CSRF checks, rendering and errors.

Pages are server-rendered Jinja2 templates (service/review/templates) with one CSS and one JS file
(service/review/static); nothing is built and nothing is fetched from elsewhere, so the page works
offline. Every response carries a strict Content-Security-Policy and `Cache-Control: no-store`
(pages show ticket text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData

from service.deps import Services, ServicesDep
from service.review.session import COOKIE_NAME, COOKIE_PATH, LANGUAGES, WebSession
from service.review.texts import HELP_KEY, NEXT_KEYS, PREVIOUS_KEYS, translator

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
STATIC_URL = "/review/static"
SIGN_IN_URL = "/review/sign-in"
QUEUE_URL = "/review"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(), undefined=jinja2.StrictUndefined,
    trim_blocks=True, lstrip_blocks=True,
)


class PageError(Exception):
    """A failure shown to the agent as a page: status, a text key (see service/review/texts.py) and its values."""

    def __init__(self, status: int, message: str, title: str = "error_title", **values: object):
        super().__init__(message)
        self.status, self.message, self.title, self.values = status, message, title, values


class SignInNeeded(Exception):
    """The request needs a signed-in reviewer; the agent is sent to the sign-in page."""


@dataclass
class Page:
    """One request to the review site: its session, services and (for POSTs) its form."""

    request: Request
    services: Services
    session: WebSession
    form: FormData = field(default_factory=FormData)

    @property
    def t(self) -> Any:
        """The text lookup in the agent's language."""
        return translator(self.session.language)

    @property
    def reviewer(self) -> str:
        """The signed-in reviewer's name."""
        assert self.session.reviewer is not None, "only signed-in pages ask for the reviewer"
        return self.session.reviewer

    def field(self, name: str) -> str:
        """A form field as text ('' when absent)."""
        value = self.form.get(name)
        return value if isinstance(value, str) else ""

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        """Render a template with the page's texts, session and any pending status message."""
        flash = context.pop("flash", None) or self.session.take_flash()
        # Where the language switch returns to: this page, unless it answers a form (then the queue).
        here = context.pop("here", None) or (str(self.request.url.path) if self.request.method == "GET" else QUEUE_URL)
        html = _environment.get_template(template).render(
            t=self.t, lang=self.session.language, other_language=_other(self.session.language), session=self.session,
            here=here, static=STATIC_URL, flash=flash, keys={"next": NEXT_KEYS, "previous": PREVIOUS_KEYS, "help": HELP_KEY}, **context,
        )
        return self._finish(HTMLResponse(html, status_code=status))

    def redirect(self, url: str) -> Response:
        """See Other: the browser GETs `url` (so a reload never re-sends a form)."""
        return self._finish(RedirectResponse(url, status_code=303))

    def _finish(self, response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        codec = self.services.sessions
        response.set_cookie(COOKIE_NAME, codec.dumps(self.session), max_age=codec.max_age, path=COOKIE_PATH,
                            httponly=True, samesite="strict", secure=self.request.url.scheme == "https")
        return response


def _other(language: str) -> str:
    return next(code for code in LANGUAGES if code != language)


async def get_page(request: Request, services: ServicesDep) -> Page:
    """The request's page context, with the browser's session or a new one."""
    session = services.sessions.loads(request.cookies.get(COOKIE_NAME)) or WebSession()
    page = Page(request, services, session)
    request.state.page = page  # the error handlers render with the same session
    return page


async def get_form_page(page: Annotated[Page, Depends(get_page)]) -> Page:
    """A POST's page context after its CSRF token was checked (403 otherwise)."""
    page.form = await page.request.form()
    if not page.session.csrf_matches(page.field("csrf")):
        raise PageError(403, "csrf_text", title="csrf_title")
    return page


async def _signed_in(page: Page) -> Page:
    if not page.session.signed_in_with(page.services.keys):
        raise SignInNeeded()
    return page


async def get_signed_in_page(page: Annotated[Page, Depends(get_page)]) -> Page:
    """A GET's page context for a signed-in reviewer."""
    return await _signed_in(page)


async def get_signed_in_form_page(page: Annotated[Page, Depends(get_form_page)]) -> Page:
    """A POST's page context: CSRF token checked, reviewer signed in."""
    return await _signed_in(page)


PageDep = Annotated[Page, Depends(get_page)]
FormPageDep = Annotated[Page, Depends(get_form_page)]
ReviewerPageDep = Annotated[Page, Depends(get_signed_in_page)]
ReviewerFormPageDep = Annotated[Page, Depends(get_signed_in_form_page)]


def _page_of(request: Request) -> Page:
    page: Page | None = getattr(request.state, "page", None)
    if page is None:  # the error came before the session was read
        services: Services = request.app.state.services
        page = Page(request, services, services.sessions.loads(request.cookies.get(COOKIE_NAME)) or WebSession())
    return page


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    page = _page_of(request)
    action = page.t("csrf_action") if exc.status == 403 else page.t("back_to_queue")
    return page.render("message.html", status=exc.status, title=page.t(exc.title), message=page.t(exc.message, **exc.values), action=action)


async def _sign_in_needed(request: Request, exc: Exception) -> Response:
    page = _page_of(request)
    page.session.sign_out()  # a session whose key was removed must not linger
    page.session.say("info", page.t("sign_in_needed"))
    return page.redirect(SIGN_IN_URL)


def install(app: FastAPI) -> None:
    """Serve the page's CSS and JS, and render page errors as pages."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="review-static")
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
