"""The portal's navigation: one list, in the order shown.

A section of the portal adds its entry here: ``(path, label, who)`` where ``who`` is
``"professional"`` (every signed-in professional), ``"org-admin"`` or ``"municipality"``
(the org admin of an organisation of sector municipality). Labels are message
ids (English) translated in the templates. A match's coordination (regie) is on
the match's own page."""

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
    ("/portal/meldingen", "E-mail alerts", "professional"),
    ("/portal/beheer/professionals", "Professionals", "org-admin"),
    ("/portal/beheer/api-sleutels", "API keys", "org-admin"),
    ("/portal/beheer/webhooks", "Webhooks", "org-admin"),
    ("/portal/gemeente/convenant", "Covenant", "municipality"),
    ("/portal/gemeente/statistieken", "Statistics", "municipality"),
]


def navigation(user: PortalUser, path: str) -> list[NavItem]:
    items = []
    for href, label, who in ENTRIES:
        if who == "org-admin" and not user.org_admin:
            continue
        if who == "municipality" and not (user.org_admin and user.municipality):
            continue
        current = path == href or (
            path.startswith(href + "/")
            and not any(e[0] != href and path.startswith(e[0]) for e in ENTRIES)
        )
        items.append(NavItem(href, label, current))
    return items
