"""The professional's and the org admin's pages, through the portal as a browser uses it
(cookies, CSRF tokens, POST/redirect/GET). Both databases."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from tests.verwijsindex.portal.helpers import (
    PASSWORD,
    Account,
    csrf_of,
    form_post,
    make_account,
    sign_in,
)
from verwijsindex.accesslog import AccessLogRecord
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext

BSN = "123456782"
BIRTH = "2011-04-17"


def _needles() -> list[str]:
    return [BSN, BIRTH, "17-04-2011", "20110417"]


async def _register(
    client: httpx.AsyncClient, bsn: str = BSN, birth: str = BIRTH
) -> httpx.Response:
    return await form_post(
        client,
        "/portal/registraties/nieuw",
        "/portal/registraties/nieuw",
        {"bsn": bsn, "birth_date": birth},
    )


async def _signed_in(client: httpx.AsyncClient, ctx: AppContext, account: Account) -> None:
    assert (await sign_in(client, ctx, account)).status_code == 303


async def test_register_a_worry_post_redirect_get_and_nothing_personal_after(
    ctx: AppContext, browser: httpx.AsyncClient, second_browser: httpx.AsyncClient
) -> None:
    a = await make_account(ctx, 0)
    b = await make_account(ctx, 1)
    await _signed_in(browser, ctx, a)
    form = await browser.get("/portal/registraties/nieuw")
    assert 'autocomplete="off"' in form.text and 'src="/portal/static/bsn.js"' in form.text

    posted = await _register(browser)
    assert posted.status_code == 303
    location = posted.headers["location"]
    assert re.fullmatch(r"/portal/registraties/[0-9a-f-]{36}", location)
    shown = await browser.get(location)
    assert shown.status_code == 200 and "actief" in shown.text
    pages = [shown.text, (await browser.get("/portal/registraties")).text]

    # A second professional (another organisation) registers the same youth: a match.
    await _signed_in(second_browser, ctx, b)
    second = await _register(second_browser)
    assert second.status_code == 303
    registration_page = await second_browser.get(second.headers["location"])
    match_link = re.search(r'href="(/portal/matches/[0-9a-f-]{36})"', registration_page.text)
    assert match_link, "the registration page links to its match"
    match_page = await second_browser.get(match_link.group(1))
    assert match_page.status_code == 200
    # The other professional's contact details, both ways.
    assert "Professional 0" in match_page.text and "pro0@org.example" in match_page.text
    first_sees = await browser.get(match_link.group(1))
    assert "Professional 1" in first_sees.text and "+31 20 555 1001" in first_sees.text
    matches = await browser.get("/portal/matches")
    assert match_link.group(1) in matches.text
    pages += [registration_page.text, match_page.text, first_sees.text, matches.text]

    # A BSN failing the 11-test: 422 with an error summary, and the value not sent back.
    bad = await _register(browser, bsn="123456789")
    assert bad.status_code == 422
    assert 'class="error-summary"' in bad.text and 'href="#bsn"' in bad.text
    assert "123456789" not in bad.text
    pages.append(bad.text)
    for page in pages:
        for needle in _needles():
            assert needle not in page


async def test_withdraw_with_a_reason(ctx: AppContext, browser: httpx.AsyncClient) -> None:
    a = await make_account(ctx, 0)
    await _signed_in(browser, ctx, a)
    location = (await _register(browser)).headers["location"]
    no_reason = await form_post(browser, location, location + "/intrekken", {"reason": ""})
    assert no_reason.status_code == 422 and 'href="#reason"' in no_reason.text
    done = await form_post(browser, location, location + "/intrekken", {"reason": "risk_resolved"})
    assert done.status_code == 303
    page = await browser.get(location)
    assert "ingetrokken" in page.text and "risico weggenomen" in page.text
    again = await form_post(browser, location, location + "/intrekken", {"reason": "other"})
    assert again.status_code == 409 and 'href="#reason"' in again.text
    async with ctx.database.read() as session:
        ops = (
            await session.execute(
                select(AccessLogRecord.operation, AccessLogRecord.professional_id).where(
                    AccessLogRecord.operation.in_(["registration.create", "registration.withdraw"])
                )
            )
        ).all()
    assert sorted(ops) == [
        ("registration.create", a.professional_id),
        ("registration.withdraw", a.professional_id),
    ]


async def test_record_consent_on_a_match(
    ctx: AppContext, browser: httpx.AsyncClient, second_browser: httpx.AsyncClient
) -> None:
    a = await make_account(ctx, 0)
    b = await make_account(ctx, 1)
    await _signed_in(browser, ctx, a)
    await _signed_in(second_browser, ctx, b)
    await _register(browser)
    await _register(second_browser)
    matches = await browser.get("/portal/matches")
    path = re.search(r'href="(/portal/matches/[0-9a-f-]{36})"', matches.text)
    assert path
    match_page = await browser.get(path.group(1))
    assert "Bij deze match is nog geen toestemming vastgelegd." in match_page.text
    body = {
        "counterpart": b.organisation_id,
        "event": "given",
        "grantor": "parent",
        "purpose": "care-coordination",
        "direction": "both",
        "method": "written",
        "categories": "care",
        "subject_birth_date": BIRTH,
    }
    recorded = await browser.post(
        path.group(1) + "/toestemming", data={"csrf_token": csrf_of(match_page.text), **body}
    )
    assert recorded.status_code == 303, recorded.text[-2000:]
    after = await browser.get(path.group(1))
    assert "zorgcoördinatie" in after.text and "gegeven" in after.text
    assert BIRTH not in after.text
    # The other participant sees it too.
    other = await second_browser.get(path.group(1))
    assert "zorgcoördinatie" in other.text
    missing = await browser.post(
        path.group(1) + "/toestemming",
        data={"csrf_token": csrf_of(after.text), **{**body, "categories": ""}},
    )
    assert missing.status_code == 422 and 'href="#categories"' in missing.text
    assert BIRTH not in missing.text


async def test_a_professional_sees_only_their_own(
    ctx: AppContext, browser: httpx.AsyncClient, second_browser: httpx.AsyncClient
) -> None:
    a = await make_account(ctx, 0)
    colleague = await make_account(ctx, 5, organisation_id=a.organisation_id)
    await _signed_in(browser, ctx, a)
    location = (await _register(browser)).headers["location"]
    await _signed_in(second_browser, ctx, colleague)
    assert (await second_browser.get(location)).status_code == 404
    mine = await second_browser.get("/portal/registraties")
    assert location not in mine.text
    # Not an org admin: the admin pages are closed.
    assert (await second_browser.get("/portal/beheer/professionals")).status_code == 403


async def test_org_admin_adds_deactivates_and_resets(
    ctx: AppContext, browser: httpx.AsyncClient, second_browser: httpx.AsyncClient
) -> None:
    admin = await make_account(ctx, 0, org_admin=True)
    await _signed_in(browser, ctx, admin)
    page = await browser.get("/portal/beheer/professionals")
    assert page.status_code == 200 and "Professional 0" in page.text
    added = await browser.post(
        "/portal/beheer/professionals",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "Nieuwe Collega",
            "email": "nieuw@org.example",
            "phone": "+31 20 555 7777",
        },
    )
    assert added.status_code == 201
    password = re.search(r'id="issued-password">([^<]+)<', added.text)
    secret = re.search(r'id="issued-secret">([^<]+)<', added.text)
    assert password and secret
    assert "otpauth://totp/" in added.text
    # The new professional signs in with what was shown once.
    new = Account(admin.organisation_id, "", "nieuw@org.example", secret.group(1))
    signed = await sign_in(second_browser, ctx, new, password=password.group(1))
    assert signed.status_code == 303
    listing = await browser.get("/portal/beheer/professionals")
    assert password.group(1) not in listing.text and secret.group(1) not in listing.text
    professional_id = re.search(
        r'/portal/beheer/professionals/([0-9a-f-]{36})/tweede-factor"[^<]*<input[^>]*>'
        r"<button[^>]*>[^<]*<span[^>]*> Nieuwe Collega",
        listing.text,
    )
    assert professional_id, listing.text
    pid = professional_id.group(1)
    reset = await form_post(
        browser, "/portal/beheer/professionals", f"/portal/beheer/professionals/{pid}/tweede-factor"
    )
    assert reset.status_code == 200
    new_secret = re.search(r'id="issued-secret">([^<]+)<', reset.text)
    assert new_secret and new_secret.group(1) != secret.group(1)
    # Reset ends the professional's sessions.
    assert (await second_browser.get("/portal/registraties")).status_code == 303
    deactivated = await form_post(
        browser, "/portal/beheer/professionals", f"/portal/beheer/professionals/{pid}/deactiveren"
    )
    assert deactivated.status_code == 303
    new.totp_secret = new_secret.group(1)
    refused = await sign_in(second_browser, ctx, new, password=password.group(1))
    assert refused.status_code == 401
    assert "gedeactiveerd" in (await browser.get("/portal/beheer/professionals")).text
    async with ctx.database.read() as session:
        ops = (
            (
                await session.execute(
                    select(AccessLogRecord.operation).where(
                        AccessLogRecord.operation.like("admin.%"),
                        AccessLogRecord.subject_ref == pid,
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(ops) == [
        "admin.create-professional",
        "admin.deactivate-professional",
        "admin.reset-second-factor",
    ]


async def test_org_admin_api_keys_and_webhooks(ctx: AppContext, browser: httpx.AsyncClient) -> None:
    admin = await make_account(ctx, 0, org_admin=True)
    await _signed_in(browser, ctx, admin)
    issued = await form_post(
        browser, "/portal/beheer/api-sleutels", "/portal/beheer/api-sleutels", {"role": "reviewer"}
    )
    assert issued.status_code == 201
    key = re.search(r'id="issued-key"[^>]*>([^<]+)<', issued.text)
    assert key and key.group(1).startswith("vi_test_")
    listing = await browser.get("/portal/beheer/api-sleutels")
    assert key.group(1) not in listing.text and key.group(1)[:16] in listing.text
    answer = httpx.AsyncClient(transport=browser._transport, base_url="http://testserver")
    async with answer as api:
        r = await api.get(
            "/v1/audit/access-log", headers={"Authorization": f"Bearer {key.group(1)}"}
        )
        assert r.status_code == 200  # the key works (a reviewer reads its own log)

    created = await form_post(
        browser,
        "/portal/beheer/webhooks",
        "/portal/beheer/webhooks",
        {"url": "http://127.0.0.1:9/hook", "description": "test"},
    )
    assert created.status_code == 201, created.text[-1500:]
    assert re.search(r'id="issued-secret"[^>]*>whsec_', created.text)
    endpoint = re.search(r'href="(/portal/beheer/webhooks/[^"/]+)"', created.text)
    assert endpoint, created.text[-3000:]
    log = await browser.get(endpoint.group(1))
    assert log.status_code == 200 and "Nog geen berichten." in log.text
    bad = await form_post(
        browser, "/portal/beheer/webhooks", "/portal/beheer/webhooks", {"url": "ftp://x"}
    )
    assert bad.status_code == 422 and 'href="#url"' in bad.text


async def test_a_registration_through_the_api_shows_in_the_portal(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    a = await make_account(ctx, 0)
    async with httpx.AsyncClient(transport=browser._transport, base_url="http://testserver") as api:
        r = await api.post(
            "/v1/registrations", json={"bsn": BSN, "birth_date": BIRTH}, headers=a.api_headers
        )
        assert r.status_code == 201
    await _signed_in(browser, ctx, a)
    page = await browser.get("/portal/registraties")
    assert f"/portal/registraties/{r.json()['id']}" in page.text
    assert PASSWORD not in page.text


async def test_accepting_coordination_on_a_match(
    ctx: AppContext, browser: httpx.AsyncClient, second_browser: httpx.AsyncClient
) -> None:
    a = await make_account(ctx, 0)
    b = await make_account(ctx, 1)
    await _signed_in(browser, ctx, a)
    await _signed_in(second_browser, ctx, b)
    await _register(browser)
    await _register(second_browser)
    path = re.search(
        r'href="(/portal/matches/[0-9a-f-]{36})"', (await browser.get("/portal/matches")).text
    )
    assert path
    pages = {c: (await c.get(path.group(1))).text for c in (browser, second_browser)}
    assert all('id="regie-status">voorgesteld<' in p for p in pages.values())
    proposed = [c for c, p in pages.items() if 'id="regie-accept"' in p]
    assert len(proposed) == 1, "exactly one organisation is proposed as coordinator"
    (coordinator,) = proposed
    other = second_browser if coordinator is browser else browser
    # The other participant cannot accept in its place: 409 with an error summary.
    refused = await other.post(
        path.group(1) + "/regie/accept", data={"csrf_token": csrf_of(pages[other])}
    )
    assert refused.status_code == 409 and 'href="#regie-accept"' in refused.text
    accepted = await coordinator.post(
        path.group(1) + "/regie/accept", data={"csrf_token": csrf_of(pages[coordinator])}
    )
    assert accepted.status_code == 303
    after = await other.get(path.group(1))
    assert 'id="regie-status">geaccepteerd<' in after.text
    assert 'id="regie-confirm"' not in after.text  # only the coordinator confirms
    mine = (await coordinator.get(path.group(1))).text
    assert 'id="regie-confirm"' in mine and 'id="regie-agreed"' not in mine
    confirmed = await coordinator.post(
        path.group(1) + "/regie/confirm", data={"csrf_token": csrf_of(mine)}
    )
    assert confirmed.status_code == 303
    after = await other.get(path.group(1))
    assert 'id="regie-agreed"' in after.text and "Afgestemd" in after.text
    assert 'id="regie-confirm"' not in (await coordinator.get(path.group(1))).text
    async with ctx.database.read() as session:
        acts = (
            (
                await session.execute(
                    select(AccessLogRecord.reason).where(
                        AccessLogRecord.operation == "coordination.act"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(acts) == ["accept", "confirm"]


async def test_parents_make_a_family_match(
    ctx: AppContext, browser: httpx.AsyncClient, second_browser: httpx.AsyncClient
) -> None:
    a = await make_account(ctx, 0)
    b = await make_account(ctx, 1)
    await _signed_in(browser, ctx, a)
    await _signed_in(second_browser, ctx, b)
    parent = "100000915"
    first = await form_post(
        browser,
        "/portal/registraties/nieuw",
        "/portal/registraties/nieuw",
        {"bsn": "100000770", "birth_date": "2013-02-03", "parent1": parent},
    )
    assert first.status_code == 303
    second = await form_post(
        second_browser,
        "/portal/registraties/nieuw",
        "/portal/registraties/nieuw",
        {"bsn": "100000848", "birth_date": "2014-03-04", "parent2": parent},
    )
    assert second.status_code == 303
    shown = await second_browser.get(second.headers["location"])
    link = re.search(r'href="(/portal/gezinsmatches/[^"]+)"', shown.text)
    assert link, "the registration links to its family match"
    family = await second_browser.get(link.group(1))
    assert family.status_code == 200 and "Professional 0" in family.text
    listing = await browser.get("/portal/gezinsmatches")
    assert link.group(1) in listing.text
    for page in (shown.text, family.text, listing.text):
        assert parent not in page and "100000848" not in page
    bad = await form_post(
        browser,
        "/portal/registraties/nieuw",
        "/portal/registraties/nieuw",
        {"bsn": BSN, "birth_date": BIRTH, "parent1": "123456789"},
    )
    assert bad.status_code == 422 and 'href="#parent1"' in bad.text


async def test_renew_and_record_informing(
    ctx: AppContext, browser: httpx.AsyncClient, clock: FrozenClock
) -> None:
    a = await make_account(ctx, 0)
    await _signed_in(browser, ctx, a)
    location = (await _register(browser)).headers["location"]

    async def act(action: str, fields: dict[str, str]) -> httpx.Response:
        """Post the registration page's form for ``action`` (a path below the page)."""
        return await form_post(browser, location, location + action, fields)

    page = await browser.get(location)
    assert "Nog niet vastgelegd." in page.text
    future = await act("/geinformeerd", {"informed": "youth", "informed_on": "2099-01-01"})
    assert future.status_code == 422 and 'href="#informed"' in future.text
    late = await act("/uitgesteld", {"postpone_reason": "unreachable", "revisit_on": "2099-01-01"})
    assert late.status_code == 422 and 'href="#revisit_on"' in late.text
    informed = await act("/geinformeerd", {"informed": "parents", "informed_on": "2026-03-01"})
    assert informed.status_code == 303
    page = await browser.get(location)
    assert "Geïnformeerd op 01-03-2026:" in page.text and "de ouders" in page.text
    before = re.search(r"<dt>Loopt af</dt><dd>([^<]+)<", page.text)
    assert before
    clock.advance(timedelta(days=30))
    await _signed_in(browser, ctx, a)  # the session ended meanwhile
    wrong = await act("/verlengen", {"renew_bsn": "111222333", "renew_birth_date": BIRTH})
    assert wrong.status_code == 422 and 'href="#renew_bsn"' in wrong.text
    assert "111222333" not in wrong.text and BIRTH not in wrong.text
    renewed = await act("/verlengen", {"renew_bsn": BSN, "renew_birth_date": BIRTH})
    assert renewed.status_code == 303
    after = re.search(r"<dt>Loopt af</dt><dd>([^<]+)<", (await browser.get(location)).text)
    assert after and after.group(1) != before.group(1)
