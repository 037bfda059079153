"""What the match and family-match routes share: the organisation's list, paged by keyset,
and a participant's organisation and professional."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal, Protocol, TypeVar

from fastapi import Request

from verwijsindex.http.access import access_context
from verwijsindex.http.pagination import Keyed, decode_cursor, next_cursor
from verwijsindex.http.schemas import OrganisationRef, ProfessionalContact

ListStatus = Literal["open", "closed", "all"]
"""The status filter of a list: ``open``, ``closed``, or ``all`` for history within
retention."""

_Item = TypeVar("_Item", bound=Keyed)

Pager = Callable[..., Awaitable[tuple[list[_Item], bool]]]
"""A service's ``page``: the organisation's items after a cursor, and whether more follow."""


async def organisation_page(
    pager: Pager[_Item],
    request: Request,
    organisation_id: str,
    status: ListStatus,
    cursor: str | None,
    limit: int,
) -> tuple[list[_Item], str | None]:
    """One page of the organisation's items and the next page's cursor (None on the last)."""
    page, more = await pager(
        access_context(request),
        organisation_id=organisation_id,
        status=None if status == "all" else status,
        after=decode_cursor(cursor),
        limit=limit,
    )
    return page, next_cursor(page, more)


class Participating(Protocol):
    """An organisation's professional as a read shows them."""

    @property
    def organisation_id(self) -> str: ...

    @property
    def organisation_name(self) -> str: ...

    @property
    def organisation_sector(self) -> str: ...

    @property
    def professional_name(self) -> str: ...

    @property
    def professional_email(self) -> str: ...

    @property
    def professional_phone(self) -> str: ...


def organisation_ref(p: Participating) -> OrganisationRef:
    return OrganisationRef(
        id=p.organisation_id, name=p.organisation_name, sector=p.organisation_sector
    )


def professional_contact(p: Participating) -> ProfessionalContact:
    return ProfessionalContact(
        name=p.professional_name, email=p.professional_email, phone=p.professional_phone
    )
