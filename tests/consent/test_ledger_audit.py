"""The consent ledger: auditor endpoints, signed checkpoints and the independent verifier."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, text, update

from consent import ConsentEventRow, Exchange, LedgerEntry, canonical_json
from crypto import leaf_hash, parse_verifier_key, verify_consistency, verify_inclusion
from tests.conftest import Caller
from tests.consent import ed25519_ref
from tests.consent.helpers import (
    JUSTIFICATION,
    PROBLEM,
    open_match,
    raw_exchange,
    record,
    with_key,
)
from tests.verwijsindex.helpers import privacy_officer_headers
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext

ROOT = Path(__file__).resolve().parents[2]


def _load_verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "verify_ledger", ROOT / "scripts/verify_ledger.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_ledger"] = module
    spec.loader.exec_module(module)
    return module


verifier = _load_verifier()


async def run_verifier(
    client: httpx.AsyncClient,
    auditor: Caller,
    state: Path | None,
    vkey: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Run the standalone verifier in a thread; its HTTP goes through the in-process app.
    ``headers`` (default: the auditor's) are the privacy officer's to check commitments."""
    loop = asyncio.get_running_loop()
    reader = auditor.auditor_headers if headers is None else headers
    if vkey is None:
        r = await client.get("/v1/audit/public-key", headers=reader)
        vkey = r.json()["verifier_key"]

    def fetch(path: str) -> bytes:
        future = asyncio.run_coroutine_threadsafe(client.get(path, headers=reader), loop)
        response = future.result(timeout=60)
        if response.status_code != 200:
            raise verifier.VerificationError(f"GET {path}: HTTP {response.status_code}")
        return response.content

    return await asyncio.to_thread(verifier.verify, fetch, verifier_key=vkey, state=state)


async def populate(client: httpx.AsyncClient, callers: list[Caller]) -> str:
    """Entries 0: grant, 1: exchange under it, 2: legal-ground exchange, 3: withdrawal."""
    match_id = await open_match(client, callers[:2])
    party = await with_key(client, callers[1])
    await record(client, match_id, callers[0], party.org, evidence_hash="ab" * 32)
    url = f"/v1/matches/{match_id}/exchanges"
    r = await client.post(url, json=raw_exchange(party.org), headers=callers[0].headers)
    assert r.status_code == 201, r.text
    body = raw_exchange(
        party.org, legal_ground={"code": "court-measure", "justification": JUSTIFICATION}
    )
    r = await client.post(url, json=body, headers=callers[0].headers)
    assert r.status_code == 201, r.text
    await record(client, match_id, callers[0], party.org, event="withdrawn")
    return match_id


async def _rows(ctx: AppContext) -> list[LedgerEntry]:
    async with ctx.database.transaction() as session:
        return list(
            (await session.execute(select(LedgerEntry).order_by(LedgerEntry.idx))).scalars()
        )


async def _set(ctx: AppContext, index: int, **values: Any) -> None:
    async with ctx.database.transaction() as session:
        await session.execute(update(LedgerEntry).where(LedgerEntry.idx == index).values(**values))


def _edit_record(data: str, change: Callable[[dict[str, Any]], None]) -> str:
    document = json.loads(data)
    change(document)
    return canonical_json(document).decode()


