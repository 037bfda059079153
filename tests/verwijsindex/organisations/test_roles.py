"""Who reads the consent ledger and how much of it (issue 14, finding 1).

An org-admin used to issue ``auditor`` keys through the API, and any such key read every
organisation's ledger entries with their personal parts (professional ids, a legal ground's
free-text justification). Now: ``auditor`` keys are appointed on the command line only and see
every entry's metadata, never a personal part; an organisation's ``reviewer`` sees only its own
entries' metadata; only the privacy officer sees personal parts, and that read is logged.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import Caller
from tests.consent.helpers import JUSTIFICATION, open_match, raw_exchange, record, with_key
from tests.verwijsindex.helpers import privacy_officer_headers, records
from verwijsindex.context import AppContext
from verwijsindex.organisations.models import ApiKey
from verwijsindex.storage.migrate import alembic_config


async def _ledger(client: httpx.AsyncClient, callers: list[Caller]) -> dict[str, Any]:
    """Entry 0: a consent of B towards C; 1: B's legal-ground exchange to C (with the
    justification); 2: a consent of A towards B. A is a party to entry 2 only."""
    a, b, c = callers
    bc = await open_match(client, [b, c], bsn="111222333")
    party_c = await with_key(client, c)
    await record(client, bc, b, party_c.org)
    body = raw_exchange(
        party_c.org, legal_ground={"code": "court-measure", "justification": JUSTIFICATION}
    )
    r = await client.post(f"/v1/matches/{bc}/exchanges", json=body, headers=b.headers)
    assert r.status_code == 201, r.text
    ab = await open_match(client, [a, b], bsn="123456782")
    await record(client, ab, a, b.organisation_id)
    return {"a": a, "b": b}


async def _entries(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    r = await client.get("/v1/audit/entries?start=0&end=3", headers=headers)
    assert r.status_code == 200, r.text
    assert len(r.json()["entries"]) == 3
    return r


class TestAuditorScope:
    async def test_an_auditor_of_a_cannot_read_the_content_of_bs_entries(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        parties = await _ledger(client, callers)
        b: Caller = parties["b"]
        r = await _entries(client, callers[0].auditor_headers)
        assert JUSTIFICATION not in r.text
        assert "justification" not in r.text
        assert b.professional_id not in r.text
        for entry in r.json()["entries"]:
            assert entry["data"] is not None  # the metadata, to verify the log as a whole
            assert (entry["salt"], entry["personal"]) == (None, None)
            assert entry["personal_withheld"] is True

    async def test_a_reviewer_sees_only_its_own_organisations_entries(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        parties = await _ledger(client, callers)
        a: Caller = parties["a"]
        r = await client.post("/v1/api-keys", json={"role": "reviewer"}, headers=a.admin_headers)
        assert r.status_code == 201, r.text
        reviewer = {"Authorization": f"Bearer {r.json()['key']}"}
        r = await _entries(client, reviewer)
        entries = r.json()["entries"]
        assert [e["data"] is not None for e in entries] == [False, False, True]
        assert a.organisation_id in str(entries[2]["data"])
        assert all(e["leaf_hash"] for e in entries)  # the public interface: every leaf hash
        assert all(e["personal"] is None for e in entries)
        assert JUSTIFICATION not in r.text
        for path in ("/v1/audit/checkpoint", "/v1/audit/proofs/inclusion?index=0&tree_size=3"):
            assert (await client.get(path, headers=reviewer)).status_code == 200
        # the consent tables beside the ledger: the same scope (its own organisation's rows)
        r = await client.get("/v1/audit/table-records", headers=reviewer)
        assert r.status_code == 200, r.text
        rows = r.json()["records"]
        assert [row["ledger_index"] for row in rows] == [2]
        assert all(a.organisation_id in str(row["record"]) for row in rows)
        # its own organisation's access log, not another's
        r = await client.get(
            f"/v1/audit/access-log?organisation_id={parties['b'].organisation_id}",
            headers=reviewer,
        )
        assert r.status_code == 403

    async def test_only_the_privacy_officer_reads_personal_parts_and_that_is_logged(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _ledger(client, callers)
        officer = await privacy_officer_headers(ctx)
        r = await _entries(client, officer)
        personal = [json.loads(e["personal"]) for e in r.json()["entries"]]
        assert personal[1]["justification"] == JUSTIFICATION
        assert not any(e["personal_withheld"] for e in r.json()["entries"])
        [logged] = await records(ctx, "audit.ledger.personal-read")
        assert (logged.role, logged.reference) == ("privacy-officer", "ledger entries 0..3")

    async def test_auditor_keys_come_only_from_the_command_line(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        r = await client.post(
            "/v1/api-keys", json={"role": "auditor"}, headers=callers[0].admin_headers
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"


def _migrate(connection: Connection, revision: str, *, down: bool) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, revision)


class TestMigration:
    async def test_existing_auditor_keys_become_reviewer_keys(
        self, ctx: AppContext, callers: list[Caller], database_url: str
    ) -> None:
        """Whether an existing auditor key was issued through the API is not recorded, so
        each becomes its organisation's reviewer key; appointed auditors are issued again."""
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_migrate, "0006_bulk_import_grants", down=True)
            async with engine.begin() as connection:
                roles = (await connection.execute(text("SELECT role FROM api_keys"))).scalars()
                assert "auditor" in set(roles)
                await connection.run_sync(_migrate, "head", down=False)
        finally:
            await engine.dispose()
        async with ctx.database.transaction() as session:
            roles = set((await session.execute(select(ApiKey.role))).scalars())
        assert "auditor" not in roles
        assert {"professional", "org-admin", "reviewer"} <= roles
