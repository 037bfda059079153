"""OpenID Connect sign-in (authorization code with PKCE) against a real provider process:
the npm package ``oidc-provider`` under node. The portal runs in process; the provider's
pages are driven over HTTP as a browser would, and its redirect back is handed to the
portal. Both databases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import select

from tests.portal_browser.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running_provider
from tests.verwijsindex.portal.helpers import make_account
from verwijsindex.accesslog import AccessLogRecord
from verwijsindex.context import AppContext
from verwijsindex.settings import Settings

CALLBACK = "http://testserver/portal/oidc/callback"
_FORM = re.compile(r'<form[^>]*action="([^"]+)"', re.S)


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[Provider]:
    with running_provider([CALLBACK], tmp_path / "oidc.log") as running:
        yield running


@pytest.fixture
def settings(database_url: str, tmp_path: Path, provider: Provider) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        run_sweeper=False,
        auto_migrate=False,
        portal_oidc_issuer=provider.issuer,
        portal_oidc_client_id=CLIENT_ID,
        portal_oidc_client_secret=CLIENT_SECRET,
        portal_oidc_label="Test-IdP",
    )


async def _at_provider(start: str, login: str) -> str:
    """Sign in at the provider's development login page and consent; the URL it sends the
    browser back to (the portal's callback with code and state)."""
    async with httpx.AsyncClient(timeout=10) as idp:
        url = start
        for _ in range(12):
            answer = await idp.get(url)
            if answer.status_code in (302, 303):
                url = urljoin(url, answer.headers["location"])
                if url.startswith(CALLBACK):
                    return url
                continue
            form = _FORM.search(answer.text)
            assert form, answer.text[:500]
            action = urljoin(url, form.group(1))
            if 'name="login"' in answer.text:
                data = {"prompt": "login", "login": login, "password": "anything"}
            else:
                data = {"prompt": "consent"}
            posted = await idp.post(action, data=data)
            assert posted.status_code in (302, 303), posted.text[:500]
            url = urljoin(action, posted.headers["location"])
            if url.startswith(CALLBACK):
                return url
    raise AssertionError("the provider never sent the browser back")


async def _records(ctx: AppContext) -> list[AccessLogRecord]:
    async with ctx.database.read() as session:
        rows = await session.execute(
            select(AccessLogRecord)
            .where(AccessLogRecord.operation == "portal.sign-in")
            .order_by(AccessLogRecord.seq)
        )
        return list(rows.scalars())


async def test_sign_in_with_the_organisations_identity_provider(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, 0)
    page = await browser.get("/portal/aanmelden")
    assert "Aanmelden met Test-IdP" in page.text
    start = await browser.get("/portal/oidc/start")
    assert start.status_code == 303
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{ctx.settings.portal_oidc_issuer}/auth")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [CALLBACK]

    back = await _at_provider(authorize, account.username)
    landed = await browser.get(back.removeprefix("http://testserver"))
    assert landed.status_code == 303 and landed.headers["location"] == "/portal/registraties"
    mine = await browser.get("/portal/registraties")
    assert mine.status_code == 200 and "Professional 0" in mine.text
    (record,) = await _records(ctx)
    assert (record.status, record.professional_id) == ("success", account.professional_id)


async def test_a_replayed_or_forged_callback_is_refused(
    ctx: AppContext, browser: httpx.AsyncClient, second_browser: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, 0)
    start = await browser.get("/portal/oidc/start")
    back = await _at_provider(start.headers["location"], account.username)
    # Another browser (without the session that started the sign-in) cannot use the code.
    stolen = await second_browser.get(back.removeprefix("http://testserver"))
    assert stolen.status_code == 400
    # A wrong state in the right browser is refused, and the sign-in under way is spent.
    parts = parse_qs(urlsplit(back).query)
    forged = await browser.get(
        "/portal/oidc/callback", params={"code": parts["code"][0], "state": "forged"}
    )
    assert forged.status_code == 400
    again = await browser.get(back.removeprefix("http://testserver"))
    assert again.status_code == 400
    assert (await browser.get("/portal/registraties")).status_code == 303
    assert [r.status for r in await _records(ctx)] == ["failure"] * 3


async def test_an_identity_without_a_portal_account_is_refused(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    start = await browser.get("/portal/oidc/start")
    back = await _at_provider(start.headers["location"], "stranger@elsewhere.example")
    refused = await browser.get(back.removeprefix("http://testserver"))
    assert refused.status_code == 403 and "Geen portaalaccount" in refused.text
    (record,) = await _records(ctx)
    assert (record.status, record.reason) == ("failure", "oidc-unknown-account")
