"""``/portal/``: signing in (local account or OpenID Connect) and out, the language, and the
professional's own e-mail alerts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from verwijsindex.context import AppContext
from verwijsindex.portal.i18n import LANGUAGES
from verwijsindex.portal.oidc import OidcClient, OidcFailed
from verwijsindex.portal.service import SignInRefused
from verwijsindex.portal.web import LANG_COOKIE, Page, not_found, page, text

router = APIRouter(prefix="/portal", include_in_schema=False)


# --- sign-in -------------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    await page(request)
    return RedirectResponse("/portal/registraties", 303)


@router.get("/taal/{language}")
async def choose_language(request: Request, language: str) -> Response:
    response = RedirectResponse("/portal/", 303)
    if language in LANGUAGES:
        ctx: AppContext = request.app.state.ctx
        response.set_cookie(
            LANG_COOKIE,
            language,
            max_age=365 * 86400,
            samesite="lax",
            secure=bool(ctx.settings.portal_secure_cookies),
        )
    return response


def _oidc(request: Request) -> OidcClient | None:
    client: OidcClient | None = request.app.state.portal_oidc
    return client


@router.get("/aanmelden")
async def sign_in_form(request: Request) -> Response:
    current = await page(request, anonymous=True)
    if current.browser is not None and current.browser.user is not None:
        return RedirectResponse("/portal/registraties", 303)
    return current.render(
        "sign_in.html",
        oidc=_oidc(request),
        expired=request.query_params.get("verlopen") == "1",
        signed_out=request.query_params.get("afgemeld") == "1",
        errors=[],
    )


@router.post("/aanmelden")
async def sign_in(request: Request) -> Response:
    current = await page(request, anonymous=True)
    form = await current.form()
    assert current.browser is not None
    errors = []
    username = text(form, "username", 254)
    password = text(form, "password", 200)
    code = text(form, "code", 10)
    if not username:
        errors.append(("username", "Enter your user name."))
    if not password:
        errors.append(("password", "Enter your password."))
    if not code:
        errors.append(("code", "Enter the six-digit code from your authenticator app."))
    if not errors:
        try:
            signed_in = await current.ctx.portal.sign_in_local(
                current.access(), current.browser, username=username, password=password, code=code
            )
        except SignInRefused as refusal:
            wait = refusal.retry_after
            errors.append(("username", "wait" if wait else "refused"))
            return current.render(
                "sign_in.html",
                status=401 if not wait else 429,
                oidc=_oidc(request),
                expired=False,
                signed_out=False,
                errors=errors,
                username=username,
                wait_seconds=int(wait + 0.999) if wait else None,
            )
        current.new_session = signed_in
        return current.redirect("/portal/registraties")
    return current.render(
        "sign_in.html",
        status=422,
        oidc=_oidc(request),
        expired=False,
        signed_out=False,
        errors=errors,
        username=username,
    )


@router.get("/oidc/start")
async def oidc_start(request: Request) -> Response:
    client = _oidc(request)
    current = await page(request, anonymous=True)
    if client is None:
        return not_found(current)
    assert current.browser is not None
    try:
        redirect = await client.start(str(request.url_for("oidc_callback")))
    except OidcFailed:
        return current.render("error.html", status=502, kind="oidc")
    await current.ctx.portal.set_pending(current.browser.id, redirect.pending)
    return current.finish(RedirectResponse(redirect.url, 303))


@router.get("/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request) -> Response:
    client = _oidc(request)
    current = await page(request, anonymous=True)
    if client is None:
        return not_found(current)
    assert current.browser is not None
    pending = current.browser.pending
    access = current.access()
    if pending is None:
        await current.ctx.portal.refuse_federated(access, "oidc-no-sign-in-under-way")
        return current.render("error.html", status=400, kind="oidc")
    await current.ctx.portal.set_pending(current.browser.id, None)
    try:
        username = await client.finish(
            pending,
            state=request.query_params.get("state", ""),
            code=request.query_params.get("code", ""),
        )
        signed_in = await current.ctx.portal.sign_in_federated(
            access, current.browser, username=username
        )
    except OidcFailed:
        await current.ctx.portal.refuse_federated(access, "oidc-invalid-answer")
        return current.render("error.html", status=400, kind="oidc")
    except SignInRefused:
        return current.render("error.html", status=403, kind="oidc-unknown")
    current.new_session = signed_in
    return current.redirect("/portal/registraties")


@router.post("/afmelden")
async def sign_out(request: Request) -> Response:
    current = await page(request)
    await current.form()
    assert current.browser is not None
    await current.ctx.portal.sign_out(current.access(), current.browser)
    response = RedirectResponse("/portal/aanmelden?afgemeld=1", 303)
    current.clear_session_cookie(response)
    return response


# --- the professional's own e-mail alerts ----------------------------------------------------


async def _alerts_page(current: Page, *, saved: bool = False) -> Response:
    preference = await current.ctx.alerts.preference(
        organisation_id=current.user.organisation_id,
        professional_id=current.user.professional_id,
        acting=current.user.professional_id,
    )
    return current.render("alerts.html", preference=preference, saved=saved)


@router.get("/meldingen")
async def alerts(request: Request) -> Response:
    current = await page(request)
    return await _alerts_page(current, saved=request.query_params.get("opgeslagen") == "1")


@router.post("/meldingen")
async def set_alerts(request: Request) -> Response:
    """The professional's own switch: e-mail on a new match, family match or coordination
    event addressed to them (content-free), on or off."""
    current = await page(request)
    form = await current.form()
    await current.ctx.alerts.set_preference(
        organisation_id=current.user.organisation_id,
        professional_id=current.user.professional_id,
        acting=current.user.professional_id,
        enabled=form.get("enabled") == "on",
    )
    return current.redirect("/portal/meldingen?opgeslagen=1")
