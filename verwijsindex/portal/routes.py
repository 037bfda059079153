"""``/portal/``: the portal's server-rendered pages (Dutch first), installed on the app.

The pages live in one module a group: signing in and the account
(:mod:`~verwijsindex.portal.account_routes`), the professional's registrations
(:mod:`~verwijsindex.portal.registration_routes`), matches, consent, coordination and family
matches (:mod:`~verwijsindex.portal.match_routes`), the organisation admin's pages
(:mod:`~verwijsindex.portal.admin_routes`) and the municipality's
(:mod:`~verwijsindex.portal.municipality_routes`). Routes call services only."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from verwijsindex.context import AppContext
from verwijsindex.portal import (
    account_routes,
    admin_routes,
    match_routes,
    municipality_routes,
    registration_routes,
)
from verwijsindex.portal.i18n import HERE, environments
from verwijsindex.portal.oidc import OidcClient
from verwijsindex.portal.web import CsrfRefused, NotAllowed, SignInRequired, not_found, page

fallback = APIRouter(prefix="/portal", include_in_schema=False)


def install(app: FastAPI) -> None:
    """Serve the portal from ``app``: its routes, static files and error pages."""
    ctx: AppContext = app.state.ctx
    app.state.portal_templates = environments()
    app.state.portal_oidc = OidcClient(ctx.settings) if ctx.settings.portal_oidc_issuer else None
    app.include_router(account_routes.router)
    app.include_router(registration_routes.router)
    app.include_router(match_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(municipality_routes.router)
    app.mount("/portal/static", StaticFiles(directory=Path(HERE / "static")), name="portal-static")
    # last: every other /portal/ path is an HTML 404 page, not the API's problem+json
    app.include_router(fallback)
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(NotAllowed, _not_allowed)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    expired = isinstance(exc, SignInRequired) and exc.expired
    return RedirectResponse("/portal/aanmelden" + ("?verlopen=1" if expired else ""), 303)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    current = await page(request, anonymous=True)
    return current.render("error.html", status=403, kind="csrf")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    current = await page(request)
    return current.render("error.html", status=403, kind="forbidden")


@fallback.get("/{rest:path}")
async def unknown_page(request: Request, rest: str) -> Response:
    """Any other ``/portal/`` path: the portal's own 404 page (in the visitor's language);
    it opens no session for a visitor without one."""
    current = await page(request, anonymous=True, open_session=False)
    return not_found(current)
