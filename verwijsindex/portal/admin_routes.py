"""``/portal/beheer/``: the organisation admin's pages (professionals, API keys, webhook
endpoints with their delivery log). Open only to an account marked org-admin; everything
is confined to the admin's own organisation by the services. A new secret (a password and
TOTP secret, an API key, a webhook secret) is shown once, in the answer to the POST that
made it, and never again."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from notifier import NotifierError
from verwijsindex.errors import NotFound, VerwijsindexError
from verwijsindex.portal.web import Page, admin_page, not_found, text

router = APIRouter(prefix="/portal/beheer", include_in_schema=False)

API_KEY_ROLES = ("professional", "reviewer")


# --- professionals -------------------------------------------------------------------------


async def _professionals_page(
    current: Page,
    *,
    status: int = 200,
    errors: list[tuple[str, str]] | None = None,
    issued: object = None,
    values: dict[str, str] | None = None,
) -> Response:
    entries = await current.ctx.portal.professionals(organisation_id=current.user.organisation_id)
    return current.render(
        "admin/professionals.html",
        status=status,
        entries=entries,
        errors=errors or [],
        issued=issued,
        values=values or {},
    )


@router.get("/professionals")
async def professionals(request: Request) -> Response:
    return await _professionals_page(await admin_page(request))


@router.post("/professionals")
async def add_professional(request: Request) -> Response:
    current = await admin_page(request)
    form = await current.form()
    values = {k: text(form, k, 254) for k in ("name", "email", "phone")}
    errors = [
        (k, m)
        for k, m in (
            ("name", "Enter the name."),
            ("email", "Enter the e-mail address."),
            ("phone", "Enter the telephone number."),
        )
        if not values[k]
    ]
    if not errors:
        try:
            issued = await current.ctx.portal.add_professional(
                current.access(),
                organisation_id=current.user.organisation_id,
                name=values["name"],
                email=values["email"],
                phone=values["phone"],
                org_admin=form.get("org_admin") == "on",
            )
        except VerwijsindexError as exc:
            field = (
                "phone" if "phone" in exc.detail else ("name" if "name" in exc.detail else "email")
            )
            errors.append((field, _admin_message(exc.detail)))
        else:
            return await _professionals_page(current, status=201, issued=issued)
    return await _professionals_page(current, status=422, errors=errors, values=values)


def _admin_message(detail: str) -> str:
    if "exists" in detail:
        return "An account with this e-mail address exists."
    if "phone" in detail:
        return "Enter a valid telephone number."
    if "email" in detail:
        return "Enter a valid e-mail address."
    return "Enter a name of 1 to 200 characters."


@router.post("/professionals/{professional_id}/deactiveren")
async def deactivate(request: Request, professional_id: str) -> Response:
    current = await admin_page(request)
    await current.form()
    try:
        await current.ctx.portal.deactivate(
            current.access(),
            organisation_id=current.user.organisation_id,
            professional_id=professional_id,
        )
    except NotFound:
        return not_found(current)
    except VerwijsindexError:
        return await _professionals_page(
            current, status=409, errors=[("list", "You cannot deactivate your own account.")]
        )
    return current.redirect("/portal/beheer/professionals")


@router.post("/professionals/{professional_id}/tweede-factor")
async def reset_second_factor(request: Request, professional_id: str) -> Response:
    current = await admin_page(request)
    await current.form()
    try:
        issued = await current.ctx.portal.reset_second_factor(
            current.access(),
            organisation_id=current.user.organisation_id,
            professional_id=professional_id,
        )
    except NotFound:
        return not_found(current)
    return await _professionals_page(current, issued=issued)


# --- API keys ------------------------------------------------------------------------------


async def _keys_page(
    current: Page,
    *,
    status: int = 200,
    issued: object = None,
    errors: list[tuple[str, str]] | None = None,
) -> Response:
    keys = await current.ctx.api_keys.of_organisation(current.user.organisation_id)
    return current.render(
        "admin/api_keys.html",
        status=status,
        keys=keys,
        issued=issued,
        roles=API_KEY_ROLES,
        errors=errors or [],
        now=current.ctx.clock.now(),
    )


@router.get("/api-sleutels")
async def api_keys(request: Request) -> Response:
    return await _keys_page(await admin_page(request))


@router.post("/api-sleutels")
async def issue_api_key(request: Request) -> Response:
    current = await admin_page(request)
    form = await current.form()
    role = text(form, "role", 40)
    days_text = text(form, "expires_in_days", 10)
    errors: list[tuple[str, str]] = []
    if role not in API_KEY_ROLES:
        errors.append(("role", "Choose a role."))
    days: int | None = None
    if days_text:
        try:
            days = int(days_text)
            if not 1 <= days <= 3650:
                raise ValueError
        except ValueError:
            errors.append(("expires_in_days", "Enter a number of days from 1 to 3650."))
    if errors:
        return await _keys_page(current, status=422, errors=errors)
    issued = await current.ctx.api_keys.issue(
        organisation_id=current.user.organisation_id, role=role, expires_in_days=days
    )
    return await _keys_page(current, status=201, issued=issued)


@router.post("/api-sleutels/{key_id}/intrekken")
async def revoke_api_key(request: Request, key_id: str) -> Response:
    current = await admin_page(request)
    await current.form()
    try:
        await current.ctx.api_keys.revoke(
            organisation_id=current.user.organisation_id, key_id=key_id
        )
    except NotFound:
        return not_found(current)
    return current.redirect("/portal/beheer/api-sleutels")


# --- webhook endpoints ---------------------------------------------------------------------


async def _webhooks_page(
    current: Page,
    *,
    status: int = 200,
    created: object = None,
    errors: list[tuple[str, str]] | None = None,
    url: str = "",
) -> Response:
    endpoints = await current.ctx.webhooks.list_endpoints(
        organisation_id=current.user.organisation_id
    )
    return current.render(
        "admin/webhooks.html",
        status=status,
        endpoints=endpoints,
        created=created,
        errors=errors or [],
        url=url,
    )


@router.get("/webhooks")
async def webhooks(request: Request) -> Response:
    return await _webhooks_page(await admin_page(request))


@router.post("/webhooks")
async def create_webhook(request: Request) -> Response:
    current = await admin_page(request)
    form = await current.form()
    url = text(form, "url", 2048)
    description = text(form, "description", 500)
    if not url:
        return await _webhooks_page(current, status=422, errors=[("url", "Enter the URL.")])
    try:
        created = await current.ctx.webhooks.create_endpoint(
            organisation_id=current.user.organisation_id,
            url=url,
            description=description,
            ed25519=False,
        )
    except (NotifierError, VerwijsindexError, ValueError):
        return await _webhooks_page(
            current,
            status=422,
            url=url,
            errors=[("url", "This URL cannot receive webhooks (https, a public address).")],
        )
    return await _webhooks_page(current, status=201, created=created)


@router.get("/webhooks/{endpoint_id}")
async def webhook(request: Request, endpoint_id: str) -> Response:
    current = await admin_page(request)
    organisation_id = current.user.organisation_id
    try:
        endpoint = await current.ctx.webhooks.endpoint(
            organisation_id=organisation_id, endpoint_id=endpoint_id
        )
        attempts = await current.ctx.webhooks.deliveries(
            organisation_id=organisation_id, endpoint_id=endpoint_id, before_id=None, limit=100
        )
    except (NotifierError, VerwijsindexError):
        return not_found(current)
    messages = await current.ctx.webhooks.messages(
        organisation_id=organisation_id,
        status=None,
        endpoint_id=endpoint_id,
        before_seq=None,
        limit=100,
    )
    return current.render(
        "admin/webhook.html", endpoint=endpoint, attempts=attempts, messages=messages
    )


@router.post("/webhooks/{endpoint_id}/berichten/{message_id}/opnieuw")
async def redeliver(request: Request, endpoint_id: str, message_id: str) -> Response:
    current = await admin_page(request)
    await current.form()
    try:
        await current.ctx.webhooks.redeliver(
            organisation_id=current.user.organisation_id, message_id=message_id
        )
    except (NotifierError, VerwijsindexError):
        return not_found(current)
    return current.redirect(f"/portal/beheer/webhooks/{endpoint_id}")
