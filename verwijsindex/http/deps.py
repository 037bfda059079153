"""Authentication and authorisation dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.context import AppContext
from verwijsindex.coordination.service import CoordinationCaller
from verwijsindex.http.problems import ApiProblem
from verwijsindex.organisations.credentials import CachedKey, CachedProfessional
from verwijsindex.organisations.models import Professional, Role
from verwijsindex.organisations.service import TOUCH_INTERVAL, Principal, hash_api_key
from verwijsindex.registrations.index import Actor

_BEARER = "bearer "


def app_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_context(request: Request) -> AppContext:
    # async: FastAPI runs plain functions in its thread pool, a thread hop per request
    return app_context(request)


Ctx = Annotated[AppContext, Depends(get_context)]


def _unauthorised(detail: str) -> ApiProblem:
    return ApiProblem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def _presented_key(header: str | None) -> str | None:
    """The API key of an ``Authorization: Bearer`` header, or None for any other header."""
    if not header or not header.lower().startswith(_BEARER):
        return None
    return header[len(_BEARER) :].strip()


def _expired(principal: Principal, now: datetime) -> bool:
    return principal.expires_at is not None and principal.expires_at <= now


def _use_unrecorded(cached: CachedKey, now: datetime) -> bool:
    """Whether this request must record the key's use (at most once per ``TOUCH_INTERVAL``)."""
    return cached.last_used_at is None or now - cached.last_used_at >= TOUCH_INTERVAL


async def get_principal(request: Request, ctx: Ctx) -> Principal:
    presented = _presented_key(request.headers.get("authorization"))
    if presented is None:
        raise _unauthorised("a bearer API key is required")
    cache = ctx.credentials
    now = ctx.clock.now()
    digest = hash_api_key(presented)
    cached = cache.key(digest)
    if cached is None:

        async def authenticate() -> Principal | None:
            async with ctx.database.read() as session:
                return await ctx.admin.authenticate(session, presented)

        found = await cache.once("key", digest, authenticate)
        if found is None:
            raise _unauthorised("the API key is unknown, revoked or expired")
        principal = found
        cached = cache.remember_key(digest, principal)
    else:
        principal = cached.principal
        if _expired(principal, now):
            raise _unauthorised("the API key is unknown, revoked or expired")
    if _use_unrecorded(cached, now):

        async def touch(session: AsyncSession) -> None:
            await ctx.admin.touch(session, principal)

        await ctx.writes.run(touch)
        cached.last_used_at = now
    bind_caller(request, principal)
    return principal