class TestAuditEndpoints:
    async def test_only_auditors_read_the_ledger(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        for path in ("/v1/audit/checkpoint", "/v1/audit/entries", "/v1/audit/public-key"):
            r = await client.get(path, headers=callers[0].headers)
            assert r.status_code == 403, path
            r = await client.get(path, headers=callers[0].admin_headers)
            assert r.status_code == 403, path

    async def test_checkpoint_is_a_signed_note_verified_by_plain_ed25519(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        await populate(client, callers)
        auditor = callers[2].auditor_headers
        r = await client.get("/v1/audit/checkpoint", headers=auditor)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        note = r.text
        text_part, signature_block = note.split("\n\n")
        origin, size, root = text_part.split("\n")
        assert origin.endswith("/consent-ledger")
        assert size == "4"
        assert len(base64.b64decode(root)) == 32
        line = signature_block.rstrip("\n")
        assert line.startswith("\u2014 " + origin + " ")
        raw = base64.b64decode(line.rsplit(" ", 1)[1])
        key = (await client.get("/v1/audit/public-key", headers=auditor)).json()
        public = base64.b64decode(key["public_key"])
        vkey = parse_verifier_key(key["verifier_key"])
        assert raw[:4] == vkey.key_id
        message = (text_part + "\n").encode()
        assert ed25519_ref.verify(public, message, raw[4:])
        assert not ed25519_ref.verify(public, message.replace(b"\n4\n", b"\n5\n"), raw[4:])

    async def test_checkpoints_stay_consistent_across_appends(
        self, client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock
    ) -> None:
        match_id = await populate(client, callers)
        auditor = callers[2].auditor_headers
        first = (await client.get("/v1/audit/checkpoint", headers=auditor)).text
        for _ in range(5):
            clock.advance(timedelta(minutes=1))
            await record(client, match_id, callers[1], callers[0].organisation_id, grantor="youth")
        second = (await client.get("/v1/audit/checkpoint", headers=auditor)).text
        size1, root1 = int(first.split("\n")[1]), base64.b64decode(first.split("\n")[2])
        size2, root2 = int(second.split("\n")[1]), base64.b64decode(second.split("\n")[2])
        assert (size1, size2) == (4, 9)
        r = await client.get(
            "/v1/audit/proofs/consistency",
            params={"first": size1, "second": size2},
            headers=auditor,
        )
        proof = [base64.b64decode(p) for p in r.json()["proof"]]
        verify_consistency(
            first=size1, second=size2, first_root=root1, second_root=root2, proof=proof
        )
        entries = (
            await client.get("/v1/audit/entries", params={"start": 0, "end": 9}, headers=auditor)
        ).json()["entries"]
        for entry in entries:
            r = await client.get(
                "/v1/audit/proofs/inclusion",
                params={"index": entry["index"], "tree_size": size2},
                headers=auditor,
            )
            assert r.status_code == 200
            verify_inclusion(
                leaf_hash=leaf_hash(entry["data"].encode()),
                index=entry["index"],
                tree_size=size2,
                proof=[base64.b64decode(p) for p in r.json()["proof"]],
                root=root2,
            )
        r = await client.get(
            "/v1/audit/proofs/inclusion", params={"index": 9, "tree_size": 10}, headers=auditor
        )
        assert r.status_code == 422

    async def test_entries_hold_metadata_never_content(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await populate(client, callers)
        r = await client.get("/v1/audit/entries", headers=callers[2].auditor_headers)
        served = r.text
        assert "sealed elsewhere" not in served
        assert base64.b64encode(b"sealed elsewhere").decode() not in served
        records = [json.loads(e["data"]) for e in r.json()["entries"]]
        assert [rec["type"] for rec in records] == [
            "consent-event",
            "exchange",
            "exchange",
            "consent-event",
        ]
        assert all("commitment" in rec for rec in records)
        assert "justification" not in r.json()["entries"][2]["data"]

    async def test_the_service_refuses_to_sign_a_rewritten_log(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        match_id = await populate(client, callers)
        auditor = callers[2].auditor_headers
        assert (await client.get("/v1/audit/checkpoint", headers=auditor)).status_code == 200
        rows = await _rows(ctx)
        forged = _edit_record(rows[1].record, lambda d: d.update(data_category="health"))
        await _set(ctx, 1, record=forged, leaf_hash=leaf_hash(forged.encode()))
        await record(client, match_id, callers[1], callers[0].organisation_id)
        r = await client.get("/v1/audit/checkpoint", headers=auditor)
        assert r.status_code == 200
        assert r.headers["ledger-status"] == "inconsistent"
        assert r.text.split("\n")[1] == "4"  # the last good checkpoint, nothing new signed


class TestVerifier:
    async def test_a_clean_ledger_verifies_and_flags_legal_grounds(
        self, client: httpx.AsyncClient, callers: list[Caller], tmp_path: Path
    ) -> None:
        await populate(client, callers)
        report = await run_verifier(client, callers[2], tmp_path / "state.json")
        assert report.ok, report.text()
        assert (report.entries, report.consent_events, report.exchanges) == (4, 2, 2)
        assert report.flagged == [2]
        # A second run checks consistency with the stored checkpoint.
        report = await run_verifier(client, callers[2], tmp_path / "state.json")
        assert report.ok, report.text()

    async def test_a_wrong_pinned_key_fails(
        self, client: httpx.AsyncClient, callers: list[Caller], tmp_path: Path
    ) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from crypto import format_verifier_key

        await populate(client, callers)
        r = await client.get("/v1/audit/public-key", headers=callers[2].auditor_headers)
        other = format_verifier_key(
            name=r.json()["origin"], public_key=Ed25519PrivateKey.generate().public_key()
        )
        report = await run_verifier(client, callers[2], tmp_path / "s.json", vkey=other)
        assert not report.ok
        assert "not signed by the pinned key" in report.violations[0]

    @pytest.mark.parametrize(
        ("index", "tamper", "expected"),
        [
            (1, "record", "entry 1: stored leaf hash does not match its record"),
            (0, "leaf_hash", "entry 0: stored leaf hash does not match its record"),
            (0, "personal", "entry 0: commitment does not open to its personal fields"),
            (2, "salt", "entry 2: commitment does not open to its personal fields"),
            (3, "half-erase", "entry 3: commitment is half erased"),
        ],
    )
    async def test_tampering_with_a_row_is_named(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        tmp_path: Path,
        index: int,
        tamper: str,
        expected: str,
    ) -> None:
        await populate(client, callers)
        await client.get("/v1/audit/checkpoint", headers=callers[2].auditor_headers)
        row = (await _rows(ctx))[index]
        if tamper == "record":
            await _set(ctx, index, record=row.record.replace('"care"', '"health"'))
        elif tamper == "leaf_hash":
            await _set(ctx, index, leaf_hash=bytes(32))
        elif tamper == "personal":
            assert row.personal is not None
            await _set(ctx, index, personal=row.personal.replace("ab", "cd"))
        elif tamper == "salt":
            await _set(ctx, index, salt=bytes(16))
        else:
            await _set(ctx, index, salt=None)
        # the personal parts are the privacy officer's to see, and so to check
        officer = await privacy_officer_headers(ctx)
        report = await run_verifier(client, callers[2], tmp_path / "state.json", headers=officer)
        assert not report.ok
        assert expected in report.violations, report.text()

    @pytest.mark.parametrize(
        ("index", "change"),
        [
            (1, lambda d: d.update(data_category="health")),
            (0, lambda d: d.update(commitment="0" * 64)),
            (3, lambda d: d.update(event="given")),
        ],
    )
    async def test_a_consistently_rehashed_row_is_named_by_the_next_run(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        tmp_path: Path,
        index: int,
        change: Callable[[dict[str, Any]], None],
    ) -> None:
        await populate(client, callers)
        state = tmp_path / "state.json"
        assert (await run_verifier(client, callers[2], state)).ok
        row = (await _rows(ctx))[index]
        forged = _edit_record(row.record, change)
        await _set(ctx, index, record=forged, leaf_hash=leaf_hash(forged.encode()))
        report = await run_verifier(client, callers[2], state)
        assert not report.ok
        assert f"entry {index}: changed since it was last verified" in report.violations

    async def test_a_deleted_row_is_named(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, tmp_path: Path
    ) -> None:
        await populate(client, callers)
        await client.get("/v1/audit/checkpoint", headers=callers[2].auditor_headers)
        async with ctx.database.transaction() as session:
            await session.execute(delete(LedgerEntry).where(LedgerEntry.idx == 1))
        report = await run_verifier(client, callers[2], tmp_path / "state.json")
        assert not report.ok
        assert "entry 1: served with index 2 (gap or reordering)" in report.violations

    async def test_an_exchange_that_bypassed_the_gate_is_named(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, tmp_path: Path
    ) -> None:
        """Even a correctly hashed and signed entry breaks the business rules."""
        match_id = await open_match(client, callers[:2])
        await with_key(client, callers[1])
        async with ctx.database.transaction() as session:
            await ctx.consent.ledger.append(
                session,
                record={
                    "type": "exchange",
                    "id": "forged",
                    "match_id": match_id,
                    "created_at": ctx.clock.now().isoformat(),
                    "sender_organisation_id": callers[0].organisation_id,
                    "recipient_organisation_id": callers[1].organisation_id,
                    "purpose": "care-coordination",
                    "data_category": "care",
                    "basis": "consent",
                    "consent_reference": ["made-up"],
                    "legal_ground": None,
                    "flagged_for_review": False,
                    "ciphertext_sha256": "0" * 64,
                    "recipient_key_id": "k",
                },
                personal={"sender_professional_id": "p", "justification": None},
                at=ctx.clock.now(),
            )
        report = await run_verifier(client, callers[2], tmp_path / "state.json")
        assert "entry 0: exchange not covered by consent at its time" in report.violations

    async def test_erased_personal_parts_still_verify(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, tmp_path: Path
    ) -> None:
        await populate(client, callers)
        async with ctx.database.transaction() as session:
            erased = await ctx.consent.ledger.erase_personal(
                session, before=ctx.clock.now() + timedelta(seconds=1), at=ctx.clock.now()
            )
        assert erased == 4
        report = await run_verifier(client, callers[2], tmp_path / "state.json")
        assert report.ok, report.text()
        assert report.erased == 4


class TestPrivacy:
    async def test_no_birth_date_is_stored(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        match_id = await open_match(client, callers[:2], bsn="123456782", birth="2009-07-23")
        await record(
            client,
            match_id,
            callers[0],
            callers[1].organisation_id,
            subject_birth_date="2009-07-23",
        )
        needles = ["2009-07-23", "20090723", "23-07-2009", "23072009", "2009/07/23"]
        tables = ["consent_events", "exchanges", "ledger_entries", "organisation_encryption_keys"]
        async with ctx.database.transaction() as session:
            for table in tables:
                rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()
                dump = repr(rows)
                for needle in needles:
                    assert needle not in dump, table
            events = (await session.execute(select(ConsentEventRow))).scalars().all()
            assert [e.age_band for e in events] == ["16-plus"]
            assert (await session.execute(select(Exchange))).first() is None


class TestBothVerifiers:
    async def test_the_cli_verifier_agrees_with_the_standalone_one(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, tmp_path: Path
    ) -> None:
        """``verwijsindex audit verify`` (service code) and the script name the same entries."""
        from verwijsindex.client.ledger_audit import verify_ledger

        await populate(client, callers)
        auditor = callers[2]
        officer = await privacy_officer_headers(ctx)  # sees (and checks) the personal parts
        vkey = (await client.get("/v1/audit/public-key", headers=officer)).json()["verifier_key"]
        loop = asyncio.get_running_loop()

        def fetch(path: str) -> bytes:
            future = asyncio.run_coroutine_threadsafe(client.get(path, headers=officer), loop)
            response = future.result(timeout=60)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status_code}")
            return response.content

        async def both(state: str) -> tuple[list[str], list[str]]:
            cli = await asyncio.to_thread(
                verify_ledger, fetch, verifier_key=vkey, state=tmp_path / f"cli-{state}"
            )
            script = await run_verifier(
                client, auditor, tmp_path / f"script-{state}", vkey=vkey, headers=officer
            )
            return cli.violations, script.violations

        assert await both("a") == ([], [])
        rows = await _rows(ctx)
        forged = _edit_record(rows[3].record, lambda d: d.update(event="given"))
        await _set(ctx, 3, record=forged, leaf_hash=leaf_hash(forged.encode()))
        await _set(ctx, 0, salt=bytes(16))
        cli, script = await both("a")
        assert cli == script
        assert "entry 3: changed since it was last verified" in cli
        assert "entry 0: commitment does not open to its personal fields" in cli


class TestSubjectErasureReachesTheLedger:
    async def test_erasure_erases_personal_parts_and_the_log_still_verifies(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, tmp_path: Path
    ) -> None:
        match_id = await populate(client, callers)
        async with ctx.database.transaction() as session:
            municipality = await ctx.admin.create_organisation(
                session, name="Gemeente", sector="municipality", municipality="0363"
            )
            officer = await ctx.admin.create_api_key(
                session, organisation_id=municipality.id, role="privacy-officer"
            )
        rows = await _rows(ctx)
        assert rows and all(r.personal is not None for r in rows)
        r = await client.post(
            "/v1/subject-erasure",
            json={"bsn": "111222333", "reason": "data-subject-request", "request_reference": "R1"},
            headers={"Authorization": f"Bearer {officer.key}"},
        )
        assert r.status_code == 200, r.text
        assert {"name": "consent-ledger", "erased": len(rows)} in r.json()["extensions"]
        rows = await _rows(ctx)
        assert all(r.personal is None and r.salt is None and r.erased_at for r in rows)
        async with ctx.database.read() as session:
            left = await session.execute(select(Exchange).where(Exchange.match_id == match_id))
            assert all(e.ciphertext is None for e in left.scalars())
        report = await run_verifier(client, callers[2], tmp_path / "state.json")
        assert report is not None


async def verify_both(
    client: httpx.AsyncClient, auditor: Caller, state: Path
) -> tuple[list[str], list[str]]:
    """Violations of ``verwijsindex audit verify`` and of the standalone script, each with its
    own state file next to ``state`` (absent files: a first run without stored state)."""
    from verwijsindex.client.ledger_audit import verify_ledger

    vkey = (await client.get("/v1/audit/public-key", headers=auditor.auditor_headers)).json()[
        "verifier_key"
    ]
    loop = asyncio.get_running_loop()

    def fetch(path: str) -> bytes:
        future = asyncio.run_coroutine_threadsafe(
            client.get(path, headers=auditor.auditor_headers), loop
        )
        response = future.result(timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code}")
        return response.content

    cli = await asyncio.to_thread(
        verify_ledger, fetch, verifier_key=vkey, state=state.with_name("cli-" + state.name)
    )
    script = await run_verifier(client, auditor, state.with_name("script-" + state.name), vkey=vkey)
    return cli.violations, script.violations


class TestConsentTableAgainstTheLedger:
    """Finding 8 of the outside security test: the gate and the verifiers trusted
    ``consent_events`` without comparing it with the ledger."""

    async def test_an_edited_kind_is_named_by_both_verifiers_and_not_followed_by_the_gate(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, tmp_path: Path
    ) -> None:
        match_id = await populate(client, callers)  # entry 3 withdraws the grant of entry 0
        party = callers[1].organisation_id
        url = f"/v1/matches/{match_id}/exchanges"
        r = await client.post(url, json=raw_exchange(party), headers=callers[0].headers)
        assert r.status_code == 403  # withdrawn: no exchange
        assert await verify_both(client, callers[2], tmp_path / "s.json") == ([], [])
        async with ctx.database.transaction() as session:
            await session.execute(
                update(ConsentEventRow)
                .where(ConsentEventRow.ledger_index == 3)
                .values(kind="given")
            )
        cli, script = await verify_both(client, callers[2], tmp_path / "s.json")
        expected = (
            'entry 3: the consent_events row differs from the ledger (event: table "given",'
            ' ledger "withdrawn")'
        )
        assert cli == script == [expected]
        # The gate refuses to decide from the edited table, with a clear problem (no 500).
        r = await client.post(url, json=raw_exchange(party), headers=callers[0].headers)
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["type"] == PROBLEM + "consent-ledger-mismatch"
        assert (problem["ledger_index"], problem["fields"]) == (3, ["event"])
        async with ctx.database.transaction() as session:
            edited = (
                await session.execute(
                    select(ConsentEventRow.id).where(ConsentEventRow.ledger_index == 3)
                )
            ).scalar_one()
        for path in (f"/v1/matches/{match_id}/consents", f"/v1/consents/{edited}/fhir"):
            r = await client.get(path, headers=callers[0].headers)
            assert r.status_code == 409, (path, r.text)
        async with ctx.database.transaction() as session:
            stored = (await session.execute(select(Exchange))).scalars().all()
        assert len(stored) == 2  # the two of populate(), no new one

    @pytest.mark.parametrize(
        ("claimed", "expected"),
        [
            (
                0,
                'entry 0: a consent_events row (id "forged") claims this entry, which records'
                " an entry of type exchange (a forged or moved row)",
            ),
            (
                57,
                'entry 57: a consent_events row (id "forged") claims an entry past the end of'
                " the log (tree size 1)",
            ),
        ],
    )
    async def test_a_forged_grant_does_not_open_the_gate_and_is_named(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        tmp_path: Path,
        claimed: int,
        expected: str,
    ) -> None:
        match_id = await open_match(client, callers[:2])
        party = await with_key(client, callers[1])
        url = f"/v1/matches/{match_id}/exchanges"
        legal = raw_exchange(
            party.org, legal_ground={"code": "court-measure", "justification": JUSTIFICATION}
        )
        r = await client.post(url, json=legal, headers=callers[0].headers)
        assert r.status_code == 201, r.text  # ledger entry 0
        now = ctx.clock.now()
        async with ctx.database.transaction() as session:
            session.add(
                ConsentEventRow(
                    id="forged",
                    match_id=match_id,
                    organisation_id=callers[0].organisation_id,
                    counterpart_organisation_id=party.org,
                    recorded_by=callers[0].professional_id,
                    kind="given",
                    grantor="youth",
                    purpose="care-coordination",
                    data_categories="care",
                    direction="outgoing",
                    age_band="16-plus",
                    method="written",
                    valid_from=None,
                    valid_until=None,
                    evidence_hash=None,
                    recorded_at=now - timedelta(minutes=1),
                    ledger_index=claimed,
                )
            )
        r = await client.post(url, json=raw_exchange(party.org), headers=callers[0].headers)
        assert r.status_code == 409, r.text
        assert r.json()["type"] == PROBLEM + "consent-ledger-mismatch"
        assert r.json()["ledger_index"] == claimed
        async with ctx.database.transaction() as session:
            assert len((await session.execute(select(Exchange))).scalars().all()) == 1
        cli, script = await verify_both(client, callers[2], tmp_path / "s.json")
        assert cli == script == [expected]

    async def test_a_clean_ledger_matches_its_tables(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        await populate(client, callers)
        r = await client.get("/v1/audit/table-records", headers=callers[2].auditor_headers)
        assert r.status_code == 200
        body = r.json()
        assert [(x["ledger_index"], x["table"]) for x in body["records"]] == [
            (0, "consent_events"),
            (1, "exchanges"),
            (2, "exchanges"),
            (3, "consent_events"),
        ]
        assert (body["tree_size"], body["next_start"]) == (4, None)
        page = await client.get(
            "/v1/audit/table-records",
            params={"start": 1, "limit": 2},
            headers=callers[2].auditor_headers,
        )
        assert [x["ledger_index"] for x in page.json()["records"]] == [1, 2]
        assert page.json()["next_start"] == 3


class TestTamperingMessages:
    """Finding 12 of the outside security test: name the shrink and the first diverging
    entry, with and without a state file."""

    async def test_deleting_the_last_entry_is_named_as_a_shrink(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, tmp_path: Path
    ) -> None:
        await populate(client, callers)
        assert await verify_both(client, callers[2], tmp_path / "kept.json") == ([], [])
        async with ctx.database.transaction() as session:
            await session.execute(delete(LedgerEntry).where(LedgerEntry.idx == 3))
        cli, script = await verify_both(client, callers[2], tmp_path / "kept.json")
        assert (
            cli
            == script
            == [
                "checkpoint: the log shrank: tree size 3 is now smaller than the checkpointed 4"
                " (stored by an earlier run; entries 3..3 are gone)"
            ]
        )
        cli, script = await verify_both(client, callers[2], tmp_path / "fresh.json")
        assert (
            cli
            == script
            == [
                "checkpoint: the log shrank: tree size 3 is now smaller than the checkpointed 4"
                " (the served checkpoint; entries 3..3 are gone)"
            ]
        )

    async def test_a_consistent_rewrite_without_state_names_the_first_diverging_entry(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, tmp_path: Path
    ) -> None:
        await populate(client, callers)
        assert (await client.get("/v1/audit/checkpoint", headers=callers[2].auditor_headers)).text
        rows = await _rows(ctx)
        forged = _edit_record(rows[1].record, lambda d: d.update(data_category="health"))
        await _set(ctx, 1, record=forged, leaf_hash=leaf_hash(forged.encode()))
        cli, script = await verify_both(client, callers[2], tmp_path / "none.json")
        assert cli == script
        assert (
            'entry 1: the exchanges row differs from the ledger (data_category: table "care",'
            ' ledger "health")'
        ) in cli
        assert cli[-1].startswith("entry 1: the first diverging entry: replayed records do not")
        assert not any(v.startswith("entries 0..") for v in cli)
