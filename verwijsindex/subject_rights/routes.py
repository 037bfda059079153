"""``/v1/subject-access`` and ``/v1/subject-erasure`` (AVG art. 15 and 17), for the
municipality's ``privacy-officer``. The BSN travels in the POST body, never in a URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from verwijsindex.accesslog import Operation
from verwijsindex.accesslog.routes import entry_out
from verwijsindex.accesslog.schemas import (
    ErasureExtensionOut,
    FamilyMatchRefOut,
    InformingStateOut,
    ParentAccessOut,
    ParentAccessRequest,
    ParentErasureOut,
    ParentErasureRequest,
    ParentLinkOut,
    SubjectAccessOut,
    SubjectAccessRequest,
    SubjectCrossRegionMatchOut,
    SubjectCrossRegionParticipantOut,
    SubjectErasureOut,
    SubjectErasureRequest,
    SubjectMatchOut,
    SubjectParticipantOut,
    SubjectRegistrationOut,
)
from verwijsindex.http.access import access_context, audited
from verwijsindex.http.deps import Ctx, require_role
from verwijsindex.http.schemas import WRITE_PROBLEMS, OrganisationRef, problem_responses
from verwijsindex.organisations.models import Organisation, Role
from verwijsindex.organisations.service import Principal
from verwijsindex.registrations.models import Registration

router = APIRouter(prefix="/v1", tags=["subject rights"])

_PROBLEMS = problem_responses(*WRITE_PROBLEMS)
PrivacyOfficerDep = Annotated[Principal, require_role(Role.PRIVACY_OFFICER)]


def _org(o: Organisation) -> OrganisationRef:
    return OrganisationRef(id=o.id, name=o.name, sector=o.sector)


def _registration(r: Registration, o: Organisation) -> SubjectRegistrationOut:
    return SubjectRegistrationOut(
        id=r.id,
        organisation=_org(o),
        municipality=r.municipality,
        created_at=r.created_at,
        status=r.status,
        ended_at=r.ended_at,
        end_reason=r.end_reason,
    )


@router.post(
    "/subject-access",
    response_model=SubjectAccessOut,
    responses=_PROBLEMS,
    summary="Right of access: what the index holds about a youth",
    dependencies=[audited(Operation.SUBJECT_ACCESS)],
)
async def subject_access(
    body: SubjectAccessRequest, ctx: Ctx, principal: PrivacyOfficerDep, request: Request
) -> SubjectAccessOut:
    """The youth's registrations, matches and the access-log entries about them (by
    access-log pseudonym under every key version, and by registration and match reference).
    The request itself is recorded in the access log."""
    bsn = ctx.subject_rights.parse(body.bsn, body.birth_date)
    report = await ctx.subject_rights.request_access(
        access_context(request), bsn=bsn, actor_organisation_id=principal.organisation_id
    )
    return SubjectAccessOut(
        registrations=[_registration(r.registration, r.organisation) for r in report.registrations],
        matches=[
            SubjectMatchOut(
                id=m.match.id,
                created_at=m.match.created_at,
                status=m.match.status,
                closed_at=m.match.closed_at,
                participants=[
                    SubjectParticipantOut(
                        registration_id=p.registration_id,
                        organisation=_org(o),
                        joined_at=p.joined_at,
                        left_at=p.left_at,
                    )
                    for p, o in m.participants
                ],
            )
            for m in report.matches
        ],
        cross_region_matches=[
            SubjectCrossRegionMatchOut(
                id=m.match.id,
                created_at=m.match.created_at,
                status=m.match.status,
                closed_at=m.match.closed_at,
                participants=[
                    SubjectCrossRegionParticipantOut(
                        region=p.region,
                        registration_id=p.registration_id,
                        organisation=None
                        if p.organisation is None
                        else OrganisationRef(
                            id=p.organisation[0], name=p.organisation[1], sector=p.organisation[2]
                        ),
                        joined_at=p.joined_at,
                        left_at=p.left_at,
                    )
                    for p in m.participants
                ],
            )
            for m in report.cross_region_matches
        ],
        access_log=[entry_out(r) for r in report.access_log],
    )


@router.post(
    "/subject-erasure",
    response_model=SubjectErasureOut,
    responses=_PROBLEMS,
    summary="Right to erasure: end and delete everything the index holds about a youth",
    dependencies=[audited(Operation.SUBJECT_ERASURE)],
)
async def subject_erasure(
    body: SubjectErasureRequest, ctx: Ctx, principal: PrivacyOfficerDep, request: Request
) -> SubjectErasureOut:
    """Ends every active registration (end reason ``erasure``, with the usual webhook events),
    then deletes the youth's registrations, match participations and matches at once, and
    calls the registered erasure hooks. The access log keeps its records (they hold only the
    keyed access-log pseudonym and references) and records this erasure."""
    bsn = ctx.subject_rights.parse(body.bsn)
    report = await ctx.subject_rights.request_erasure(
        access_context(request),
        bsn=bsn,
        reason=body.reason,
        request_reference=body.request_reference,
        actor_organisation_id=principal.organisation_id,
    )
    assert report.completed_at is not None
    return SubjectErasureOut(
        request_reference=body.request_reference,
        ended_registrations=report.ended_registrations,
        erased_registrations=report.erased_registrations,
        erased_matches=report.erased_matches,
        erased_participations=report.erased_participations,
        completed_at=report.completed_at,
        extensions=[ErasureExtensionOut(name=e.name, erased=e.erased) for e in report.extensions],
    )


@router.post(
    "/subject-access/parent",
    response_model=ParentAccessOut,
    responses=_PROBLEMS,
    summary="Right of access: the registrations that name a parent or guardian",
    dependencies=[audited(Operation.SUBJECT_ACCESS)],
)
async def parent_access(
    body: ParentAccessRequest, ctx: Ctx, principal: PrivacyOfficerDep, request: Request
) -> ParentAccessOut:
    """What the index holds about a parent or guardian: the active registrations that name
    them, each with its latest record of the duty to inform and whether it may be disclosed
    to the parent (only when the parents were informed; ADR 0024). The request is recorded in
    the access log under the parent's access-log pseudonym."""
    bsn = ctx.subject_rights.parse(body.bsn)
    report = await ctx.parent_rights.request_access(
        access_context(request), bsn=bsn, actor_organisation_id=principal.organisation_id
    )
    return ParentAccessOut(
        links=[
            ParentLinkOut(
                registration=_registration(link.registration, link.organisation),
                informing=None
                if link.informing is None
                else InformingStateOut(
                    status=link.informing.status,
                    youth_informed=link.informing.youth_informed,
                    parents_informed=link.informing.parents_informed,
                    informed_on=link.informing.informed_on,
                    revisit_on=link.informing.revisit_on,
                ),
                disclose=link.disclose,
                family_match=None
                if link.family_match is None
                else FamilyMatchRefOut(
                    id=link.family_match.id,
                    status=link.family_match.status,
                    created_at=link.family_match.created_at,
                ),
            )
            for link in report.links
        ]
    )


@router.post(
    "/subject-erasure/parent",
    response_model=ParentErasureOut,
    responses=_PROBLEMS,
    summary="Erasure for a parent or guardian: remove their links to registrations",
    dependencies=[audited(Operation.SUBJECT_ERASURE)],
)
async def parent_erasure(
    body: ParentErasureRequest, ctx: Ctx, principal: PrivacyOfficerDep, request: Request
) -> ParentErasureOut:
    """Removes every link naming the parent; the registrations stay (they are the youths').
    Family matches the linked registrations take part in are looked at again: a participant
    left without a shared parent leaves, and a family match below two participants closes,
    with the usual webhook events. Recorded in the access log under the parent's access-log
    pseudonym."""
    bsn = ctx.subject_rights.parse(body.bsn)
    report = await ctx.parent_rights.request_erasure(
        access_context(request),
        bsn=bsn,
        reason=body.reason,
        request_reference=body.request_reference,
        actor_organisation_id=principal.organisation_id,
    )
    return ParentErasureOut(
        request_reference=body.request_reference,
        unlinked_registrations=report.unlinked_registrations,
        family_matches_changed=report.family_matches_changed,
        completed_at=report.completed_at,
    )
