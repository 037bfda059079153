"""The organisation's side of blind registration: check each BSN's 11-test (the index can no
longer check it: it receives an OPRF output), blind the BSNs, have the key service evaluate
them, finalise them into subject tokens, and build the bodies the index receives. No BSN
leaves the organisation's process: the key service sees blinded elements, the index tokens.

Example::

    with KeyServiceClient(keyservice_url, api_key=ks_key) as keys:
        bodies = blind_bodies(keys, [Youth(bsn="111222333", birth_date="2012-05-01")])
    httpx.post(index_url + "/v1/registrations", json=bodies[0], headers=...)

Parents (``Youth.parents``) are blinded the same way and sent as
``"parents": [{"subject_token": …, "earlier_subject_tokens"?: […]}]``: the index accepts
parents by token beside a youth by token (never by BSN), and a family match forms with
siblings registered on either path (docs/family-match.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import crypto
from verwijsindex.keyservice.client import KeyServiceClient, YouthTokens


@dataclass(frozen=True)
class Youth:
    """One registration as the organisation's system knows it."""

    bsn: str = field(repr=False)
    birth_date: str = field(repr=False)
    municipality: str | None = None
    professional_id: str | None = None
    parents: tuple[str, ...] = field(default=(), repr=False)
    term: str | None = None


class InvalidYouth(ValueError):
    """A BSN fails the 11-test; caught before anything is sent. Never holds the value."""

    code = "invalid-bsn"


def check(youth: Youth) -> list[crypto.BSN]:
    """The youth's and parents' BSNs, checked (raises :class:`InvalidYouth`)."""
    try:
        return [crypto.parse_bsn(b) for b in (youth.bsn, *youth.parents)]
    except crypto.InvalidBSN as exc:
        raise InvalidYouth(str(exc)) from None


def _token_fields(tokens: YouthTokens) -> dict[str, Any]:
    fields: dict[str, Any] = {"subject_token": tokens.current}
    if tokens.earlier:
        fields["earlier_subject_tokens"] = list(tokens.earlier)
    return fields


def blind_bodies(keys: KeyServiceClient, youths: Sequence[Youth]) -> list[dict[str, Any]]:
    """The index's request bodies (single registration or batch items) for already checked
    youths, in order: all their BSNs (and parents') go to the key service in one batch."""
    checked = [check(y) for y in youths]
    tokens = keys.tokens([b for bsns in checked for b in bsns])
    bodies: list[dict[str, Any]] = []
    position = 0
    for youth, bsns in zip(youths, checked, strict=True):
        mine = tokens[position : position + len(bsns)]
        position += len(bsns)
        body: dict[str, Any] = {"birth_date": youth.birth_date, **_token_fields(mine[0])}
        if youth.municipality:
            body["municipality"] = youth.municipality
        if youth.professional_id:
            body["professional_id"] = youth.professional_id
        if youth.term:
            body["term"] = youth.term
        if youth.parents:
            body["parents"] = [_token_fields(t) for t in mine[1:]]
        bodies.append(body)
    return bodies
