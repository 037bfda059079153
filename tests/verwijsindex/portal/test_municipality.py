"""The municipality's portal pages: the covenant editor (a version made in the portal records
the signed-in professional) and the statistics dashboard (SVG charts, a table, CSV), on
SQLite and PostgreSQL, through the forms as a browser sends them."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from tests.conftest import Caller, make_bsn, registration_body
from tests.verwijsindex.portal.helpers import Account, csrf_of, form_post, make_account, sign_in
from tests.verwijsindex.statistics.scenario import march
from verwijsindex.accesslog import AccessLogRecord, Operation
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.covenants.models import CovenantVersion
from verwijsindex.portal.messages import MEASURE_LABELS
from verwijsindex.statistics.measures import MEASURES
from verwijsindex.statistics.schemas import csv_text

COVENANT = "/portal/gemeente/convenant"
STATISTICS = "/portal/gemeente/statistieken"


async def municipality_admin(ctx: AppContext, n: int = 40) -> Account:
    async with ctx.database.transaction() as session:
        org = await ctx.admin.create_organisation(
            session, name="Gemeente Amsterdam", sector="municipality", municipality="0363"
        )
    return await make_account(ctx, n, org_admin=True, organisation_id=org.id)


def _form(**changes: str) -> dict[str, str]:
    form = {
        "rank-veilig-thuis": "1",
        "rank-youth-care": "2",
        "respond_within": "P3D",
        "coordinate_within": "P12D",
        "inform_within": "P14D",
        "retention": "P2Y",
        "earlier": "on",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v != "-"}


async def test_the_municipality_edits_its_covenant_and_sees_who_changed_it(
    browser: httpx.AsyncClient, ctx: AppContext
) -> None:
    admin = await municipality_admin(ctx)
    assert (await sign_in(browser, ctx, admin)).status_code == 303
    shown = await browser.get(COVENANT)
    assert shown.status_code == 200
    assert "de standaard geldt" in shown.text  # no covenant of its own yet
    assert 'href="/portal/gemeente/statistieken"' in shown.text  # in the navigation

    saved = await form_post(browser, COVENANT, COVENANT, _form())
    assert saved.status_code == 303, saved.text
    page = await browser.get(saved.headers["location"])
    assert "Versie 1" in page.text and 'id="opgeslagen"' in page.text
    history = page.text.split('id="versions"')[1]
    assert "Professional 40 (portaal)" in history
    assert 'value="P3D"' in page.text
    assert re.search(r'id="rank-veilig-thuis".*?<option value="1" selected>', page.text, re.S)

    async with ctx.database.read() as session:
        row = (await session.execute(select(CovenantVersion))).scalar_one()
    assert row.changed_by_professional_id == admin.professional_id
    assert row.changed_by_api_key_id is None
    assert row.coordinator_sectors == "veilig-thuis,youth-care"
    assert row.earlier_involvement_enabled and row.earlier_involvement_retention == "P2Y"

    # The API's version history names the portal professional too.
    async with ctx.database.transaction() as session:
        key = await ctx.admin.create_api_key(
            session, organisation_id=admin.organisation_id, role="municipality-admin"
        )
    versions = await browser.get(
        "/v1/municipalities/0363/covenant/versions",
        headers={"Authorization": f"Bearer {key.key}"},
    )
    assert versions.status_code == 200, versions.text
    assert versions.json()["items"][0]["changed_by"] == {
        "organisation_id": admin.organisation_id,
        "professional_id": admin.professional_id,
    }
    records = await _operations(ctx, admin.professional_id)
    assert Operation.COVENANT_UPDATE.value in records
    assert Operation.COVENANT_VERSIONS.value in records


async def _operations(ctx: AppContext, professional_id: str) -> set[str]:
    async with ctx.database.read() as session:
        rows = await session.execute(
            select(AccessLogRecord.operation).where(
                AccessLogRecord.professional_id == professional_id
            )
        )
    return {str(r[0]) for r in rows}


async def test_invalid_covenant_forms_show_an_error_summary(
    browser: httpx.AsyncClient, ctx: AppContext
) -> None:
    admin = await municipality_admin(ctx)
    await sign_in(browser, ctx, admin)
    for changes, field in (
        ({"rank-youth-care": "1"}, "sectors"),  # two sectors at position 1
        ({"rank-veilig-thuis": "-", "rank-youth-care": "-"}, "sectors"),
        ({"respond_within": "twee dagen"}, "respond_within"),
        ({"retention": "P9Y"}, "retention"),
        ({"rank-police": "99"}, "rank-police"),
    ):
        answer = await form_post(browser, COVENANT, COVENANT, _form(**changes))
        assert answer.status_code == 422, (changes, answer.status_code)
        assert 'class="error-summary"' in answer.text
        assert f'<a href="#{field}">' in answer.text, (changes, field)
        assert f'id="{field}"' in answer.text
    async with ctx.database.read() as session:
        assert (await session.execute(select(CovenantVersion))).first() is None


async def test_only_a_municipality_admin_opens_the_municipality_pages(
    browser: httpx.AsyncClient, second_browser: httpx.AsyncClient, ctx: AppContext
) -> None:
    org_admin = await make_account(ctx, 41, org_admin=True)  # a youth-care organisation
    await sign_in(browser, ctx, org_admin)
    assert (await browser.get(COVENANT)).status_code == 403
    assert (await browser.get(STATISTICS)).status_code == 403
    assert "/portal/gemeente/" not in (await browser.get("/portal/registraties")).text
    admin = await municipality_admin(ctx)
    plain = await make_account(ctx, 42, organisation_id=admin.organisation_id)
    await sign_in(second_browser, ctx, plain)
    assert (await second_browser.get(COVENANT)).status_code == 403
    shown = await second_browser.get("/portal/registraties")
    answer = await second_browser.post(
        COVENANT, data={"csrf_token": csrf_of(shown.text), **_form()}
    )
    assert answer.status_code == 403


async def test_the_statistics_dashboard_shows_charts_a_table_and_csv(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    callers: list[Caller],
    clock: FrozenClock,
    ctx: AppContext,
) -> None:
    await march(client, callers, clock)
    admin = await municipality_admin(ctx)
    await sign_in(browser, ctx, admin)
    page = await browser.get(STATISTICS, params={"maat": "registrations_made"})
    assert page.status_code == 200, page.text
    assert "Volledig geteld tot en met 2026-03" in page.text
    assert "<svg" in page.text and "style=" not in page.text
    assert page.text.count("<script") == 1  # only the portal's own file
    table = page.text.split('id="figures"')[1]
    row_of = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<th scope="row">([^<]*)</th>(.*?)</tr>', table, re.S)
    }
    expected = await ctx.statistics.figures(municipality="0363", first="2026-03", last="2026-03")
    assert expected.months == ["2026-03"]
    shown = {"youth-care": "jeugdhulp", "education": "onderwijs"}
    values = {sector: expected.cells["2026-03"][sector]["registrations_made"] for sector in shown}
    assert None in values.values()  # education's 3 is below the threshold
    assert any(v is not None for v in values.values()), values
    for sector, label in shown.items():
        value = values[sector]
        cell = row_of[label].rsplit("<td>", 1)[1]
        assert cell == (
            '<span class="suppressed">onderdrukt</span></td>' if value is None else f"{value}</td>"
        )
        title = f"<title>2026-03: {'onderdrukt' if value is None else value}</title>"
        assert title in page.text

    download = await browser.get(STATISTICS + ".csv", params={"van": "2026-03", "tot": "2026-03"})
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert download.text == csv_text(expected)
    assert "0363,2026-03,education,registrations_made,,true" in download.text

    assert set(MEASURE_LABELS) == set(MEASURES)  # every measure has its name
    assert '<option value="registrations_made" selected>Registraties gemaakt</option>' in page.text

    wrong = await browser.get(STATISTICS, params={"van": "2026-3", "maat": "nonsense"})
    assert wrong.status_code == 422
    assert '<a href="#van">' in wrong.text and '<a href="#maat">' in wrong.text


async def test_a_professional_postpones_informing_and_switches_alerts_off(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, ctx: AppContext, clock: FrozenClock
) -> None:
    pro = await make_account(ctx, 43)
    await sign_in(browser, ctx, pro)
    registered = await client.post(
        "/v1/registrations", json=registration_body(make_bsn(7)), headers=pro.api_headers
    )
    assert registered.status_code == 201, registered.text
    page = f"/portal/registraties/{registered.json()['id']}"
    action = page + "/uitgesteld"
    refused = await form_post(browser, page, action, {"postpone_reason": "unreachable"})
    assert refused.status_code == 422 and '<a href="#revisit_on">' in refused.text
    past = await form_post(
        browser, page, action, {"postpone_reason": "unreachable", "revisit_on": "2026-03-01"}
    )
    assert past.status_code == 422 and "na vandaag" in past.text
    done = await form_post(
        browser, page, action, {"postpone_reason": "safety_youth", "revisit_on": "2026-04-15"}
    )
    assert done.status_code == 303, done.text
    shown = await browser.get(page)
    assert "Informeren uitgesteld." in shown.text
    assert "veiligheid van de jeugdige; opnieuw bekijken op 15-04-2026" in shown.text

    alerts = await browser.get("/portal/meldingen")
    assert "E-mailmeldingen staan aan." in alerts.text
    off = await form_post(browser, "/portal/meldingen", "/portal/meldingen", {})
    assert off.status_code == 303
    assert "E-mailmeldingen staan uit." in (await browser.get(off.headers["location"])).text
    preference = await ctx.alerts.preference(
        organisation_id=pro.organisation_id, professional_id=pro.professional_id, acting=None
    )
    assert preference.enabled is False
    on = await form_post(browser, "/portal/meldingen", "/portal/meldingen", {"enabled": "on"})
    assert on.status_code == 303
    assert "E-mailmeldingen staan aan." in (await browser.get("/portal/meldingen")).text


async def test_an_unknown_portal_path_is_an_html_404_page(browser: httpx.AsyncClient) -> None:
    answer = await browser.get("/portal/bestaat/niet")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "Pagina niet gevonden" in answer.text
    assert "set-cookie" not in answer.headers  # no session opened for it
    assert (await browser.get("/portal/static/portal.css")).status_code == 200
    assert (
        (await browser.get("/v1/unknown"))
        .headers["content-type"]
        .startswith("application/problem+json")
    )
