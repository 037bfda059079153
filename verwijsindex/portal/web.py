"""What every portal page shares: the session cookie, the signed-in professional, the CSRF
check of every form, the language and rendering a template.

The professional is the session's: nothing a browser sends in a header names them. Every
POST carries the session's CSRF token in its form (compared in constant time) and, when the
browser sends an ``Origin``, comes from the portal's own origin."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.datastructures import FormData

from verwijsindex.accesslog import AccessContext
from verwijsindex.context import AppContext
from verwijsindex.http.access import trace_of
from verwijsindex.portal.i18n import DEFAULT_LANGUAGE, LANGUAGES
from verwijsindex.portal.navigation import navigation
from verwijsindex.portal.service import BrowserSession, NewSession, PortalUser
from verwijsindex.registrations.index import Actor

LANG_COOKIE = "verwijsindex-lang"
_MAX_FORM_FIELDS = 50


def cookie_name(ctx: AppContext) -> str:
    # __Host-: sent only over https, to this host, for path / (a Secure cookie's name)
    return (
        "__Host-verwijsindex-portal"
        if ctx.settings.portal_secure_cookies
        else ("verwijsindex-portal")
    )


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign-in required")
        self.expired = expired


class CsrfRefused(Exception):
    """A form without the session's CSRF token (or from another origin)."""


class NotAllowed(Exception):
    """A page the signed-in professional's role does not open."""


@dataclass
class Page:
    """The request's portal state: its session (if any) and language."""

    request: Request
    ctx: AppContext
    browser: BrowserSession | None
    language: str
    new_session: NewSession | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> PortalUser:
        assert self.browser is not None and self.browser.user is not None
        return self.browser.user

    @property
    def actor(self) -> Actor:
        return Actor(
            organisation_id=self.user.organisation_id, professional_id=self.user.professional_id
        )

    def access(self) -> AccessContext:
        """The access-log context of this request: the session's professional, or nobody."""
        user = self.browser.user if self.browser else None
        return AccessContext(
            trace=trace_of(self.request),
            started_at=self.ctx.clock.now(),
            role=("org-admin" if user.org_admin else "professional") if user else None,
            organisation_id=user.organisation_id if user else None,
            professional_id=user.professional_id if user else None,
            on_behalf_of=user.organisation_id if user else None,
        )

    def env(self) -> Environment:
        envs: dict[str, Environment] = self.request.app.state.portal_templates
        return envs[self.language]

    def render(self, template: str, *, status: int = 200, **values: Any) -> Response:
        browser = self.new_session.session if self.new_session else self.browser
        user = browser.user if browser else None
        body = (
            self.env()
            .get_template(template)
            .render(
                user=user,
                csrf=browser.csrf_token if browser else "",
                nav=navigation(user, self.request.url.path) if user else [],
                path=self.request.url.path,
                **values,
            )
        )
        return self.finish(HTMLResponse(body, status_code=status))

    def redirect(self, url: str) -> Response:
        """303 See Other: after a POST the browser GETs the next page (POST/redirect/GET)."""
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        if self.new_session is not None:
            self.set_session_cookie(response, self.new_session.token)
        for name, value in self.cookies.items():
            response.set_cookie(
                name,
                value,
                max_age=365 * 86400,
                samesite="lax",
                secure=bool(self.ctx.settings.portal_secure_cookies),
            )
        return response

    def set_session_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            cookie_name(self.ctx),
            token,
            path="/",
            httponly=True,
            secure=bool(self.ctx.settings.portal_secure_cookies),
            # Lax, not Strict: the identity provider's redirect back is a cross-site
            # navigation that must carry the session of the sign-in under way. Every change
            # is a POST with the session's CSRF token.
            samesite="lax",
        )

    def clear_session_cookie(self, response: Response) -> None:
        response.delete_cookie(
            cookie_name(self.ctx),
            path="/",
            httponly=True,
            secure=bool(self.ctx.settings.portal_secure_cookies),
            samesite="lax",
        )

    async def form(self) -> FormData:
        """The POSTed form, once its CSRF token (and origin) hold."""
        origin = self.request.headers.get("origin")
        if origin is not None and origin != _own_origin(self.request):
            raise CsrfRefused
        form = await self.request.form(max_files=0, max_fields=_MAX_FORM_FIELDS)
        sent = form.get("csrf_token")
        browser = self.browser
        if (
            browser is None
            or not isinstance(sent, str)
            or not hmac.compare_digest(sent.encode(), browser.csrf_token.encode())
        ):
            raise CsrfRefused
        return form


def not_found(current: Page) -> Response:
    """The portal's 404 page."""
    return current.render("error.html", status=404, kind="not-found")


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


async def page(request: Request, *, anonymous: bool = False, open_session: bool = True) -> Page:
    """The request's page state. Unless ``anonymous``, a signed-in professional is required
    (:class:`SignInRequired` otherwise); an anonymous page opens a session when there is none
    (the sign-in form's CSRF token lives there), unless ``open_session`` is false (a page
    without a form, such as the 404 page)."""
    ctx: AppContext = request.app.state.ctx
    token = request.cookies.get(cookie_name(ctx), "")
    current = Page(request, ctx, None, _language(request))
    browser = await ctx.portal.resume(token, current.access()) if token else None
    current.browser = browser
    if browser is not None and browser.user is not None:
        state = request.scope.setdefault("state", {})
        state["organisation_id"] = browser.user.organisation_id
    if anonymous:
        if browser is None and open_session:
            current.new_session = await ctx.portal.open_session()
            current.browser = current.new_session.session
        return current
    if browser is None or browser.user is None:
        raise SignInRequired(expired=bool(token) and browser is None)
    return current


async def admin_page(request: Request) -> Page:
    current = await page(request)
    if not current.user.org_admin:
        raise NotAllowed
    return current


def text(form: FormData, name: str, limit: int = 500) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value.strip()[:limit]
