"""Least privilege in the portal: every portal route × every kind of browser → the exact
status. The routes come from ``app.routes``: a portal page added later fails this test until
it has a row (and a row for a page that no longer exists fails too).

Kinds: no session; professional P of organisation A (owner of the resources); A's org admin
(another professional of A, not a participant of P's registrations); a professional of B;
B's org admin. Every POST carries the browser's own session's CSRF token."""

from __future__ import annotations

import re

import fastapi.routing
import httpx
from fastapi import FastAPI

from tests.conftest import make_bsn
from tests.verwijsindex.portal.helpers import csrf_of, make_account, sign_in
from verwijsindex.context import AppContext

ANON, PRO, ADMIN, OTHER, OTHER_ADMIN = (
    "anonymous",
    "professional",
    "org-admin",
    "other",
    "other-admin",
)
KINDS = (ANON, PRO, ADMIN, OTHER, OTHER_ADMIN)


def _e(anon: int, pro: int, admin: int, other: int, other_admin: int) -> dict[str, int]:
    return dict(zip(KINDS, (anon, pro, admin, other, other_admin), strict=True))


# (method, route template) → (concrete path, form data, expected status per kind)
MATRIX: dict[tuple[str, str], tuple[str, dict[str, str], dict[str, int]]] = {
    ("GET", "/portal/"): ("/portal/", {}, _e(303, 303, 303, 303, 303)),
    ("GET", "/portal/taal/{language}"): ("/portal/taal/en", {}, _e(303, 303, 303, 303, 303)),
    ("GET", "/portal/aanmelden"): ("/portal/aanmelden", {}, _e(200, 303, 303, 303, 303)),
    ("POST", "/portal/aanmelden"): ("/portal/aanmelden", {}, _e(422, 422, 422, 422, 422)),
    # No identity provider configured here: the OpenID Connect pages do not exist.
    ("GET", "/portal/oidc/start"): ("/portal/oidc/start", {}, _e(404, 404, 404, 404, 404)),
    ("GET", "/portal/oidc/callback"): ("/portal/oidc/callback", {}, _e(404, 404, 404, 404, 404)),
    ("GET", "/portal/registraties"): ("/portal/registraties", {}, _e(303, 200, 200, 200, 200)),
    ("GET", "/portal/registraties/nieuw"): (
        "/portal/registraties/nieuw",
        {},
        _e(303, 200, 200, 200, 200),
    ),
    ("POST", "/portal/registraties/nieuw"): (
        "/portal/registraties/nieuw",
        {},
        _e(303, 422, 422, 422, 422),
    ),
    ("GET", "/portal/registraties/{registration_id}"): (
        "/portal/registraties/{registration}",
        {},
        _e(303, 200, 404, 404, 404),
    ),
    ("POST", "/portal/registraties/{registration_id}/intrekken"): (
        "/portal/registraties/{registration}/intrekken",
        {},
        _e(303, 422, 404, 404, 404),
    ),
    ("POST", "/portal/registraties/{registration_id}/verlengen"): (
        "/portal/registraties/{registration}/verlengen",
        {},
        _e(303, 422, 404, 404, 404),
    ),
    ("POST", "/portal/registraties/{registration_id}/geinformeerd"): (
        "/portal/registraties/{registration}/geinformeerd",
        {},
        _e(303, 422, 404, 404, 404),
    ),
    ("POST", "/portal/registraties/{registration_id}/uitgesteld"): (
        "/portal/registraties/{registration}/uitgesteld",
        {},
        _e(303, 422, 404, 404, 404),
    ),
    ("GET", "/portal/meldingen"): ("/portal/meldingen", {}, _e(303, 200, 200, 200, 200)),
    ("POST", "/portal/meldingen"): ("/portal/meldingen", {}, _e(303, 303, 303, 303, 303)),
    # The municipality's pages: none of these browsers is a municipality's org admin
    # (tests/verwijsindex/portal/test_municipality.py signs one in).
    ("GET", "/portal/gemeente/convenant"): (
        "/portal/gemeente/convenant",
        {},
        _e(303, 403, 403, 403, 403),
    ),
    ("POST", "/portal/gemeente/convenant"): (
        "/portal/gemeente/convenant",
        {},
        _e(303, 403, 403, 403, 403),
    ),
    ("GET", "/portal/gemeente/statistieken"): (
        "/portal/gemeente/statistieken",
        {},
        _e(303, 403, 403, 403, 403),
    ),
    ("GET", "/portal/gemeente/statistieken.csv"): (
        "/portal/gemeente/statistieken.csv",
        {},
        _e(303, 403, 403, 403, 403),
    ),
    # Any other /portal/ path: the portal's HTML 404 page, for everyone.
    ("GET", "/portal/{rest:path}"): ("/portal/bestaat-niet", {}, _e(404, 404, 404, 404, 404)),
    ("GET", "/portal/matches"): ("/portal/matches", {}, _e(303, 200, 200, 200, 200)),
    ("GET", "/portal/matches/{match_id}"): (
        "/portal/matches/{match}",
        {},
        _e(303, 200, 404, 404, 404),
    ),
    ("POST", "/portal/matches/{match_id}/toestemming"): (
        "/portal/matches/{match}/toestemming",
        {},
        _e(303, 422, 404, 404, 404),
    ),
    ("POST", "/portal/matches/{match_id}/regie/{action}"): (
        "/portal/matches/{match}/regie/escalate",
        {},
        _e(303, 422, 404, 404, 404),
    ),
    ("GET", "/portal/gezinsmatches"): ("/portal/gezinsmatches", {}, _e(303, 200, 200, 200, 200)),
    ("GET", "/portal/gezinsmatches/{family_match_id}"): (
        "/portal/gezinsmatches/{family}",
        {},
        _e(303, 200, 404, 404, 404),
    ),
    ("GET", "/portal/uitwisselingen"): ("/portal/uitwisselingen", {}, _e(303, 200, 200, 200, 200)),
    ("GET", "/portal/beheer/professionals"): (
        "/portal/beheer/professionals",
        {},
        _e(303, 403, 200, 403, 200),
    ),
    ("POST", "/portal/beheer/professionals"): (
        "/portal/beheer/professionals",
        {},
        _e(303, 403, 422, 403, 422),
    ),
    ("POST", "/portal/beheer/professionals/{professional_id}/tweede-factor"): (
        "/portal/beheer/professionals/{target}/tweede-factor",
        {},
        _e(303, 403, 200, 403, 404),
    ),
    ("POST", "/portal/beheer/professionals/{professional_id}/deactiveren"): (
        "/portal/beheer/professionals/{target}/deactiveren",
        {},
        _e(303, 403, 303, 403, 404),
    ),
    ("GET", "/portal/beheer/api-sleutels"): (
        "/portal/beheer/api-sleutels",
        {},
        _e(303, 403, 200, 403, 200),
    ),
    ("POST", "/portal/beheer/api-sleutels"): (
        "/portal/beheer/api-sleutels",
        {},
        _e(303, 403, 422, 403, 422),
    ),
    ("POST", "/portal/beheer/api-sleutels/{key_id}/intrekken"): (
        "/portal/beheer/api-sleutels/{key}/intrekken",
        {},
        _e(303, 403, 303, 403, 404),
    ),
    ("GET", "/portal/beheer/webhooks"): (
        "/portal/beheer/webhooks",
        {},
        _e(303, 403, 200, 403, 200),
    ),
    ("POST", "/portal/beheer/webhooks"): (
        "/portal/beheer/webhooks",
        {},
        _e(303, 403, 422, 403, 422),
    ),
    ("GET", "/portal/beheer/webhooks/{endpoint_id}"): (
        "/portal/beheer/webhooks/{endpoint}",
        {},
        _e(303, 403, 200, 403, 404),
    ),
    ("POST", "/portal/beheer/webhooks/{endpoint_id}/berichten/{message_id}/opnieuw"): (
        "/portal/beheer/webhooks/{endpoint}/berichten/msg_unknown/opnieuw",
        {},
        _e(303, 403, 404, 403, 404),
    ),
    # Last: it ends the session.
    ("POST", "/portal/afmelden"): ("/portal/afmelden", {}, _e(303, 303, 303, 303, 303)),
}


