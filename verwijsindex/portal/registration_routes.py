"""``/portal/registraties``: the professional's own registrations.

A worry is registered by a POST whose answer is a redirect to the registration's own page
(POST/redirect/GET): the BSN and birth date travel once, in the form's body, and are never in
a URL, a page, the browser's history or a log line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from verwijsindex.errors import (
    InvalidBirthDate,
    InvalidBSN,
    InvalidInput,
    NotFound,
    SubjectTooOld,
    VerwijsindexError,
)
from verwijsindex.portal.web import Page, not_found, page, text
from verwijsindex.registrations.duties import InformingInput
from verwijsindex.registrations.index import MAX_PARENTS, RegistrationRequest
from verwijsindex.registrations.models import PostponeReason

router = APIRouter(prefix="/portal", include_in_schema=False)

WITHDRAW_REASONS = ("unjustified", "risk_resolved", "deceased", "other")
LIST_LIMIT = 200
"""The most items a portal list shows."""


async def my_registrations(current: Page) -> list[Any]:
    rows, _ = await current.ctx.registrations.page(
        current.access(),
        organisation_id=current.user.organisation_id,
        status=None,
        professional_id=current.user.professional_id,
        after=None,
        limit=LIST_LIMIT,
    )
    return rows


@router.get("/registraties")
async def registrations(request: Request) -> Response:
    current = await page(request)
    rows = await my_registrations(current)
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
        return not_found(current)
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


async def _then_back(
    current: Page,
    found: Any,
    action: Callable[[], Awaitable[object]],
    error: tuple[str, str],
    *,
    status: int = 422,
) -> Response:
    """Do ``action`` on the professional's own registration ``found``, then back to its page;
    its page again with ``error`` when the index refuses, not found when it is gone."""
    try:
        await action()
    except NotFound:
        return not_found(current)
    except VerwijsindexError:
        return await _registration_page(current, found, status=status, errors=[error])
    return current.redirect(f"/portal/registraties/{found[0].id}")


@router.post("/registraties/{registration_id}/verlengen")
async def renew(request: Request, registration_id: str) -> Response:
    """A new term from now; the BSN and birth date are presented again (and not kept)."""
    current = await page(request)
    form = await current.form()
    found = await _own_registration(current, registration_id)
    if found is None:
        return not_found(current)
    bsn = text(form, "renew_bsn", 20).replace(" ", "").replace(".", "")
    birth_date = text(form, "renew_birth_date", 20)
    return await _then_back(
        current,
        found,
        lambda: current.ctx.registrations.renew(
            current.access(),
            actor=current.actor,
            registration_id=registration_id,
            bsn=bsn,
            birth_date=birth_date,
            term=None,
        ),
        ("renew_bsn", "Enter the youth's BSN and birth date as registered."),
    )


@router.post("/registraties/{registration_id}/geinformeerd")
async def record_informing(request: Request, registration_id: str) -> Response:
    """Record that the youth and/or the parents were informed of the registration."""
    current = await page(request)
    form = await current.form()
    found = await _own_registration(current, registration_id)
    if found is None:
        return not_found(current)
    who = {str(v) for v in form.getlist("informed")}
    given = InformingInput(
        status="informed",
        youth="youth" in who,
        parents="parents" in who,
        informed_on=text(form, "informed_on", 20) or None,
    )
    error = ("informed", "Choose who was informed and the day (not in the future).")
    return await _record_informing(current, found, given, error)


@router.post("/registraties/{registration_id}/uitgesteld")
async def record_postponed(request: Request, registration_id: str) -> Response:
    """Record that informing the youth and parents is postponed: a coded reason and the day
    to look again (the index reminds the professional then)."""
    current = await page(request)
    form = await current.form()
    found = await _own_registration(current, registration_id)
    if found is None:
        return not_found(current)
    reason = text(form, "postpone_reason", 40)
    errors: list[tuple[str, str]] = []
    if reason not in {r.value for r in PostponeReason}:
        errors.append(("postpone_reason", "Choose why informing is postponed."))
    revisit_on = text(form, "revisit_on", 20)
    if not revisit_on:
        errors.append(("revisit_on", "Enter the day to look again."))
    if errors:
        return await _registration_page(current, found, status=422, errors=errors)
    given = InformingInput(status="postponed", reason=reason, revisit_on=revisit_on)
    error = ("revisit_on", "Enter a day after today and before the registration ends.")
    return await _record_informing(current, found, given, error)


async def _record_informing(
    current: Page, found: Any, given: InformingInput, error: tuple[str, str]
) -> Response:
    return await _then_back(
        current,
        found,
        lambda: current.ctx.registrations.record_informing(
            current.access(), actor=current.actor, registration_id=found[0].id, given=given
        ),
        error,
    )


@router.post("/registraties/{registration_id}/intrekken")
async def withdraw(request: Request, registration_id: str) -> Response:
    current = await page(request)
    form = await current.form()
    reason = text(form, "reason", 40)
    found = await _own_registration(current, registration_id)
    if found is None:
        return not_found(current)
    if reason not in WITHDRAW_REASONS:
        return await _registration_page(
            current, found, status=422, errors=[("reason", "Choose a reason.")]
        )
    return await _then_back(
        current,
        found,
        lambda: current.ctx.registrations.withdraw(
            current.access(), actor=current.actor, registration_id=registration_id, reason=reason
        ),
        ("reason", "This registration has already ended."),
        status=409,
    )
