"""The access log: one record per subject per operation, trace context, unlinkable subject
pseudonyms, the hash chain and signed heads, and the auditors' queries."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

import crypto
from tests.conftest import Caller, make_bsn, registration_body
from tests.verwijsindex.helpers import (
    drop_append_only_triggers,
    privacy_officer_headers,
    records,
)
from verwijsindex.accesslog import AccessLogRecord, AccessLogTampered, record_hash
from verwijsindex.accesslog._chain import CHAINED_FIELDS, RowHasher
from verwijsindex.cli import main as cli_main
from verwijsindex.clock import AMSTERDAM, FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.matches.models import Match
from verwijsindex.registrations.models import Registration
from verwijsindex.settings import Settings
from verwijsindex.storage.migrate import schema_metadata

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
BSN = "111222333"


async def _match(client: httpx.AsyncClient, callers: list[Caller]) -> tuple[str, str, str]:
    a = await client.post(
        "/v1/registrations", json=registration_body(BSN), headers=callers[0].headers
    )
    b = await client.post(
        "/v1/registrations", json=registration_body(BSN), headers=callers[1].headers
    )
    assert (a.status_code, b.status_code) == (201, 201)
    match_id = b.json()["match_id"]
    assert match_id
    return a.json()["id"], b.json()["id"], match_id


class TestRecordPerOperation:
    async def test_registration_create_records_actor_activity_and_subject_pseudonym(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        r = await client.post(
            "/v1/registrations", json=registration_body(BSN), headers=callers[0].headers
        )
        assert r.status_code == 201
        [rec] = await records(ctx, "registration.create")
        assert rec.seq == 1
        assert rec.status == "success"
        assert rec.activity_id == "VI-01"
        assert rec.professional_id == callers[0].professional_id
        assert rec.organisation_id == callers[0].organisation_id
        assert rec.on_behalf_of == callers[0].organisation_id
        assert rec.role == "professional"
        assert rec.subject_pseudonym == ctx.keys.access_log_subject(
            crypto.parse_bsn(BSN), callers[0].organisation_id
        )
        assert rec.subject_ref is None  # the create record does not name the registration
        assert rec.started_at <= rec.ended_at
        assert len(rec.trace_id) == 32 and len(rec.span_id) == 16
        assert rec.parent_span_id is None

    async def test_reads_withdraw_and_match_reads_each_record_their_subjects(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        reg_a, reg_b, match_id = await _match(client, callers)
        h = callers[0].headers
        assert (await client.get(f"/v1/registrations/{reg_a}", headers=h)).status_code == 200
        assert (await client.get("/v1/registrations", headers=h)).status_code == 200
        assert (await client.get("/v1/matches", headers=h)).status_code == 200
        assert (await client.get(f"/v1/matches/{match_id}", headers=h)).status_code == 200
        w = await client.post(
            f"/v1/registrations/{reg_b}/withdraw",
            json={"reason": "other"},
            headers=callers[1].headers,
        )
        assert w.status_code == 200

        def subjects(op: str, recs: list[AccessLogRecord]) -> list[tuple[str | None, str | None]]:
            return [(x.subject_ref_type, x.subject_ref) for x in recs if x.operation == op]

        recs = await records(ctx)
        assert subjects("registration.read", recs) == [("registration", reg_a)]
        assert subjects("registration.list", recs) == [("registration", reg_a)]
        assert subjects("match.list", recs) == [("match", match_id)]
        match_read = subjects("match.read", recs)
        assert match_read[0] == ("match", match_id)
        assert sorted(match_read[1:]) == sorted(
            [
                ("professional", callers[0].professional_id),
                ("professional", callers[1].professional_id),
            ]
        )
        assert subjects("registration.withdraw", recs) == [("registration", reg_b)]
        [withdraw] = [x for x in recs if x.operation == "registration.withdraw"]
        assert withdraw.reason == "other"
        assert withdraw.professional_id == callers[1].professional_id
        # one request, one span: the match read's records share trace and span
        reads = [x for x in recs if x.operation == "match.read"]
        assert len({(x.trace_id, x.span_id) for x in reads}) == 1
        assert [x.seq for x in recs] == list(range(1, len(recs) + 1))

    async def test_denied_requests_are_recorded_without_subject_pseudonym(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        r = await client.post(
            "/v1/registrations", json=registration_body(BSN), headers=callers[0].headers
        )
        reg_id = r.json()["id"]
        other = await client.get(f"/v1/registrations/{reg_id}", headers=callers[1].headers)
        assert other.status_code == 404
        anonymous = await client.get(f"/v1/registrations/{reg_id}")
        assert anonymous.status_code == 401
        wrong_role = await client.get("/v1/matches", headers=callers[1].auditor_headers)
        assert wrong_role.status_code == 403
        invalid = await client.post(
            "/v1/registrations", json=registration_body("123456789"), headers=callers[0].headers
        )
        assert invalid.status_code == 422

        denied = [x for x in await records(ctx) if x.status != "success"]
        summary = [
            (x.operation, x.status, x.organisation_id, x.subject_ref, x.subject_pseudonym)
            for x in denied
        ]
        assert summary == [
            ("registration.read", "denied", callers[1].organisation_id, reg_id, None),
            ("registration.read", "denied", None, reg_id, None),
            ("match.list", "denied", callers[1].organisation_id, None, None),
            ("registration.create", "failure", callers[0].organisation_id, None, None),
        ]
        assert denied[2].role == "auditor"


class TestTraceContext:
    async def test_incoming_traceparent_is_continued_with_a_new_span(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        r = await client.post(
            "/v1/registrations",
            json=registration_body(BSN),
            headers={**callers[0].headers, "traceparent": f"00-{TRACE}-{PARENT}-01"},
        )
        assert r.status_code == 201
        version, trace, span, flags = r.headers["traceparent"].split("-")
        assert (version, trace, flags) == ("00", TRACE, "01")
        assert span != PARENT and len(span) == 16
        [rec] = await records(ctx, "registration.create")
        # The record keeps the trace as keyed hashes of the caller's ids (issue 14, finding 9)
        assert (rec.trace_id, rec.parent_span_id, rec.span_id) == (
            ctx.keys.trace_id_hash(TRACE),
            ctx.keys.trace_id_hash(PARENT),
            span,
        )
        assert TRACE not in (rec.trace_id, rec.parent_span_id)
        assert len(rec.trace_id) == 32 and len(rec.parent_span_id or "") == 16

    async def test_a_bsn_shaped_trace_id_never_reaches_the_database(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        """Issue 14, finding 9: a caller's ``traceparent`` was stored verbatim in the
        append-only access log, so a BSN-shaped trace id stayed in the database for good."""
        bsn = make_bsn(4242)
        assert bsn != BSN
        trace_id = ("1" + bsn * 4)[:32]  # 32 hex digits, the BSN at several offsets
        parent = (bsn + "0000000")[:16]
        traceparent = {"traceparent": f"00-{trace_id}-{parent}-01"}
        created = await client.post(
            "/v1/registrations",
            json=registration_body(BSN),
            headers={**callers[0].headers, **traceparent},
        )
        assert created.status_code == 201
        read = await client.get(  # a read: appended through the group committer
            f"/v1/registrations/{created.json()['id']}",
            headers={**callers[0].headers, **traceparent},
        )
        assert read.status_code == 200
        denied = await client.get(  # a denial: recorded by the error handler
            f"/v1/registrations/{created.json()['id']}",
            headers={**callers[1].headers, **traceparent},
        )
        assert denied.status_code == 404
        # the caller still gets its own trace back
        assert created.headers["traceparent"].split("-")[1] == trace_id
        logged = await records(ctx)
        assert len(logged) >= 3
        async with ctx.database.transaction() as session:
            for table in (t for m in schema_metadata() for t in m.sorted_tables):
                for row in (await session.execute(select(table))).all():
                    assert bsn not in repr(tuple(row)), table.name
        async with ctx.database.transaction() as session:
            await ctx.access_log.verify(session)

    @pytest.mark.parametrize(
        "header",
        [None, "garbage", f"00-{'0' * 32}-{PARENT}-01", f"ff-{TRACE}-{PARENT}-01"],
    )
    async def test_missing_or_invalid_traceparent_starts_a_new_trace(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, header: str | None
    ) -> None:
        headers = dict(callers[0].headers)
        if header is not None:
            headers["traceparent"] = header
        r = await client.get("/v1/registrations", headers=headers)
        assert r.status_code == 200
        _, trace, span, _ = r.headers["traceparent"].split("-")
        assert trace not in (TRACE, "0" * 32)
        [rec] = await records(ctx, "registration.list")
        assert (rec.trace_id, rec.span_id, rec.parent_span_id) == (trace, span, None)


class TestSubjectPseudonym:
    async def test_access_log_pseudonym_differs_from_and_cannot_join_the_index(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _match(client, callers)
        async with ctx.database.transaction() as session:
            index = set((await session.execute(select(Registration.pseudonym))).scalars())
            index |= set((await session.execute(select(Match.subject_pseudonym))).scalars())
            logged = {
                p
                for p in (
                    await session.execute(select(AccessLogRecord.subject_pseudonym))
                ).scalars()
                if p
            }
        bsn = crypto.parse_bsn(BSN)
        assert logged == {ctx.keys.access_log_subject(bsn, c.organisation_id) for c in callers[:2]}
        assert index == {ctx.keys.pseudonymise(bsn)}
        assert not logged & index
        # Different HKDF purposes: the same BSN gives unrelated HMACs.
        assert logged.pop().split(".")[1] != ctx.keys.pseudonymise(bsn).split(".")[1]

    async def test_two_organisations_views_of_one_youth_share_no_subject_identifier(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        """Issue 14, finding 2: the access-log pseudonym was one value per youth across all
        organisations, so two organisations comparing their access-log views learned which
        youths they share outside any match. It is per organisation now."""
        for caller in callers[:2]:  # the same youth, registered by A and by B
            r = await client.post(
                "/v1/registrations", json=registration_body(BSN), headers=caller.headers
            )
            assert r.status_code == 201
        views = []
        for caller in callers[:2]:
            for path in ("/v1/audit/access-log", "/v1/audit/access-log/export"):
                r = await client.get(path, headers=caller.auditor_headers)
                assert r.status_code == 200, r.text
                items = (
                    r.json()["items"]
                    if path.endswith("log")
                    else [json.loads(line) for line in r.text.splitlines()]
                )
                seen = {i["subject_pseudonym"] for i in items if i["subject_pseudonym"]}
                assert len(seen) == 1  # its own record of the youth
                views.append(seen)
        assert views[0] == views[1] and views[2] == views[3]
        assert not views[0] & views[2]
        # and the chain, which covers the per-organisation values, still verifies
        async with ctx.database.transaction() as session:
            await ctx.access_log.verify(session)

    async def test_shared_pseudonyms_of_older_records_are_shown_only_to_the_privacy_officer(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        from verwijsindex.accesslog import AccessContext, Operation, Subject

        shared = ctx.keys.all_access_log_subjects(crypto.parse_bsn(BSN), [])[0]
        assert shared.startswith("p")  # the value records carried before the change
        access = AccessContext.system(
            role="professional",
            started_at=ctx.clock.now(),
            organisation_id=callers[0].organisation_id,
        )
        async with ctx.database.transaction() as session:
            await ctx.access_log.record(
                session,
                access,
                operation=Operation.REGISTRATION_CREATE,
                subject=Subject.person(shared),
            )
        r = await client.get("/v1/audit/access-log", headers=callers[0].auditor_headers)
        assert r.status_code == 200
        assert shared not in r.text
        officer = await privacy_officer_headers(ctx)
        r = await client.get("/v1/audit/access-log", headers=officer)
        assert shared in r.text

    async def test_no_bsn_or_birth_date_in_the_access_log(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _match(client, callers)
        await client.post(
            "/v1/registrations",
            json=registration_body("123456782", "2011-02-03"),
            headers=callers[2].headers,
        )
        dump = json.dumps(
            [
                {c: str(getattr(r, c)) for c in AccessLogRecord.__table__.columns.keys()}
                for r in await records(ctx)
            ]
        )
        for secret in (BSN, "123456782", "2012-05-01", "2011-02-03", "20120501"):
            assert secret not in dump


_VALUES = st.one_of(
    st.none(),
    st.text(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.datetimes(min_value=datetime(1900, 1, 1), timezones=st.sampled_from([UTC, AMSTERDAM])),
)


class TestRowHasher:
    @settings(max_examples=300, deadline=None)
    @given(
        values=st.fixed_dictionaries({name: _VALUES for name in CHAINED_FIELDS}),
        varying=st.sets(st.sampled_from(CHAINED_FIELDS)).map(sorted).flatmap(st.permutations),
    )
    def test_hash_is_the_record_hash(self, values: dict[str, Any], varying: list[str]) -> None:
        # The append path hashes records through RowHasher; verification through record_hash.
        fixed = {name: v for name, v in values.items() if name not in varying}
        hasher = RowHasher(fixed, varying)
        expected = record_hash(AccessLogRecord(**values))
        assert hasher.hash([values[name] for name in varying]) == expected


class TestChain:
    async def test_the_database_refuses_updates_and_deletes(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        from sqlalchemy.exc import DBAPIError, IntegrityError

        await _match(client, callers)
        for statement in (
            update(AccessLogRecord).where(AccessLogRecord.seq == 1).values(role="auditor"),
            delete(AccessLogRecord).where(AccessLogRecord.seq == 2),
        ):
            with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
                async with ctx.database.transaction() as session:
                    await session.execute(statement)
        assert [r.role for r in await records(ctx)] == ["professional", "professional"]

    async def test_concurrent_match_reads_and_registrations_share_commits_and_one_chain(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        _, _, match_id = await _match(client, callers)
        groups_before = ctx.writes.groups
        h = callers[0].headers
        reads = [client.get(f"/v1/matches/{match_id}", headers=h) for _ in range(20)]
        writes = [
            client.post(
                "/v1/registrations", json=registration_body(bsn), headers=callers[2].headers
            )
            for bsn in (make_bsn(n) for n in range(100, 104))
        ]
        responses = await asyncio.gather(*reads, *writes)
        assert [r.status_code for r in responses] == [200] * 20 + [201] * 4
        # Each read: the match and the two professionals shown, one span per read.
        recs = await records(ctx, "match.read")
        assert len(recs) == 20 * 3
        assert len({x.span_id for x in recs}) == 20
        assert ctx.writes.groups - groups_before < 24  # reads shared commits
        async with ctx.database.transaction() as session:
            report = await ctx.access_log.verify(session)
        assert report.records == 2 + 20 * 3 + 4

    async def test_a_batch_records_each_registered_item_with_its_subject(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await client.post(
            "/v1/registrations", json=registration_body(make_bsn(7)), headers=callers[0].headers
        )
        [single] = await records(ctx, "registration.create")
        bsns = [make_bsn(7), "123456789", make_bsn(8), make_bsn(7), make_bsn(9)]
        r = await client.post(
            "/v1/registrations:batch",
            json={"items": [registration_body(b) for b in bsns]},
            headers=callers[0].headers,
        )
        assert [x["status"] for x in r.json()["results"]] == [200, 422, 201, 200, 201]
        batch = (await records(ctx, "registration.create"))[1:]
        # One record per registered item (new or existing), in item order, each with its
        # youth's access-log pseudonym and otherwise the fields of a single registration's.
        registered = [b for b in bsns if b != "123456789"]
        assert [x.subject_pseudonym for x in batch] == [
            ctx.keys.access_log_subject(crypto.parse_bsn(b), callers[0].organisation_id)
            for b in registered
        ]
        assert [x.seq for x in batch] == [2, 3, 4, 5]
        assert len({x.id for x in batch}) == 4
        assert len({(x.trace_id, x.span_id, x.started_at, x.ended_at) for x in batch}) == 1
        same = ("operation", "activity_id", "status", "professional_id", "organisation_id")
        same += ("on_behalf_of", "role", "subject_ref_type", "subject_ref", "reason", "reference")
        for x in batch:
            assert [getattr(x, f) for f in same] == [getattr(single, f) for f in same]
        async with ctx.database.transaction() as session:
            report = await ctx.access_log.verify(session)
        assert report.records == 5

    async def test_untouched_log_verifies_and_signed_head_matches(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _match(client, callers)
        async with ctx.database.transaction() as session:
            head = await ctx.access_log.sign_head(session)
        async with ctx.database.transaction() as session:
            report = await ctx.access_log.verify(session)
        assert report.records == head.count == 2
        assert report.head_hash == head.head_hash
        assert report.signed_heads == 1

    async def test_edited_row_is_detected(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _match(client, callers)
        await drop_append_only_triggers(ctx)
        async with ctx.database.transaction() as session:
            await session.execute(
                update(AccessLogRecord)
                .where(AccessLogRecord.seq == 1)
                .values(professional_id=callers[2].professional_id)
            )
        with pytest.raises(AccessLogTampered) as info:
            async with ctx.database.transaction() as session:
                await ctx.access_log.verify(session)
        assert info.value.seq == 1

    async def test_deleted_middle_row_is_detected(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _match(client, callers)
        await client.get("/v1/registrations", headers=callers[0].headers)
        await drop_append_only_triggers(ctx)
        async with ctx.database.transaction() as session:
            await session.execute(delete(AccessLogRecord).where(AccessLogRecord.seq == 2))
        with pytest.raises(AccessLogTampered) as info:
            async with ctx.database.transaction() as session:
                await ctx.access_log.verify(session)
        assert info.value.seq == 2

    async def test_deleted_tail_is_detected_by_a_signed_head(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _match(client, callers)
        async with ctx.database.transaction() as session:
            await ctx.access_log.sign_head(session)
        await drop_append_only_triggers(ctx)
        async with ctx.database.transaction() as session:
            await session.execute(delete(AccessLogRecord).where(AccessLogRecord.seq == 2))
        with pytest.raises(AccessLogTampered, match="signed head covers 2"):
            async with ctx.database.transaction() as session:
                await ctx.access_log.verify(session)

    async def test_rewritten_chain_fails_the_signed_head(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        """Recomputing every hash after an edit still contradicts the signed head."""
        from verwijsindex.accesslog import GENESIS_HASH, record_hash

        await _match(client, callers)
        async with ctx.database.transaction() as session:
            await ctx.access_log.sign_head(session)
        await drop_append_only_triggers(ctx)
        async with ctx.database.transaction() as session:
            rows = list(
                (
                    await session.execute(select(AccessLogRecord).order_by(AccessLogRecord.seq))
                ).scalars()
            )
            prev = GENESIS_HASH
            for row in rows:
                row.role = "auditor"
                row.prev_hash = prev
                row.hash = record_hash(row)
                prev = row.hash
        with pytest.raises(AccessLogTampered, match="does not match"):
            async with ctx.database.transaction() as session:
                await ctx.access_log.verify(session)

    async def test_cli_verify_exits_nonzero_on_tampering(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        settings: Settings,
        tmp_path: Path,
    ) -> None:
        await _match(client, callers)
        env = {
            "VERWIJSINDEX_DATABASE_URL": settings.database_url,
            "VERWIJSINDEX_DATA_DIR": str(tmp_path),
        }
        runner = CliRunner()
        # The CLI runs its own event loop; give it a thread of its own.
        import asyncio

        ok = await asyncio.to_thread(runner.invoke, cli_main, ["access-log", "verify"], env=env)
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.output)["records"] == 2
        await drop_append_only_triggers(ctx)
        async with ctx.database.transaction() as session:
            await session.execute(
                update(AccessLogRecord).where(AccessLogRecord.seq == 2).values(status="denied")
            )
        bad = await asyncio.to_thread(runner.invoke, cli_main, ["access-log", "verify"], env=env)
        assert bad.exit_code == 1
        assert json.loads(bad.output) == {"ok": False, "error": "record 2 was altered", "seq": 2}


class TestAuditQueries:
    async def test_auditor_sees_own_organisation_and_privacy_officer_all(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _match(client, callers)
        mine = await client.get("/v1/audit/access-log", headers=callers[0].auditor_headers)
        assert mine.status_code == 200
        assert {i["organisation_id"] for i in mine.json()["items"]} == {callers[0].organisation_id}
        other = await client.get(
            "/v1/audit/access-log",
            params={"organisation_id": callers[1].organisation_id},
            headers=callers[0].auditor_headers,
        )
        assert other.status_code == 403
        officer = await privacy_officer_headers(ctx)
        everything = await client.get(
            "/v1/audit/access-log", params={"operation": "registration.create"}, headers=officer
        )
        assert everything.status_code == 200
        assert {i["organisation_id"] for i in everything.json()["items"]} == {
            callers[0].organisation_id,
            callers[1].organisation_id,
        }

    async def test_filters_and_cursor(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        for _ in range(3):
            await client.get("/v1/registrations", headers=callers[0].headers)
        officer = await privacy_officer_headers(ctx)
        params = {
            "professional_id": callers[0].professional_id,
            "operation": "registration.list",
            "from": "2026-03-02T09:00:00Z",
            "to": "2026-03-02T10:00:00Z",
            "limit": "2",
        }
        first = await client.get("/v1/audit/access-log", params=params, headers=officer)
        assert first.status_code == 200
        page = first.json()
        assert [i["seq"] for i in page["items"]] == [1, 2]
        second = await client.get(
            "/v1/audit/access-log",
            params={**params, "cursor": page["next_cursor"]},
            headers=officer,
        )
        assert [i["seq"] for i in second.json()["items"]] == [3]
        assert second.json()["next_cursor"] is None
        later = await client.get(
            "/v1/audit/access-log",
            params={**params, "from": "2026-03-02T10:00:00Z"},
            headers=officer,
        )
        assert later.json()["items"] == []

    async def test_export_streams_json_lines(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _match(client, callers)
        r = await client.get("/v1/audit/access-log/export", headers=callers[1].auditor_headers)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.text.splitlines()]
        # the export is recorded before it streams, so it lists itself last
        assert [x["operation"] for x in lines] == [
            "registration.create",
            "audit.access-log.export",
        ]
        assert {x["organisation_id"] for x in lines} == {callers[1].organisation_id}
        assert lines[1]["role"] == "auditor"
        assert [x["seq"] for x in lines] == sorted(x["seq"] for x in lines)

    @pytest.mark.parametrize(
        "path", ["/v1/audit/access-log", "/v1/audit/access-log/export", "/v1/audit/anomalies"]
    )
    async def test_professional_and_org_admin_are_forbidden(
        self, client: httpx.AsyncClient, callers: list[Caller], path: str
    ) -> None:
        assert (await client.get(path, headers=callers[0].headers)).status_code == 403
        assert (await client.get(path, headers=callers[0].admin_headers)).status_code == 403
        assert (await client.get(path)).status_code == 401


class TestOperatorAndSweep:
    async def test_admin_cli_actions_are_recorded(
        self, ctx: AppContext, settings: Settings, tmp_path: Path
    ) -> None:
        import asyncio

        env = {
            "VERWIJSINDEX_DATABASE_URL": settings.database_url,
            "VERWIJSINDEX_DATA_DIR": str(tmp_path),
        }
        runner = CliRunner()

        def run(*args: str) -> dict[str, str]:
            result = runner.invoke(cli_main, list(args), env=env)
            assert result.exit_code == 0, result.output
            out: dict[str, str] = json.loads(result.output)
            return out

        org = await asyncio.to_thread(
            run, "admin", "create-organisation", "--name", "Wijkteam", "--sector",
            "municipal-team", "--municipality", "0363",
        )  # fmt: skip
        pro = await asyncio.to_thread(
            run, "admin", "create-professional", "--organisation", org["id"], "--name", "A",
            "--email", "a@example.org", "--phone", "+31 20 555 0000",
        )  # fmt: skip
        key = await asyncio.to_thread(
            run, "admin", "create-api-key", "--organisation", org["id"], "--role", "auditor"
        )
        recs = await records(ctx)
        assert [(r.operation, r.activity_id, r.role, r.subject_ref_type, r.subject_ref)
                for r in recs] == [
            ("admin.create-organisation", "VI-06", "operator", "organisation", org["id"]),
            ("admin.create-professional", "VI-06", "operator", "professional", pro["id"]),
            ("admin.create-api-key", "VI-06", "operator", "api-key", key["id"]),
        ]  # fmt: skip
        assert "a@example.org" not in json.dumps([r.__dict__ for r in recs], default=str)

    async def test_sweep_signs_the_head(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        from verwijsindex.accesslog import AccessLogHead
        from verwijsindex.registrations.sweep import sweep_once

        await _match(client, callers)
        await sweep_once(ctx)
        async with ctx.database.transaction() as session:
            [head] = list((await session.execute(select(AccessLogHead))).scalars())
            report = await ctx.access_log.verify(session)
        assert (head.count, head.head_hash) == (2, report.head_hash)

    async def test_sweep_records_each_expired_registration(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        from verwijsindex.registrations.sweep import sweep_once

        reg_a, reg_b, _ = await _match(client, callers)
        clock.advance(timedelta(days=2 * 366))
        result = await sweep_once(ctx)
        assert result.ended == 2
        expired = await records(ctx, "registration.expire")
        assert sorted(r.subject_ref for r in expired) == sorted([reg_a, reg_b])
        assert {(r.role, r.activity_id, r.organisation_id) for r in expired} == {
            ("system", "VI-03", None)
        }
        assert len({r.trace_id for r in expired}) == 1
