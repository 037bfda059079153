"""``/v1/audit``: the consent ledger for auditors, reviewers and the privacy officer.

Who sees what (docs/security.md, "Roles"):

- every reader: checkpoints, the public key, proofs, and each entry's index, leaf hash and
  time (the ledger's public interface);
- ``auditor`` (appointed on the command line): every entry's metadata (the leaf data);
- ``reviewer``: the metadata of the entries its own organisation is a party to;
- ``privacy-officer``: every entry's metadata and its personal parts (professional ids, a legal
  ground's justification); each such read is recorded in the access log.

Nobody else gets a personal part."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from verwijsindex.http.access import access_context
from verwijsindex.http.deps import Ctx, PrincipalDep
from verwijsindex.http.problems import ApiProblem
from verwijsindex.http.schemas import READ_PROBLEMS, problem_responses
from verwijsindex.logging import get_logger
from verwijsindex.organisations.models import Role
from verwijsindex.organisations.service import Principal

router = APIRouter(prefix="/v1/audit", tags=["audit"])
log = get_logger(__name__)

_PROBLEMS = problem_responses(*READ_PROBLEMS)


_MAX_INDEX = 2**62  # log indexes and sizes; larger values are a 422, never an overflow


_LEDGER_READERS = (Role.AUDITOR, Role.REVIEWER, Role.PRIVACY_OFFICER)
_METADATA_OF_EVERY_ENTRY = (Role.AUDITOR, Role.PRIVACY_OFFICER)


async def _auditor(principal: PrincipalDep) -> Principal:
    if principal.role not in _LEDGER_READERS:
        raise ApiProblem(
            403,
            "forbidden-role",
            "only an auditor, a reviewer or the privacy officer may read the ledger",
        )
    return principal


def _is_party(record: str, organisation_id: str) -> bool:
    """Whether the organisation is named in the entry's metadata (either side of a consent
    event or an exchange)."""
    try:
        document = json.loads(record)
    except ValueError:
        return False
    return isinstance(document, dict) and names_party(document, organisation_id)


def names_party(document: dict[str, Any], organisation_id: str) -> bool:
    """Whether a metadata record names the organisation on either side."""
    return any(
        key.endswith("organisation_id") and value == organisation_id
        for key, value in document.items()
    )


def sees_every_entry(principal: Principal) -> bool:
    """Auditors and the privacy officer see every entry's metadata; a reviewer only the
    entries its organisation is a party to."""
    return principal.role in _METADATA_OF_EVERY_ENTRY


AuditorDep = Annotated[Principal, Depends(_auditor)]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


class PublicKeyOut(BaseModel):
    origin: str
    algorithm: str = "Ed25519"
    verifier_key: str = Field(description="C2SP note verifier key: <origin>+<key id>+<base64>")
    public_key: str = Field(description="Base64 of the raw 32-byte Ed25519 public key")


class EntryOut(BaseModel):
    index: int
    leaf_hash: str = Field(description="Base64 SHA-256(0x00 || data)")
    data: str | None = Field(
        description="The leaf data: canonical JSON metadata record, exactly. Null for a"
        " reviewer when its organisation is not a party to the entry"
    )
    salt: str | None = Field(
        description="Base64 salt of the commitment; null once erased, and for every caller"
        " but the privacy officer"
    )
    personal: str | None = Field(
        description="Canonical JSON of the committed personal fields (professional ids, a"
        " legal ground's justification); null once erased, and for every caller but the"
        " privacy officer"
    )
    personal_withheld: bool = Field(
        description="The entry has personal fields that this response does not show"
    )
    created_at: datetime


class EntriesOut(BaseModel):
    start: int
    end: int
    tree_size: int
    entries: list[EntryOut]


class InclusionProofOut(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    proof: list[str]


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, **_PROBLEMS},
    summary="The latest signed checkpoint (C2SP tlog-checkpoint as a signed note)",
)
async def checkpoint(ctx: Ctx, _: AuditorDep) -> PlainTextResponse:
    """Signs a new checkpoint when the log grew. If the stored log no longer extends the
    last signed checkpoint, nothing is signed: the last signed checkpoint is served with
    ``Ledger-Status: inconsistent`` (or 500 ``ledger-inconsistent`` when there is none)."""
    note, consistent = await ctx.ledger.checkpoint()
    return PlainTextResponse(
        note,
        media_type="text/plain; charset=utf-8",
        headers={"Ledger-Status": "ok" if consistent else "inconsistent"},
    )


@router.get("/public-key", response_model=PublicKeyOut, responses=_PROBLEMS)
async def public_key(ctx: Ctx, _: AuditorDep) -> PublicKeyOut:
    """The checkpoint signing key. Pin it out of band; the verifier refuses any other."""
    ledger = ctx.consent.ledger
    return PublicKeyOut(
        origin=ledger.origin,
        verifier_key=ledger.verifier_key,
        public_key=_b64(ledger.public_key_raw),
    )


@router.get("/entries", response_model=EntriesOut, responses=_PROBLEMS)
async def entries(
    ctx: Ctx,
    principal: AuditorDep,
    request: Request,
    start: Annotated[int, Query(ge=0, le=_MAX_INDEX)] = 0,
    end: Annotated[int | None, Query(ge=0, le=_MAX_INDEX)] = None,
) -> EntriesOut:
    """Entries ``start`` ≤ index < ``end`` (at most 1000; ``end`` defaults to that).
    An auditor sees every entry's metadata, a reviewer its own organisation's entries'
    metadata; the personal parts (salt and personal fields) only the privacy officer, and
    that read is recorded in the access log."""
    include_personal = principal.role is Role.PRIVACY_OFFICER
    size, stop, rows = await ctx.ledger.entries(
        access_context(request), start=start, end=end, include_personal=include_personal
    )
    every_entry = sees_every_entry(principal)
    return EntriesOut(
        start=start,
        end=stop,
        tree_size=size,
        entries=[
            EntryOut(
                index=r.index,
                leaf_hash=_b64(r.leaf_hash),
                data=(
                    r.record
                    if every_entry or _is_party(r.record, principal.organisation_id)
                    else None
                ),
                salt=None if r.salt is None or not include_personal else _b64(r.salt),
                personal=r.personal if include_personal else None,
                personal_withheld=r.personal is not None and not include_personal,
                created_at=r.created_at,
            )
            for r in rows
        ],
    )


@router.get("/proofs/inclusion", response_model=InclusionProofOut, responses=_PROBLEMS)
async def inclusion_proof(
    ctx: Ctx,
    _: AuditorDep,
    index: Annotated[int, Query(ge=0, le=_MAX_INDEX)],
    tree_size: Annotated[int, Query(ge=1, le=_MAX_INDEX)],
) -> InclusionProofOut:
    """RFC 6962 audit path of leaf ``index`` in the tree of ``tree_size`` leaves."""
    leaf, proof = await ctx.ledger.inclusion_proof(index=index, tree_size=tree_size)
    return InclusionProofOut(
        index=index, tree_size=tree_size, leaf_hash=_b64(leaf), proof=[_b64(p) for p in proof]
    )


@router.get("/proofs/consistency", response_model=ConsistencyProofOut, responses=_PROBLEMS)
async def consistency_proof(
    ctx: Ctx,
    _: AuditorDep,
    first: Annotated[int, Query(ge=0, le=_MAX_INDEX)],
    second: Annotated[int, Query(ge=0, le=_MAX_INDEX)],
) -> ConsistencyProofOut:
    """RFC 6962 consistency proof from tree size ``first`` to ``second``."""
    proof = await ctx.ledger.consistency_proof(first=first, second=second)
    return ConsistencyProofOut(first=first, second=second, proof=[_b64(p) for p in proof])
