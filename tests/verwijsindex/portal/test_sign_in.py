"""Sign-in to the portal with a local account: password and TOTP, sessions, CSRF, idle
timeout, back-off and sign-out, each in the access log. Both databases."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from tests.verwijsindex.portal.helpers import (
    PASSWORD,
    csrf_of,
    form_post,
    make_account,
    sign_in,
)
from verwijsindex.accesslog import AccessLogRecord
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext


async def _records(ctx: AppContext, operation: str) -> list[AccessLogRecord]:
    async with ctx.database.read() as session:
        rows = await session.execute(
            select(AccessLogRecord)
            .where(AccessLogRecord.operation == operation)
            .order_by(AccessLogRecord.seq)
        )
        return list(rows.scalars())


async def test_sign_in_with_password_and_code_then_sign_out(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, 0)
    first = await browser.get("/portal/aanmelden")
    assert first.status_code == 200
    assert '<html lang="nl">' in first.text and "Aanmelden" in first.text
    anonymous_cookie = browser.cookies.get("verwijsindex-portal")
    assert anonymous_cookie
    cookie_header = first.headers["set-cookie"].lower()
    assert "httponly" in cookie_header and "samesite=lax" in cookie_header

    answer = await browser.post(
        "/portal/aanmelden",
        data={
            "csrf_token": csrf_of(first.text),
            "username": account.username.upper(),
            "password": PASSWORD,
            "code": account.code(ctx),
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/registraties"
    # A new session at sign-in: the token the browser held before is worth nothing.
    assert browser.cookies.get("verwijsindex-portal") != anonymous_cookie
    page = await browser.get("/portal/registraties")
    assert page.status_code == 200 and "Mijn registraties" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'; script-src")
    assert page.headers["x-frame-options"] == "DENY"

    out = await browser.post("/portal/afmelden", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"].startswith("/portal/aanmelden")
    after = await browser.get("/portal/registraties")
    assert after.status_code == 303 and after.headers["location"].startswith("/portal/aanmelden")

    sign_ins = await _records(ctx, "portal.sign-in")
    assert [(r.status, r.professional_id, r.subject_ref) for r in sign_ins] == [
        ("success", account.professional_id, account.professional_id)
    ]
    sign_outs = await _records(ctx, "portal.sign-out")
    assert [(r.status, r.reason) for r in sign_outs] == [("success", "signed-out")]


async def test_wrong_code_wrong_password_and_replayed_code_are_refused(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, 0)
    wrong_code = await form_post(
        browser,
        "/portal/aanmelden",
        "/portal/aanmelden",
        {
            "username": account.username,
            "password": PASSWORD,
            "code": "000000" if account.code(ctx) != "000000" else "111111",
        },
    )
    assert wrong_code.status_code == 401
    assert "klopt niet" in wrong_code.text and 'role="alert"' in wrong_code.text
    wrong_password = await sign_in(browser, ctx, account, password="not it")
    assert wrong_password.status_code == 401
    ok = await sign_in(browser, ctx, account)
    assert ok.status_code == 303
    # The same code a second time (another browser) is refused: each step is used once.
    async with httpx.AsyncClient(
        transport=browser._transport, base_url="http://testserver"
    ) as other:
        replay = await sign_in(other, ctx, account)
        assert replay.status_code == 401
    failures = [r for r in await _records(ctx, "portal.sign-in") if r.status == "failure"]
    assert [r.reason for r in failures] == ["bad-credentials"] * 3


async def test_unknown_account_is_refused_alike(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    unknown = await form_post(
        browser,
        "/portal/aanmelden",
        "/portal/aanmelden",
        {"username": "nobody@org.example", "password": "x", "code": "123456"},
    )
    assert unknown.status_code == 401 and "klopt niet" in unknown.text
    (record,) = await _records(ctx, "portal.sign-in")
    assert (record.status, record.reason, record.subject_ref) == (
        "failure",
        "unknown-account",
        None,
    )


async def test_back_off_after_failed_attempts(
    ctx: AppContext, browser: httpx.AsyncClient, clock: FrozenClock
) -> None:
    account = await make_account(ctx, 0)
    ctx.settings.portal_backoff_after = 3
    for _ in range(2):
        assert (await sign_in(browser, ctx, account, password="wrong")).status_code == 401
    # The third failure makes the account wait (5 s, then twice as long after each further
    # failure): the right password is refused meanwhile.
    third = await sign_in(browser, ctx, account, password="wrong")
    assert third.status_code == 429 and "wacht 5 seconden" in third.text.lower()
    locked = await sign_in(browser, ctx, account)
    assert locked.status_code == 429
    clock.advance(timedelta(seconds=6))
    assert (await sign_in(browser, ctx, account, steps_ahead=0)).status_code == 303
    reasons = [r.reason for r in await _records(ctx, "portal.sign-in") if r.status == "failure"]
    assert reasons == ["bad-credentials"] * 3 + ["locked"]


async def test_form_without_csrf_token_is_refused(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, 0)
    assert (await sign_in(browser, ctx, account)).status_code == 303
    forged = await browser.post(
        "/portal/registraties/nieuw", data={"bsn": "111222333", "birth_date": "2012-05-01"}
    )
    assert forged.status_code == 403
    wrong = await browser.post(
        "/portal/registraties/nieuw",
        data={"csrf_token": "x" * 43, "bsn": "111222333", "birth_date": "2012-05-01"},
    )
    assert wrong.status_code == 403
    page = await browser.get("/portal/registraties")
    other_origin = await browser.post(
        "/portal/afmelden",
        data={"csrf_token": csrf_of(page.text)},
        headers={"Origin": "https://evil.example"},
    )
    assert other_origin.status_code == 403
    assert (await _records(ctx, "registration.create")) == []


async def test_idle_session_ends(
    ctx: AppContext, browser: httpx.AsyncClient, clock: FrozenClock
) -> None:
    account = await make_account(ctx, 0)
    assert (await sign_in(browser, ctx, account)).status_code == 303
    clock.advance(timedelta(minutes=14))
    assert (await browser.get("/portal/registraties")).status_code == 200  # activity renews
    clock.advance(timedelta(minutes=14))
    assert (await browser.get("/portal/registraties")).status_code == 200
    clock.advance(timedelta(minutes=15, seconds=1))
    expired = await browser.get("/portal/registraties")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/portal/aanmelden?verlopen=1"
    notice = await browser.get(expired.headers["location"])
    assert "Je sessie is beëindigd" in notice.text
    sign_outs = await _records(ctx, "portal.sign-out")
    assert [r.reason for r in sign_outs] == ["idle-timeout"]


async def test_identity_never_from_a_header(ctx: AppContext, browser: httpx.AsyncClient) -> None:
    """An API key and X-Professional-Id open no portal page."""
    account = await make_account(ctx, 0)
    for path in ("/portal/registraties", "/portal/matches", "/portal/beheer/professionals"):
        answer = await browser.get(path, headers=account.api_headers)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/portal/aanmelden")


async def test_english_second(ctx: AppContext, browser: httpx.AsyncClient) -> None:
    switched = await browser.get("/portal/taal/en")
    assert switched.status_code == 303
    page = await browser.get("/portal/aanmelden")
    assert '<html lang="en">' in page.text and "Sign in" in page.text
    assert "Aanmelden" not in page.text


async def test_secure_cookie_when_served_over_https(app: FastAPI, ctx: AppContext) -> None:
    """Over https (production's default) the session cookie is Secure and __Host- named."""
    ctx.settings.portal_secure_cookies = True
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        page = await client.get("/portal/aanmelden")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-verwijsindex-portal=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
        account = await make_account(ctx, 0)
        assert (await sign_in(client, ctx, account)).status_code == 303
        assert (await client.get("/portal/registraties")).status_code == 200
