"""A small demo for ``make run``: two organisations in different sectors, one professional
each, and their API keys, printed once; and the municipality, whose administrator edits its
covenant and reads its statistics in the portal."""

from __future__ import annotations

from sqlalchemy import func, select

from verwijsindex.accesslog import AccessContext, Operation, Subject
from verwijsindex.context import AppContext
from verwijsindex.organisations.models import Organisation


async def seed_demo(ctx: AppContext) -> str:
    async with ctx.database.transaction() as session:
        count = (await session.execute(select(func.count(Organisation.id)))).scalar_one()
        if count:
            return (
                "Demo data already present (API keys were printed when it was created).\n"
                "Create another key with: .venv/bin/verwijsindex admin create-api-key "
                "--organisation <id> --role professional"
            )
        a = await ctx.admin.create_organisation(
            session, name="Jeugdteam Amsterdam-Noord", sector="youth-care", municipality="0363"
        )
        b = await ctx.admin.create_organisation(
            session, name="Basisschool De Regenboog", sector="education", municipality="0363"
        )
        municipality = await ctx.admin.create_organisation(
            session, name="Gemeente Amsterdam", sector="municipality", municipality="0363"
        )
        pa = await ctx.admin.create_professional(
            session,
            organisation_id=a.id,
            name="Demo Jeugdwerker",
            email="jeugdwerker@jeugdteam.example",
            phone="+31 20 555 0101",
        )
        pb = await ctx.admin.create_professional(
            session,
            organisation_id=b.id,
            name="Demo Intern Begeleider",
            email="ib@regenboog.example",
            phone="+31 20 555 0202",
        )
        admin = await ctx.admin.create_professional(
            session,
            organisation_id=a.id,
            name="Demo Beheerder",
            email="beheer@jeugdteam.example",
            phone="+31 20 555 0100",
        )
        covenant_manager = await ctx.admin.create_professional(
            session,
            organisation_id=municipality.id,
            name="Demo Gemeente",
            email="convenant@amsterdam.example",
            phone="+31 20 555 0400",
        )
        accounts = [
            await ctx.portal.create_account(session, professional=pa, org_admin=False),
            await ctx.portal.create_account(session, professional=pb, org_admin=False),
            await ctx.portal.create_account(session, professional=admin, org_admin=True),
            await ctx.portal.create_account(session, professional=covenant_manager, org_admin=True),
        ]
        ka = await ctx.admin.create_api_key(session, organisation_id=a.id, role="professional")
        kb = await ctx.admin.create_api_key(session, organisation_id=b.id, role="professional")
        kadmin = await ctx.admin.create_api_key(session, organisation_id=a.id, role="org-admin")
        operator = AccessContext.system(role="operator", started_at=ctx.clock.now())
        for operation, subjects in (
            (
                Operation.ADMIN_CREATE_ORGANISATION,
                [("organisation", o.id) for o in (a, b, municipality)],
            ),
            (
                Operation.ADMIN_CREATE_PROFESSIONAL,
                [("professional", p.id) for p in (pa, pb, admin, covenant_manager)],
            ),
            (Operation.ADMIN_CREATE_API_KEY, [("api-key", k.id) for k in (ka, kb, kadmin)]),
        ):
            await ctx.access_log.record_many(
                session,
                operator,
                operation=operation,
                subjects=[Subject.reference(t, i) for t, i in subjects],
            )
    base = f"http://{ctx.settings.host}:{ctx.settings.port}"
    labels = ("professional", "professional", "org-admin", "municipality-admin")
    portal_accounts = "".join(
        f"""
  {issued.username} ({label})
    password : {issued.password}
    secret   : {issued.totp_secret}
    link     : {issued.provisioning_uri}"""
        for issued, label in zip(accounts, labels, strict=True)
    )
    return f"""
Demo seeded. These API keys are shown ONCE; they are stored only as hashes.

  {a.name} ({a.sector})
    organisation id : {a.id}
    professional id : {pa.id}
    professional key: {ka.key}
    org-admin key   : {kadmin.key}
  {b.name} ({b.sector})
    organisation id : {b.id}
    professional id : {pb.id}
    professional key: {kb.key}

Try it (111222333 is a test BSN that passes the 11-test):

  curl -s -X POST {base}/v1/registrations \\
    -H 'Authorization: Bearer {ka.key}' -H 'X-Professional-Id: {pa.id}' \\
    -H 'Content-Type: application/json' -d '{{"bsn": "111222333", "birth_date": "2012-05-01"}}'

  curl -s -X POST {base}/v1/registrations \\
    -H 'Authorization: Bearer {kb.key}' -H 'X-Professional-Id: {pb.id}' \\
    -H 'Content-Type: application/json' -d '{{"bsn": "111222333", "birth_date": "2012-05-01"}}'

The second answer carries a match_id; read it with
  curl -s {base}/v1/matches/<match_id> \\
    -H 'Authorization: Bearer {kb.key}' -H 'X-Professional-Id: {pb.id}'

The web portal: {base}/portal/ (sign in with a user name, its password and the six-digit
code of an authenticator app to which you add the secret, or its otpauth:// link):
{portal_accounts}
  Without an app: .venv/bin/python -c "import pyotp; print(pyotp.TOTP('<secret>').now())"

API documentation: {base}/docs (OpenAPI: {base}/openapi.json)
"""
