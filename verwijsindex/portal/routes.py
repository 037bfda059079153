"""``/portal/``: sign-in and the professional's pages (server-rendered, Dutch first).

Routes call services only. A worry is registered by a POST whose answer is a redirect to the
registration's own page (POST/redirect/GET): the BSN and birth date travel once, in the
form's body, and are never in a URL, a page, the browser's history or a log line."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from consent import ConsentError, DataCategory, Direction, EventKind, GrantorRole, Method, Purpose
from verwijsindex.consents.service import ConsentEventRequest
from verwijsindex.context import AppContext
from verwijsindex.coordination.machine import ClosureCheck, DeclineReason, EscalateReason
from verwijsindex.coordination.service import ActionInput, CoordinationCaller
from verwijsindex.coordination.state import CoordinationSummary
from verwijsindex.errors import (
    InvalidBirthDate,
    InvalidBSN,
    InvalidInput,
    NotFound,
    SubjectTooOld,
    VerwijsindexError,
)
from verwijsindex.organisations.models import Role
from verwijsindex.portal import admin_routes, municipality_routes
from verwijsindex.portal.i18n import HERE, LANGUAGES, environments
from verwijsindex.portal.oidc import OidcClient, OidcFailed
from verwijsindex.portal.service import SignInRefused
from verwijsindex.portal.web import (
    LANG_COOKIE,
    CsrfRefused,
    NotAllowed,
    Page,
    SignInRequired,
    page,
    text,
)
from verwijsindex.registrations.duties import InformingInput
from verwijsindex.registrations.index import MAX_PARENTS, RegistrationRequest
from verwijsindex.registrations.models import PostponeReason

router = APIRouter(prefix="/portal", include_in_schema=False)
fallback = APIRouter(prefix="/portal", include_in_schema=False)

WITHDRAW_REASONS = ("unjustified", "risk_resolved", "deceased", "other")
_LIST_LIMIT = 200


def install(app: FastAPI) -> None:
    """Serve the portal from ``app``: its routes, static files and error pages."""
    ctx: AppContext = app.state.ctx
    app.state.portal_templates = environments()
    app.state.portal_oidc = OidcClient(ctx.settings) if ctx.settings.portal_oidc_issuer else None
    app.include_router(router)
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


def _not_found(current: Page) -> Response:
    return current.render("error.html", status=404, kind="not-found")


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
        return _not_found(current)
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
        return _not_found(current)
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


# --- registrations -------------------------------------------------------------------------


async def _my_registrations(current: Page) -> list[Any]:
    rows, _ = await current.ctx.registrations.page(
        current.access(),
        organisation_id=current.user.organisation_id,
        status=None,
        professional_id=current.user.professional_id,
        after=None,
        limit=_LIST_LIMIT,
    )
    return rows


@router.get("/registraties")
async def registrations(request: Request) -> Response:
    current = await page(request)
    rows = await _my_registrations(current)
    rows.sort(key=lambda r: r[0].created_at, reverse=True)
    return current.render("registrations.html", rows=rows)


@router.get("/registraties/nieuw")
async def new_registration_form(request: Request) -> Response:
    current = await page(request)
    return current.render("registration_new.html", errors=[], parents=MAX_PARENTS)


@router.post("/registraties/nieuw")
async def new_registration(request: Request) -> Response:
    current = await page(request)
    form = await current.form()
    bsn = text(form, "bsn", 20).replace(" ", "").replace(".", "")
    birth_date = text(form, "birth_date", 20)
    parents = tuple(
        p
        for p in (
            text(form, f"parent{n}", 20).replace(" ", "").replace(".", "")
            for n in range(1, MAX_PARENTS + 1)
        )
        if p
    )
    errors: list[tuple[str, str]] = []
    if not bsn:
        errors.append(("bsn", "Enter the BSN."))
    if not birth_date:
        errors.append(("birth_date", "Enter the birth date."))
    if not errors:
        try:
            outcome = await current.ctx.registrations.register(
                current.access(),
                RegistrationRequest(
                    actor=current.actor, bsn=bsn, birth_date=birth_date, parents=parents
                ),
            )
        except InvalidBSN as exc:
            if "parent" in exc.detail:
                errors.append(("parent1", "A parent's BSN is not valid (it fails the 11-test)."))
            else:
                errors.append(("bsn", "This is not a valid BSN (it fails the 11-test)."))
        except (InvalidBirthDate, SubjectTooOld):
            errors.append(
                ("birth_date", "Enter a birth date in the past of a youth younger than 23.")
            )
        except InvalidInput as exc:
            if "parent" not in exc.detail:
                raise
            errors.append(("parent1", "A parent's BSN cannot be the youth's own."))
        except VerwijsindexError:
            errors.append(("bsn", "The registration could not be made. Try again later."))
        else:
            return current.redirect(f"/portal/registraties/{outcome.registration.id}")
    # The values are not sent back: the page after submitting never holds them.
    return current.render("registration_new.html", status=422, errors=errors, parents=MAX_PARENTS)


async def _own_registration(current: Page, registration_id: str) -> Any | None:
    try:
        found = await current.ctx.registrations.get(
            current.access(),
            organisation_id=current.user.organisation_id,
            registration_id=registration_id,
        )
    except NotFound:
        return None
    if found[0].professional_id != current.user.professional_id:
        return None
    return found


@router.get("/registraties/{registration_id}")
async def registration(request: Request, registration_id: str) -> Response:
    current = await page(request)
    found = await _own_registration(current, registration_id)
    if found is None:
        return _not_found(current)
    return await _registration_page(current, found)


async def _registration_page(
    current: Page, found: Any, *, status: int = 200, errors: list[tuple[str, str]] | None = None
) -> Response:
    informing = await current.ctx.registrations.informing(
        current.access(),
        organisation_id=current.user.organisation_id,
        registration_id=found[0].id,
    )
    return current.render(
        "registration.html",
        status=status,
        registration=found[0],
        match_id=found[1],
        family_match_id=found[2],
        informing=informing[-1] if informing else None,
        reasons=WITHDRAW_REASONS,
        postpone_reasons=[r.value for r in PostponeReason],
        errors=errors or [],
    )


@router.post("/registraties/{registration_id}/verlengen")
async def renew(request: Request, registration_id: str) -> Response:
    """A new term from now; the BSN and birth date are presented again (and not kept)."""
    current = await page(request)
    form = await current.form()
    found = await _own_registration(current, registration_id)
    if found is None:
        return _not_found(current)
    bsn = text(form, "renew_bsn", 20).replace(" ", "").replace(".", "")
    birth_date = text(form, "renew_birth_date", 20)
    try:
        await current.ctx.registrations.renew(
            current.access(),
            actor=current.actor,
            registration_id=registration_id,
            bsn=bsn,
            birth_date=birth_date,
            term=None,
        )
    except NotFound:
        return _not_found(current)
    except VerwijsindexError:
        return await _registration_page(
            current,
            found,
            status=422,
            errors=[("renew_bsn", "Enter the youth's BSN and birth date as registered.")],
        )
    return current.redirect(f"/portal/registraties/{registration_id}")


@router.post("/registraties/{registration_id}/geinformeerd")
async def record_informing(request: Request, registration_id: str) -> Response:
    """Record that the youth and/or the parents were informed of the registration."""
    current = await page(request)
    form = await current.form()
    found = await _own_registration(current, registration_id)
    if found is None:
        return _not_found(current)
    who = {str(v) for v in form.getlist("informed")}
    try:
        await current.ctx.registrations.record_informing(
            current.access(),
            actor=current.actor,
            registration_id=registration_id,
            given=InformingInput(
                status="informed",
                youth="youth" in who,
                parents="parents" in who,
                informed_on=text(form, "informed_on", 20) or None,
            ),
        )
    except NotFound:
        return _not_found(current)
    except VerwijsindexError:
        return await _registration_page(
            current,
            found,
            status=422,
            errors=[("informed", "Choose who was informed and the day (not in the future).")],
        )
    return current.redirect(f"/portal/registraties/{registration_id}")


@router.post("/registraties/{registration_id}/uitgesteld")
async def record_postponed(request: Request, registration_id: str) -> Response:
    """Record that informing the youth and parents is postponed: a coded reason and the day
    to look again (the index reminds the professional then)."""
    current = await page(request)
    form = await current.form()
    found = await _own_registration(current, registration_id)
    if found is None:
        return _not_found(current)
    reason = text(form, "postpone_reason", 40)
    errors: list[tuple[str, str]] = []
    if reason not in {r.value for r in PostponeReason}:
        errors.append(("postpone_reason", "Choose why informing is postponed."))
    revisit_on = text(form, "revisit_on", 20)
    if not revisit_on:
        errors.append(("revisit_on", "Enter the day to look again."))
    if not errors:
        try:
            await current.ctx.registrations.record_informing(
                current.access(),
                actor=current.actor,
                registration_id=registration_id,
                given=InformingInput(status="postponed", reason=reason, revisit_on=revisit_on),
            )
        except NotFound:
            return _not_found(current)
        except VerwijsindexError:
            errors.append(
                ("revisit_on", "Enter a day after today and before the registration ends.")
            )
        else:
            return current.redirect(f"/portal/registraties/{registration_id}")
    return await _registration_page(current, found, status=422, errors=errors)


@router.post("/registraties/{registration_id}/intrekken")
async def withdraw(request: Request, registration_id: str) -> Response:
    current = await page(request)
    form = await current.form()
    reason = text(form, "reason", 40)
    found = await _own_registration(current, registration_id)
    if found is None:
        return _not_found(current)
    if reason not in WITHDRAW_REASONS:
        return await _registration_page(
            current, found, status=422, errors=[("reason", "Choose a reason.")]
        )
    try:
        await current.ctx.registrations.withdraw(
            current.access(), actor=current.actor, registration_id=registration_id, reason=reason
        )
    except VerwijsindexError:
        return await _registration_page(
            current, found, status=409, errors=[("reason", "This registration has already ended.")]
        )
    return current.redirect(f"/portal/registraties/{registration_id}")


# --- matches, consent and the exchange inbox --------------------------------------------------


async def _my_match_ids(current: Page) -> set[str]:
    return {row[1] for row in await _my_registrations(current) if row[1]}


@router.get("/matches")
async def matches(request: Request) -> Response:
    current = await page(request)
    # The two logged reads at once: their access-log records share one durable write.
    mine, (heads, _) = await asyncio.gather(
        _my_match_ids(current),
        current.ctx.matches.page(
            current.access(),
            organisation_id=current.user.organisation_id,
            status=None,
            after=None,
            limit=_LIST_LIMIT,
        ),
    )
    shown = [m for m in heads if m.id in mine]
    shown.sort(key=lambda m: m.created_at, reverse=True)
    return current.render("matches.html", matches=shown)


async def _match_page(
    current: Page, match_id: str, *, status: int = 200, errors: list[tuple[str, str]] | None = None
) -> Response:
    try:
        match = await current.ctx.matches.get(
            current.access(), organisation_id=current.user.organisation_id, match_id=match_id
        )
    except NotFound:
        return _not_found(current)
    if not any(p.professional_id == current.user.professional_id for p in match.participants):
        return _not_found(current)
    (events, _states), coordination = await asyncio.gather(
        current.ctx.match_consents.events(
            current.access(), organisation_id=current.user.organisation_id, match_id=match_id
        ),
        _coordination_of(current, match_id),
    )
    organisations = {p.organisation_id: p.organisation_name for p in match.participants}
    counterparts = {o: n for o, n in organisations.items() if o != current.user.organisation_id}
    return current.render(
        "match.html",
        status=status,
        match=match,
        events=events,
        organisations=organisations,
        counterparts=counterparts,
        coordination=coordination,
        coordination_vocabulary={
            "decline": [r.value for r in DeclineReason],
            "escalate": [r.value for r in EscalateReason],
            "close": [c.value for c in ClosureCheck],
        },
        errors=errors or [],
        vocabulary={
            "event": [e.value for e in EventKind],
            "grantor": [g.value for g in GrantorRole],
            "purpose": [p.value for p in Purpose],
            "category": [c.value for c in DataCategory],
            "direction": [d.value for d in Direction],
            "method": [m.value for m in Method],
        },
    )


@router.get("/matches/{match_id}")
async def match(request: Request, match_id: str) -> Response:
    current = await page(request)
    return await _match_page(current, match_id)


@router.post("/matches/{match_id}/toestemming")
async def record_consent(request: Request, match_id: str) -> Response:
    current = await page(request)
    form = await current.form()
    errors: list[tuple[str, str]] = []

    def choice(name: str, kind: Any, message: str) -> Any:
        try:
            return kind(text(form, name, 40))
        except ValueError:
            errors.append((name, message))
            return None

    counterpart = text(form, "counterpart", 40)
    if not counterpart:
        errors.append(("counterpart", "Choose the other organisation."))
    event = choice("event", EventKind, "Choose what was decided.")
    grantor = choice("grantor", GrantorRole, "Choose who decided.")
    purpose = choice("purpose", Purpose, "Choose the purpose.")
    direction = choice("direction", Direction, "Choose the direction.")
    method = choice("method", Method, "Choose how it was recorded.")
    categories = []
    for value in form.getlist("categories"):
        try:
            categories.append(DataCategory(str(value)))
        except ValueError:
            pass
    if not categories:
        errors.append(("categories", "Choose at least one kind of data."))
    birth: date | None = None
    try:
        birth = date.fromisoformat(text(form, "subject_birth_date", 20))
    except ValueError:
        errors.append(("subject_birth_date", "Enter the youth's birth date."))
    if not errors:
        assert birth is not None
        try:
            await current.ctx.match_consents.record(
                current.access(),
                current.actor,
                match_id,
                ConsentEventRequest(
                    counterpart_organisation_id=counterpart,
                    kind=event,
                    grantor=grantor,
                    purpose=purpose,
                    data_categories=categories,
                    direction=direction,
                    subject_birth_date=birth,
                    method=method,
                ),
            )
        except NotFound:
            return _not_found(current)
        except (ConsentError, VerwijsindexError):
            errors.append(
                ("event", "This consent cannot be recorded: check who decided for the youth's age.")
            )
        else:
            return current.redirect(f"/portal/matches/{match_id}#toestemming")
    return await _match_page(current, match_id, status=422, errors=errors)


@router.get("/uitwisselingen")
async def exchanges(request: Request) -> Response:
    current = await page(request)
    mine, inbox = await asyncio.gather(
        _my_match_ids(current),
        current.ctx.match_consents.inbox(
            current.access(),
            organisation_id=current.user.organisation_id,
            include_done=False,
            limit=_LIST_LIMIT,
        ),
    )
    shown = [e for e in inbox if e.match_id in mine]
    names = await current.ctx.portal.organisation_names({e.sender_organisation_id for e in shown})
    return current.render("exchanges.html", exchanges=shown, names=names)


async def _coordination_of(current: Page, match_id: str) -> CoordinationSummary | None:
    try:
        return await current.ctx.coordination.read(
            current.access(), _coordination_caller(current), match_id
        )
    except NotFound:
        return None


def _coordination_caller(current: Page) -> CoordinationCaller:
    return CoordinationCaller(
        organisation_id=current.user.organisation_id,
        role=Role.PROFESSIONAL,
        professional_id=current.user.professional_id,
    )


COORDINATION_ACTIONS = ("accept", "decline", "handover", "escalate", "close", "confirm")


@router.post("/matches/{match_id}/regie/{action}")
async def act_on_coordination(request: Request, match_id: str, action: str) -> Response:
    """A participant's coordination action (regie): accept, decline with a reason, hand over
    to another participant, escalate with a reason, close with every closure check, confirm
    as agreed."""
    current = await page(request)
    form = await current.form()
    if action not in COORDINATION_ACTIONS:
        return _not_found(current)
    mine = await _my_match_ids(current)
    if match_id not in mine:
        return _not_found(current)
    reason: str | list[str] | None = None
    target: str | None = None
    if action in ("decline", "escalate"):
        reason = text(form, "reason", 40)
    elif action == "close":
        reason = [str(v) for v in form.getlist("checks")]
    elif action == "handover":
        target = text(form, "organisation", 40)
    try:
        await current.ctx.coordination.act(
            current.access(),
            _coordination_caller(current),
            match_id,
            action,
            ActionInput(reason=reason, organisation_id=target),
        )
    except NotFound:
        return _not_found(current)
    except InvalidInput:
        return await _match_page(
            current,
            match_id,
            status=422,
            errors=[(f"regie-{action}", "Choose a reason (closing: confirm every check).")],
        )
    except VerwijsindexError:
        return await _match_page(
            current,
            match_id,
            status=409,
            errors=[(f"regie-{action}", "This coordination action is not open to you now.")],
        )
    return current.redirect(f"/portal/matches/{match_id}#regie")


# --- family matches --------------------------------------------------------------------------


async def _my_family_match_ids(current: Page) -> set[str]:
    return {row[2] for row in await _my_registrations(current) if len(row) > 2 and row[2]}


@router.get("/gezinsmatches")
async def family_matches(request: Request) -> Response:
    current = await page(request)
    mine = await _my_family_match_ids(current)
    heads, _ = await current.ctx.family_matches.page(
        current.access(),
        organisation_id=current.user.organisation_id,
        status=None,
        after=None,
        limit=_LIST_LIMIT,
    )
    shown = sorted((f for f in heads if f.id in mine), key=lambda f: f.created_at, reverse=True)
    return current.render("family_matches.html", matches=shown)


@router.get("/gezinsmatches/{family_match_id}")
async def family_match(request: Request, family_match_id: str) -> Response:
    current = await page(request)
    if family_match_id not in await _my_family_match_ids(current):
        return _not_found(current)
    try:
        view = await current.ctx.family_matches.get(
            current.access(),
            organisation_id=current.user.organisation_id,
            family_match_id=family_match_id,
        )
    except NotFound:
        return _not_found(current)
    return current.render("family_match.html", match=view)


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


@fallback.get("/{rest:path}")
async def unknown_page(request: Request, rest: str) -> Response:
    """Any other ``/portal/`` path: the portal's own 404 page (in the visitor's language);
    it opens no session for a visitor without one."""
    current = await page(request, anonymous=True, open_session=False)
    return _not_found(current)
