"""Subject access (AVG art. 15) and erasure (art. 17) by the municipality's privacy officer."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

import crypto
from notifier import OutboxEvent
from tests.conftest import Caller, registration_body
from tests.verwijsindex.helpers import privacy_officer_headers, records
from verwijsindex.context import AppContext
from verwijsindex.errors import InvalidInput
from verwijsindex.subject_rights.service import ErasureHookResult, ErasureScope

X = "111222333"
Y = "123456782"


async def _scenario(client: httpx.AsyncClient, callers: list[Caller]) -> tuple[list[str], str, str]:
    """Youth X registered by callers 0 and 1 (a match, read by caller 0); youth Y by caller 2."""
    x = []
    for c in callers[:2]:
        r = await client.post("/v1/registrations", json=registration_body(X), headers=c.headers)
        assert r.status_code == 201
        x.append(r.json()["id"])
    match_id = r.json()["match_id"]
    assert (await client.get(f"/v1/matches/{match_id}", headers=callers[0].headers)).status_code
    y = await client.post(
        "/v1/registrations", json=registration_body(Y), headers=callers[2].headers
    )
    return x, match_id, y.json()["id"]


class TestSubjectAccess:
    async def test_lists_exactly_that_youths_registrations_matches_and_log(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        x_regs, match_id, y_reg = await _scenario(client, callers)
        officer = await privacy_officer_headers(ctx)
        r = await client.post(
            "/v1/subject-access", json={"bsn": X, "birth_date": "2012-05-01"}, headers=officer
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert sorted(g["id"] for g in body["registrations"]) == sorted(x_regs)
        assert {g["organisation"]["id"] for g in body["registrations"]} == {
            callers[0].organisation_id,
            callers[1].organisation_id,
        }
        assert {g["status"] for g in body["registrations"]} == {"active"}
        [match] = body["matches"]
        assert match["id"] == match_id
        assert sorted(p["registration_id"] for p in match["participants"]) == sorted(x_regs)
        ops = sorted(
            (e["operation"], e["subject_ref_type"] or "person") for e in body["access_log"]
        )
        assert ops == [
            ("match.read", "match"),
            ("registration.create", "person"),
            ("registration.create", "person"),
        ]
        # each organisation's record carries that organisation's pseudonym of X
        x_pseudonyms = {
            ctx.keys.access_log_subject(crypto.parse_bsn(X), c.organisation_id) for c in callers[:2]
        }
        assert len(x_pseudonyms) == 2
        assert {e["subject_pseudonym"] for e in body["access_log"]} == {*x_pseudonyms, None}
        assert y_reg not in r.text
        for caller in callers:
            assert (
                ctx.keys.access_log_subject(crypto.parse_bsn(Y), caller.organisation_id)
                not in r.text
            )
        assert X not in r.text
        # the request itself is recorded, about X, with the officer's organisation's pseudonym
        [logged] = await records(ctx, "subject-access")
        assert (logged.role, logged.subject_pseudonym) == (
            "privacy-officer",
            ctx.keys.access_log_subject(crypto.parse_bsn(X), logged.organisation_id),
        )

    async def test_lists_withdrawn_registrations_and_closed_matches(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        """Each status has its own index by youth: both are read."""
        x_regs, match_id, _ = await _scenario(client, callers)
        r = await client.post(
            f"/v1/registrations/{x_regs[0]}/withdraw",
            json={"reason": "risk_resolved"},
            headers=callers[0].headers,
        )
        assert r.status_code == 200, r.text
        officer = await privacy_officer_headers(ctx)
        r = await client.post("/v1/subject-access", json={"bsn": X}, headers=officer)
        assert r.status_code == 200, r.text
        body = r.json()
        assert {g["id"]: g["status"] for g in body["registrations"]} == {
            x_regs[0]: "withdrawn",
            x_regs[1]: "active",
        }
        assert [(m["id"], m["status"]) for m in body["matches"]] == [(match_id, "closed")]

    async def test_unknown_youth_gives_empty_lists(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        officer = await privacy_officer_headers(ctx)
        r = await client.post("/v1/subject-access", json={"bsn": "999999990"}, headers=officer)
        assert r.json() == {
            "registrations": [],
            "matches": [],
            "cross_region_matches": [],
            "access_log": [],
        }

    async def test_invalid_bsn_is_422_without_echo(
        self, client: httpx.AsyncClient, ctx: AppContext
    ) -> None:
        officer = await privacy_officer_headers(ctx)
        r = await client.post("/v1/subject-access", json={"bsn": "123456789"}, headers=officer)
        assert r.status_code == 422
        assert "123456789" not in r.text


class TestSubjectErasure:
    async def test_erasure_removes_everything_of_the_youth_and_nothing_else(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        x_regs, match_id, y_reg = await _scenario(client, callers)
        officer = await privacy_officer_headers(ctx)
        r = await client.post(
            "/v1/subject-erasure",
            json={"bsn": X, "reason": "data-subject-request", "request_reference": "AVG-2026/17"},
            headers=officer,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (
            body["ended_registrations"],
            body["erased_registrations"],
            body["erased_matches"],
            body["erased_participations"],
            body["extensions"],
        ) == (2, 2, 1, 2, [{"name": "consent-ledger", "erased": 0}])  # no consent recorded

        # scan the index tables for any pseudonym of X (every key version) or its rows
        bsn = crypto.parse_bsn(X)
        secrets = [*ctx.keys.all_pseudonyms(bsn), *x_regs, match_id, X]
        async with ctx.database.transaction() as session:
            for table in ("registrations", "matches", "match_participants"):
                rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()
                dump = json.dumps([[str(v) for v in row] for row in rows])
                for secret in secrets:
                    assert secret not in dump, table
            remaining = (await session.execute(text("SELECT id FROM registrations"))).scalars()
            assert list(remaining) == [y_reg]
            events = (
                await session.execute(
                    select(OutboxEvent.event_type, OutboxEvent.payload).where(
                        OutboxEvent.event_type == "registration.ended"
                    )
                )
            ).all()
        assert len(events) == 2
        assert all(json.loads(p)["data"]["reason"] == "erasure" for _, p in events)
        # the erasure is in the access log with its reference; the chain still verifies
        [logged] = await records(ctx, "subject-erasure")
        assert (logged.reason, logged.reference) == ("data-subject-request", "AVG-2026/17")
        assert logged.subject_pseudonym == ctx.keys.access_log_subject(bsn, logged.organisation_id)
        async with ctx.database.transaction() as session:
            await ctx.access_log.verify(session)
        # the participants can no longer read the match
        gone = await client.get(f"/v1/matches/{match_id}", headers=callers[0].headers)
        assert gone.status_code == 404
        # and a subject-access request now finds only the access-log records
        after = await client.post("/v1/subject-access", json={"bsn": X}, headers=officer)
        assert after.json()["registrations"] == [] and after.json()["matches"] == []

    async def test_erasure_hooks_are_called_in_the_transaction(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        x_regs, match_id, _ = await _scenario(client, callers)
        seen: list[ErasureScope] = []

        async def hook(session: object, scope: ErasureScope) -> ErasureHookResult:
            seen.append(scope)
            return ErasureHookResult(name="test-ledger", erased=3)

        ctx.subject_rights.add_erasure_hook(hook)  # type: ignore[arg-type]
        officer = await privacy_officer_headers(ctx)
        r = await client.post(
            "/v1/subject-erasure",
            json={"bsn": X, "reason": "court-order", "request_reference": "ECLI-NL-1"},
            headers=officer,
        )
        assert r.json()["extensions"] == [
            {"name": "consent-ledger", "erased": 0},
            {"name": "test-ledger", "erased": 3},
        ]
        [scope] = seen
        assert sorted(scope.registration_ids) == sorted(x_regs)
        assert scope.match_ids == [match_id]
        assert scope.request_reference == "ECLI-NL-1"

    async def test_reference_with_personal_data_shape_is_refused(
        self, client: httpx.AsyncClient, ctx: AppContext
    ) -> None:
        officer = await privacy_officer_headers(ctx)
        r = await client.post(
            "/v1/subject-erasure",
            json={"bsn": X, "reason": "other", "request_reference": "jan jansen"},
            headers=officer,
        )
        assert r.status_code == 422


class TestPermissions:
    @pytest.mark.parametrize("path", ["/v1/subject-access", "/v1/subject-erasure"])
    async def test_only_the_privacy_officer_may(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, path: str
    ) -> None:
        body = {"bsn": X, "reason": "other", "request_reference": "R1"}
        if path.endswith("access"):
            body = {"bsn": X}
        c = callers[0]
        for headers in (c.headers, c.admin_headers, c.auditor_headers):
            assert (await client.post(path, json=body, headers=headers)).status_code == 403
        assert (await client.post(path, json=body)).status_code == 401
        officer = await privacy_officer_headers(ctx)
        assert (await client.post(path, json=body, headers=officer)).status_code == 200
        denied = [r for r in await records(ctx) if r.status == "denied"]
        assert len(denied) == 4
        assert all(r.subject_pseudonym is None for r in denied)

    async def test_privacy_officer_key_only_for_the_municipality(
        self, callers: list[Caller], ctx: AppContext
    ) -> None:
        with pytest.raises(InvalidInput):
            async with ctx.database.transaction() as session:
                await ctx.admin.create_api_key(
                    session, organisation_id=callers[0].organisation_id, role="privacy-officer"
                )


class TestKeyRotation:
    async def test_access_and_erasure_find_rows_made_under_an_older_key_version(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        import secrets

        from verwijsindex.keys import KeyRing, MasterKey
        from verwijsindex.registrations.index import MatchIndex
        from verwijsindex.subject_rights.service import SubjectRightsService

        x_regs, match_id, y_reg = await _scenario(client, callers)  # made under version 1
        rotated = KeyRing(
            [
                ctx.keys._masters[1],
                MasterKey(version=2, development=True, _material=secrets.token_bytes(32)),
            ]
        )
        service = SubjectRightsService(
            keys=rotated,
            clock=ctx.clock,
            index=MatchIndex(keys=rotated, clock=ctx.clock),
            database=ctx.database,
            access_log=ctx.access_log,
        )
        bsn = crypto.parse_bsn(X)
        org = callers[0].organisation_id
        assert rotated.access_log_subject(bsn, org) != ctx.keys.access_log_subject(bsn, org)
        async with ctx.database.transaction() as session:
            report = await service.access(session, bsn=bsn, actor_organisation_id=None)
        assert sorted(r.registration.id for r in report.registrations) == sorted(x_regs)
        assert [m.match.id for m in report.matches] == [match_id]
        assert sorted(r.operation for r in report.access_log) == [
            "match.read",
            "registration.create",
            "registration.create",
        ]
        async with ctx.database.transaction() as session:
            erased = await service.erase(
                session, bsn=bsn, request_reference="R-2", actor_organisation_id=None
            )
        assert (erased.erased_registrations, erased.erased_matches) == (2, 1)
        async with ctx.database.transaction() as session:
            left = (await session.execute(text("SELECT id FROM registrations"))).scalars()
            assert list(left) == [y_reg]


def _sqlite_files(path: str) -> dict[str, bytes]:
    files = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(path + suffix)
        if p.exists():
            files[p.name] = p.read_bytes()
    return files


def _occurrences(files: dict[str, bytes], needles: list[str]) -> dict[str, int]:
    counts = {name: sum(blob.count(n.encode()) for n in needles) for name, blob in files.items()}
    return {name: count for name, count in counts.items() if count}


class TestErasureLeavesNoCopyOnDisk:
    """Finding 10 of the outside security test: after an erasure the youth's pseudonym stayed
    in the SQLite write-ahead log (and, once copied back, in freed pages of the main file)."""

    @pytest.mark.parametrize("backend", ["sqlite"])
    async def test_no_pseudonym_in_the_main_file_the_wal_or_the_shm(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _scenario(client, callers)
        path = ctx.database.path
        assert path is not None
        pseudonyms = [str(p) for p in ctx.keys.all_pseudonyms(crypto.parse_bsn(X))]
        other = [str(p) for p in ctx.keys.all_pseudonyms(crypto.parse_bsn(Y))]
        assert _occurrences(_sqlite_files(path), pseudonyms)  # the scan can find it
        officer = await privacy_officer_headers(ctx)
        r = await client.post(
            "/v1/subject-erasure",
            json={"bsn": X, "reason": "data-subject-request", "request_reference": "AVG-2026/18"},
            headers=officer,
        )
        assert r.status_code == 200, r.text
        files = _sqlite_files(path)
        assert _occurrences(files, pseudonyms) == {}
        assert _occurrences(files, other)  # the other youth's rows are still there
