"""``/portal/matches``, ``/portal/gezinsmatches``, ``/portal/uitwisselingen``: the
professional's matches with their consent records and coordination (regie), the exchange
inbox, and family matches: each only where the professional has a registration of their own
in it."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from consent import ConsentError, DataCategory, Direction, EventKind, GrantorRole, Method, Purpose
from verwijsindex.consents.service import ConsentEventRequest
from verwijsindex.coordination.machine import ClosureCheck, DeclineReason, EscalateReason
from verwijsindex.coordination.service import ActionInput, CoordinationCaller
from verwijsindex.coordination.state import CoordinationSummary
from verwijsindex.errors import InvalidInput, NotFound, VerwijsindexError
from verwijsindex.organisations.models import Role
from verwijsindex.portal.registration_routes import LIST_LIMIT, my_registrations
from verwijsindex.portal.web import Page, not_found, page, text

router = APIRouter(prefix="/portal", include_in_schema=False)


# --- matches, consent and the exchange inbox --------------------------------------------------


async def _my_match_ids(current: Page) -> set[str]:
    return {row[1] for row in await my_registrations(current) if row[1]}


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
            limit=LIST_LIMIT,
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
        return not_found(current)
    if not any(p.professional_id == current.user.professional_id for p in match.participants):
        return not_found(current)
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
            return not_found(current)
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
            limit=LIST_LIMIT,
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
        return not_found(current)
    mine = await _my_match_ids(current)
    if match_id not in mine:
        return not_found(current)
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
        return not_found(current)
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
    return {row[2] for row in await my_registrations(current) if len(row) > 2 and row[2]}


@router.get("/gezinsmatches")
async def family_matches(request: Request) -> Response:
    current = await page(request)
    mine = await _my_family_match_ids(current)
    heads, _ = await current.ctx.family_matches.page(
        current.access(),
        organisation_id=current.user.organisation_id,
        status=None,
        after=None,
        limit=LIST_LIMIT,
    )
    shown = sorted((f for f in heads if f.id in mine), key=lambda f: f.created_at, reverse=True)
    return current.render("family_matches.html", matches=shown)


@router.get("/gezinsmatches/{family_match_id}")
async def family_match(request: Request, family_match_id: str) -> Response:
    current = await page(request)
    if family_match_id not in await _my_family_match_ids(current):
        return not_found(current)
    try:
        view = await current.ctx.family_matches.get(
            current.access(),
            organisation_id=current.user.organisation_id,
            family_match_id=family_match_id,
        )
    except NotFound:
        return not_found(current)
    return current.render("family_match.html", match=view)
