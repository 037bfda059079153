"""Portal test helpers: accounts with a known password and TOTP secret, and signing in
through the sign-in form as a browser would (cookies, CSRF tokens, redirects)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pyotp

from tests.conftest import make_caller
from verwijsindex.context import AppContext

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Account:
    organisation_id: str
    professional_id: str
    username: str
    totp_secret: str
    key: str = ""
    """The organisation's professional API key (for tests that mix API and portal)."""

    def code(self, ctx: AppContext, *, steps_ahead: int = 0) -> str:
        at = ctx.clock.now().timestamp() + 30 * steps_ahead
        return pyotp.TOTP(self.totp_secret).at(at)

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "X-Professional-Id": self.professional_id}


async def make_account(
    ctx: AppContext, n: int, *, org_admin: bool = False, organisation_id: str | None = None
) -> Account:
    caller = await make_caller(ctx, n, organisation_id=organisation_id)
    async with ctx.database.transaction() as session:
        professional = await ctx.admin.professional_of(
            session, professional_id=caller.professional_id
        )
        assert professional is not None
        issued = await ctx.portal.create_account(
            session, professional=professional, org_admin=org_admin, password=PASSWORD
        )
    assert issued.totp_secret is not None
    return Account(
        caller.organisation_id,
        caller.professional_id,
        issued.username,
        issued.totp_secret,
        key=caller.key,
    )


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def form_post(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """GET ``page``, take its CSRF token, POST ``data`` to ``action``."""
    shown = await client.get(page)
    assert shown.status_code == 200, (page, shown.status_code)
    return await client.post(action, data={"csrf_token": csrf_of(shown.text), **(data or {})})


async def sign_in(
    client: httpx.AsyncClient,
    ctx: AppContext,
    account: Account,
    *,
    password: str = PASSWORD,
    steps_ahead: int = 0,
) -> httpx.Response:
    return await form_post(
        client,
        "/portal/aanmelden",
        "/portal/aanmelden",
        {
            "username": account.username,
            "password": password,
            "code": account.code(ctx, steps_ahead=steps_ahead),
        },
    )
