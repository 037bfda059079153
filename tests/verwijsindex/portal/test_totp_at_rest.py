"""TOTP secrets at rest: sealed under a key derived from the master key and bound to their
account, so a copy of the database holds no second factor. Secrets stored before sealing keep
working and are sealed at their account's next sign-in. Both databases."""

from __future__ import annotations

import httpx
from sqlalchemy import text, update

from tests.verwijsindex.portal.helpers import Account, form_post, make_account, sign_in
from verwijsindex.accesslog import AccessContext
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.http.app import create_app
from verwijsindex.keys import rotate_key
from verwijsindex.portal.models import PortalAccount
from verwijsindex.settings import Settings


async def _stored(ctx: AppContext, account: Account) -> str:
    async with ctx.database.read() as session:
        value = await session.scalar(
            text("SELECT totp_secret FROM portal_accounts WHERE username = :u"),
            {"u": account.username},
        )
    assert isinstance(value, str)
    return value


async def _set_stored(ctx: AppContext, account: Account, value: str) -> None:
    async with ctx.database.transaction() as session:
        await session.execute(
            update(PortalAccount)
            .where(PortalAccount.username == account.username)
            .values(totp_secret=value)
        )


def _signed_in(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"] == "/portal/registraties"


async def test_the_database_holds_the_secret_only_sealed(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, 0)
    stored = await _stored(ctx, account)
    assert stored.startswith(f"k{ctx.keys.current_version}.")
    assert account.totp_secret not in stored
    async with ctx.database.read() as session:
        rows = (await session.execute(text("SELECT * FROM portal_accounts"))).all()
    assert account.totp_secret not in repr(rows)
    assert _signed_in(await sign_in(browser, ctx, account))


async def test_a_sealed_secret_copied_to_another_account_does_not_open(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    mine, theirs = await make_account(ctx, 0), await make_account(ctx, 1)
    await _set_stored(ctx, theirs, await _stored(ctx, mine))
    # Their account now carries my sealed secret: neither my codes nor theirs sign them in.
    theirs_with_my_secret = Account(
        theirs.organisation_id, theirs.professional_id, theirs.username, mine.totp_secret
    )
    assert not _signed_in(await sign_in(browser, ctx, theirs_with_my_secret))
    assert not _signed_in(await sign_in(browser, ctx, theirs, steps_ahead=1))


async def test_a_secret_stored_before_sealing_works_and_is_sealed_at_sign_in(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, 0)
    await _set_stored(ctx, account, account.totp_secret)  # as an account made before sealing
    assert _signed_in(await sign_in(browser, ctx, account))
    stored = await _stored(ctx, account)
    assert stored.startswith("k") and account.totp_secret not in stored
    await form_post(browser, "/portal/registraties", "/portal/afmelden")
    assert _signed_in(await sign_in(browser, ctx, account, steps_ahead=1))


async def test_a_reset_second_factor_is_sealed_and_the_old_one_is_refused(
    ctx: AppContext, browser: httpx.AsyncClient
) -> None:
    account = await make_account(ctx, 0)
    before = await _stored(ctx, account)
    issued = await ctx.portal.reset_second_factor(
        AccessContext.system(role="system", started_at=ctx.clock.now()),
        organisation_id=account.organisation_id,
        professional_id=account.professional_id,
    )
    assert issued.totp_secret is not None and issued.totp_secret != account.totp_secret
    after = await _stored(ctx, account)
    assert after != before and issued.totp_secret not in after
    assert not _signed_in(await sign_in(browser, ctx, account))
    renewed = Account(
        account.organisation_id, account.professional_id, account.username, issued.totp_secret
    )
    assert _signed_in(await sign_in(browser, ctx, renewed, steps_ahead=1))


async def test_after_a_key_rotation_the_secret_is_sealed_again_at_sign_in(
    ctx: AppContext, settings: Settings, clock: FrozenClock
) -> None:
    account = await make_account(ctx, 0)
    assert (await _stored(ctx, account)).startswith("k1.")
    rotate_key(settings)
    rotated = create_app(settings, clock=clock)  # the service restarted with version 2
    async with rotated.router.lifespan_context(rotated):
        transport = httpx.ASGITransport(app=rotated)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as b:
            assert _signed_in(await sign_in(b, rotated.state.ctx, account))
        assert (await _stored(rotated.state.ctx, account)).startswith("k2.")
