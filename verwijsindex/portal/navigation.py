"""The portal's navigation: one list, in the order shown.

A section of the portal adds its entry here: ``(path, label, who)`` where ``who`` is
``"professional"`` (every signed-in professional) or ``"org-admin"``. Labels are message
ids (English) translated in the templates. A match's coordination (regie) is on
the match's own page. A place is kept for sections still to come: the municipality's
covenant editor and statistics dashboard after the organisation's own admin pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verwijsindex.portal.service import PortalUser


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    label: str
    current: bool


ENTRIES: list[tuple[str, str, str]] = [
    ("/portal/registraties", "My registrations", "professional"),
    ("/portal/registraties/nieuw", "Register a worry", "professional"),
    ("/portal/matches", "My matches", "professional"),
    ("/portal/gezinsmatches", "Family matches", "professional"),
    ("/portal/uitwisselingen", "Exchange inbox", "professional"),
    ("/portal/beheer/professionals", "Professionals", "org-admin"),
    ("/portal/beheer/api-sleutels", "API keys", "org-admin"),
    ("/portal/beheer/webhooks", "Webhooks", "org-admin"),
    # the municipality's covenant editor and statistics dashboard go here
]


def navigation(user: PortalUser, path: str) -> list[NavItem]:
    items = []
    for href, label, who in ENTRIES:
        if who == "org-admin" and not user.org_admin:
            continue
        current = path == href or (
            path.startswith(href + "/")
            and not any(e[0] != href and path.startswith(e[0]) for e in ENTRIES)
        )
        items.append(NavItem(href, label, current))
    return items
