"""``/v1/api-keys``: an org-admin lists, issues and revokes its own organisation's keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from verwijsindex.http.deps import Ctx, OrgAdminDep
from verwijsindex.http.schemas import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyList,
    ApiKeyOut,
    problem_responses,
)
from verwijsindex.organisations.models import ApiKey

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])

_PROBLEMS = problem_responses(*READ_PROBLEMS)
_WRITE_PROBLEMS = problem_responses(*WRITE_PROBLEMS)


def _out(api_key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=api_key.id,
        prefix=api_key.prefix,
        organisation_id=api_key.organisation_id,
        role=api_key.role,
        created_at=api_key.created_at,
        last_used_at=api_key.last_used_at,
        expires_at=api_key.expires_at,
        revoked_at=api_key.revoked_at,
    )


@router.get("", response_model=ApiKeyList, responses=_PROBLEMS, summary="List own API keys")
async def list_api_keys(ctx: Ctx, principal: OrgAdminDep) -> ApiKeyList:
    """Every key of the caller's organisation, revoked and expired ones included."""
    keys = await ctx.api_keys.of_organisation(principal.organisation_id)
    return ApiKeyList(items=[_out(k) for k in keys])


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyIssued,
    responses=_WRITE_PROBLEMS,
    summary="Issue an API key (shown once)",
)
async def create_api_key(body: ApiKeyCreate, ctx: Ctx, principal: OrgAdminDep) -> ApiKeyIssued:
    """A new `professional` or `auditor` key for the caller's organisation. The response is
    the only time the key is shown; the index keeps a SHA-256 hash."""
    issued = await ctx.api_keys.issue(
        organisation_id=principal.organisation_id,
        role=body.role,
        expires_in_days=body.expires_in_days,
    )
    return ApiKeyIssued(
        id=issued.id,
        key=issued.key,
        prefix=issued.prefix,
        organisation_id=issued.organisation_id,
        role=issued.role,
        created_at=issued.created_at,
        last_used_at=None,
        expires_at=issued.expires_at,
        revoked_at=None,
    )


@router.post(
    "/{key_id}/revoke",
    response_model=ApiKeyOut,
    responses=_WRITE_PROBLEMS,
    summary="Revoke an API key",
)
async def revoke_api_key(
    key_id: Annotated[str, Path(max_length=64)], ctx: Ctx, principal: OrgAdminDep
) -> ApiKeyOut:
    """The key stops working at once in this process (401), and in other API processes within
    ``VERWIJSINDEX_AUTH_CACHE_SECONDS``. Revoking a revoked key changes nothing. A key of
    another organisation is 404."""
    api_key = await ctx.api_keys.revoke(organisation_id=principal.organisation_id, key_id=key_id)
    return _out(api_key)