def bind_caller(request: Request, principal: Principal, professional_id: str | None = None) -> None:
    """Record who calls in the request's state: the key's principal and, for a professional
    key, the acting professional. The access log and the request's log line read them there.
    The one place that does it, whichever path admitted the caller (the dependencies, or
    ``POST /v1/registrations`` below the routing, ADR 0011)."""
    state = request.state
    state.organisation_id = principal.organisation_id
    state.principal = principal
    request.scope.setdefault("state", {})["organisation_id"] = principal.organisation_id
    if professional_id is not None:
        state.professional_id = professional_id


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_role(*roles: Role) -> object:
    async def dependency(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise ApiProblem(403, "forbidden-role", "this API key's role may not do this")
        return principal

    return Depends(dependency)


async def get_org_admin(principal: PrincipalDep) -> Principal:
    if principal.role is not Role.ORG_ADMIN:
        raise ApiProblem(403, "forbidden-role", "this API key's role may not do this")
    return principal


OrgAdminDep = Annotated[Principal, Depends(get_org_admin)]


async def get_municipality_admin(principal: PrincipalDep) -> Principal:
    """A ``municipality-admin`` key; which municipality it may manage the service checks."""
    if principal.role is not Role.MUNICIPALITY_ADMIN:
        raise ApiProblem(403, "forbidden-role", "this API key's role may not do this")
    return principal


MunicipalityAdminDep = Annotated[Principal, Depends(get_municipality_admin)]


@dataclass(frozen=True)
class ProfessionalCaller:
    principal: Principal
    actor: Actor


async def get_professional_caller(
    request: Request,
    x_professional_id: Annotated[
        str | None,
        Header(description="The acting professional; must belong to the key's organisation"),
    ] = None,
) -> ProfessionalCaller:
    # The key is checked here rather than through a sub-dependency: one dependency less to
    # resolve on every registration (FastAPI's resolution is a measurable part of a request).
    ctx = app_context(request)
    principal = await get_principal(request, ctx)
    if principal.role is not Role.PROFESSIONAL:
        raise ApiProblem(403, "forbidden-role", "this API key's role may not do this")
    if not x_professional_id:
        raise ApiProblem(
            403, "professional-required", "X-Professional-Id must name the acting professional"
        )
    cache = ctx.credentials
    professional = cache.professional(x_professional_id)
    if professional is None:
        named = x_professional_id

        async def look_up() -> Professional | None:
            async with ctx.database.read() as session:
                return await ctx.admin.professional_of(session, professional_id=named)

        found = await cache.once("professional", named, look_up)
        if found is None:
            raise ApiProblem(403, "unknown-professional", "the professional is unknown or inactive")
        professional = cache.remember_professional(
            found.id, organisation_id=found.organisation_id, active=found.active
        )
    refusal = _refusal_of(professional, principal)
    if refusal is not None:
        raise refusal
    bind_caller(request, principal, x_professional_id)
    return _caller(principal, x_professional_id)


ProfessionalDep = Annotated[ProfessionalCaller, Depends(get_professional_caller)]


def _refusal_of(professional: CachedProfessional, principal: Principal) -> ApiProblem | None:
    """Why ``professional`` may not act with ``principal``'s key, or None."""
    if not professional.active:
        return ApiProblem(403, "unknown-professional", "the professional is unknown or inactive")
    if professional.organisation_id != principal.organisation_id:
        return ApiProblem(
            403,
            "professional-not-in-organisation",
            "the professional does not belong to this API key's organisation",
        )
    return None


def _caller(principal: Principal, professional_id: str) -> ProfessionalCaller:
    return ProfessionalCaller(
        principal=principal,
        actor=Actor(organisation_id=principal.organisation_id, professional_id=professional_id),
    )


def cached_professional_caller(
    ctx: AppContext, authorization: str | None, professional_id: str | None
) -> ProfessionalCaller | None:
    """The caller that :func:`get_professional_caller` would admit, when the credential cache
    alone can tell: a fresh cached key of a professional role, unexpired, whose last use needs
    no recording yet, and a fresh cached, active professional of the key's organisation.
    Otherwise None, and nothing is done: :func:`get_professional_caller` decides (it reads
    what is missing, records the use, and answers every refusal)."""
    presented = _presented_key(authorization)
    if presented is None or not professional_id:
        return None
    cache = ctx.credentials
    cached = cache.key(hash_api_key(presented))
    if cached is None:
        return None
    principal = cached.principal
    now = ctx.clock.now()
    if _expired(principal, now) or _use_unrecorded(cached, now):
        return None
    if principal.role is not Role.PROFESSIONAL:
        return None
    professional = cache.professional(professional_id)
    if professional is None or _refusal_of(professional, principal) is not None:
        return None
    return _caller(principal, professional_id)


async def get_coordination_caller(
    request: Request,
    x_professional_id: Annotated[
        str | None,
        Header(description="The acting professional (professional keys only)"),
    ] = None,
) -> CoordinationCaller:
    """A professional of an organisation (as :func:`get_professional_caller` admits it) or a
    municipality-admin; any other role is 403."""
    principal = await get_principal(request, app_context(request))
    if principal.role is Role.MUNICIPALITY_ADMIN:
        return CoordinationCaller(organisation_id=principal.organisation_id, role=principal.role)
    caller = await get_professional_caller(request, x_professional_id)
    return CoordinationCaller(
        organisation_id=caller.actor.organisation_id,
        role=caller.principal.role,
        professional_id=caller.actor.professional_id,
    )


CoordinationCallerDep = Annotated[CoordinationCaller, Depends(get_coordination_caller)]
