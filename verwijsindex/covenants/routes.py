"""``/v1/municipalities/{code}/covenant``: a municipality-admin reads and replaces its own
municipality's covenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from verwijsindex.accesslog import Operation
from verwijsindex.covenants.schemas import CovenantIn, CovenantOut, CovenantVersions
from verwijsindex.covenants.service import MunicipalityAdmin
from verwijsindex.http.access import access_context, audited
from verwijsindex.http.deps import Ctx, MunicipalityAdminDep
from verwijsindex.http.schemas import READ_PROBLEMS, WRITE_PROBLEMS, problem_responses
from verwijsindex.organisations.service import Principal

router = APIRouter(prefix="/v1/municipalities", tags=["covenants"])

Code = Annotated[
    str,
    Path(pattern="^[0-9]{4}$", description="CBS municipality code", examples=["0363"]),
]
_READ = problem_responses(*READ_PROBLEMS)
_WRITE = problem_responses(*WRITE_PROBLEMS, 409)


def _admin(principal: Principal) -> MunicipalityAdmin:
    return MunicipalityAdmin(
        organisation_id=principal.organisation_id,
        api_key_id=principal.api_key_id,
        role=principal.role,
    )


@router.get(
    "/{code}/covenant",
    response_model=CovenantOut,
    responses=_READ,
    summary="Read the municipality's covenant (or the default)",
    dependencies=[audited(Operation.COVENANT_READ, ref_type="covenant", ref_param="code")],
)
async def get_covenant(
    code: Code, ctx: Ctx, principal: MunicipalityAdminDep, request: Request
) -> CovenantOut:
    """The current version; a municipality without a covenant gets the documented default
    (`"default": true`, version 0). 403 for another municipality's."""
    covenant = await ctx.covenants.read(access_context(request), _admin(principal), code)
    return CovenantOut.of(covenant)


@router.put(
    "/{code}/covenant",
    response_model=CovenantOut,
    responses=_WRITE,
    summary="Replace the municipality's covenant (a new version)",
    dependencies=[audited(Operation.COVENANT_UPDATE, ref_type="covenant", ref_param="code")],
)
async def put_covenant(
    code: Code, body: CovenantIn, ctx: Ctx, principal: MunicipalityAdminDep, request: Request
) -> CovenantOut:
    """A new version from now on; matches that started under an earlier version keep it.
    Every version records who changed it and when (`GET …/covenant/versions`)."""
    terms = ctx.covenants.validate(
        coordinator_sectors=[s.value for s in body.coordinator_sectors],
        respond_within=body.respond_within,
        coordinate_within=body.coordinate_within,
        inform_within=body.inform_within,
        earlier_involvement_enabled=body.earlier_involvement.enabled,
        earlier_involvement_retention=body.earlier_involvement.retention,
    )
    covenant = await ctx.covenants.replace(access_context(request), _admin(principal), code, terms)
    return CovenantOut.of(covenant)


@router.get(
    "/{code}/covenant/versions",
    response_model=CovenantVersions,
    responses=_READ,
    summary="Every version of the municipality's covenant: who changed it and when",
    dependencies=[audited(Operation.COVENANT_VERSIONS, ref_type="covenant", ref_param="code")],
)
async def list_covenant_versions(
    code: Code, ctx: Ctx, principal: MunicipalityAdminDep, request: Request
) -> CovenantVersions:
    versions = await ctx.covenants.versions(access_context(request), _admin(principal), code)
    return CovenantVersions(items=[CovenantOut.of(v) for v in versions])