def portal_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(iterate(app.routes)) if iterate is not None else list(app.routes)
    found: set[tuple[str, str]] = set()
    for route in routes:
        path = getattr(route, "path", "")
        methods = getattr(route, "methods", None)
        if path.startswith("/portal") and methods:
            found.update((m, path) for m in set(methods) - {"HEAD"})
    return found


def test_every_portal_page_has_a_row(app: FastAPI) -> None:
    endpoints = portal_endpoints(app)
    assert sorted(endpoints - MATRIX.keys()) == []
    assert sorted(MATRIX.keys() - endpoints) == []


async def test_exact_status_for_every_portal_page_and_browser(
    app: FastAPI, ctx: AppContext
) -> None:
    pro = await make_account(ctx, 0)
    admin = await make_account(ctx, 1, org_admin=True, organisation_id=pro.organisation_id)
    target = await make_account(ctx, 2, organisation_id=pro.organisation_id)
    other = await make_account(ctx, 3)
    other_admin = await make_account(ctx, 4, org_admin=True, organisation_id=other.organisation_id)
    matcher = await make_account(ctx, 5)
    transport = httpx.ASGITransport(app=app)
    clients = {
        kind: httpx.AsyncClient(transport=transport, base_url="http://testserver") for kind in KINDS
    }
    try:
        for kind, account in (
            (PRO, pro),
            (ADMIN, admin),
            (OTHER, other),
            (OTHER_ADMIN, other_admin),
        ):
            assert (await sign_in(clients[kind], ctx, account)).status_code == 303
        # P's registration and its match (with a professional of a third organisation).
        registration = (
            await clients[PRO].post(
                "/v1/registrations",
                json={"bsn": "123456782", "birth_date": "2011-04-17"},
                headers=pro.api_headers,
            )
        ).json()
        matched = (
            await clients[PRO].post(
                "/v1/registrations",
                json={"bsn": "123456782", "birth_date": "2011-04-17"},
                headers=matcher.api_headers,
            )
        ).json()
        # A sibling registered by the matcher with the same parent: a family match.
        family = (
            await clients[PRO].post(
                "/v1/registrations",
                json={
                    "bsn": make_bsn(11),
                    "birth_date": "2013-02-03",
                    "parents": [{"bsn": make_bsn(13)}],
                },
                headers=pro.api_headers,
            )
        ).json()
        sibling = (
            await clients[PRO].post(
                "/v1/registrations",
                json={
                    "bsn": make_bsn(12),
                    "birth_date": "2014-03-04",
                    "parents": [{"bsn": make_bsn(13)}],
                },
                headers=matcher.api_headers,
            )
        ).json()
        assert sibling.get("family_match_id"), (family, sibling)
        key = await ctx.api_keys.issue(
            organisation_id=pro.organisation_id, role="reviewer", expires_in_days=None
        )
        endpoint = await ctx.webhooks.create_endpoint(
            organisation_id=pro.organisation_id,
            url="http://127.0.0.1:9/hook",
            description="",
            ed25519=False,
        )
        values = {
            "registration": registration["id"],
            "match": matched["match_id"],
            "family": sibling["family_match_id"],
            "target": target.professional_id,
            "key": key.id,
            "endpoint": endpoint.endpoint.id,
        }
        failures = []
        for (method, template), (path, data, expected) in MATRIX.items():
            url = path.format(**values)
            for kind in KINDS:
                client = clients[kind]
                if method == "GET":
                    answer = await client.get(url)
                else:
                    shown = await client.get("/portal/aanmelden")
                    if shown.status_code != 200:
                        shown = await client.get("/portal/registraties")
                    token = csrf_of(shown.text)
                    answer = await client.post(url, data={"csrf_token": token, **data})
                if answer.status_code != expected[kind]:
                    failures.append(
                        f"{method} {template} as {kind}: {answer.status_code},"
                        f" expected {expected[kind]}"
                    )
                if answer.status_code == 303 and expected[kind] == 303 and kind == ANON:
                    if not template.startswith(("/portal/taal", "/portal/afmelden")):
                        assert re.match(r"/portal/aanmelden", answer.headers["location"]), url
        assert not failures, "\n".join(failures)
    finally:
        for client in clients.values():
            await client.aclose()
