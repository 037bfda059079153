"""``POST /v1/registrations`` answered below FastAPI's routing (ADR 0011) behaves exactly as
the FastAPI route: the same responses, the same access-log records and request log lines,
for the common case it takes and for every case it leaves to the route."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from notifier import OutboxEvent
from tests.conftest import Caller, make_bsn, make_caller, registration_body
from verwijsindex.accesslog._models import AccessLogRecord
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.http import deps as deps_module
from verwijsindex.http.app import create_app
from verwijsindex.logging import configure_logging
from verwijsindex.settings import Settings

_RATE_LIMIT = 8


class _Names:
    """Replaces the ids a run generates with their order of appearance, so two runs on
    different organisations and youths compare equal when they behave the same."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        return self.seen.setdefault(value, f"<id{len(self.seen)}>")

    def text(self, value: str) -> str:
        for known, name in self.seen.items():
            value = value.replace(known, name)
        return value


def _normal(value: Any, names: _Names) -> Any:
    if isinstance(value, dict):
        return {
            k: names(v)
            if k in {"id", "match_id", "organisation_id", "professional_id"} and isinstance(v, str)
            else _normal(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normal(v, names) for v in value]
    return value


async def _scenario(app: FastAPI, first: Caller, second: Caller, bsns: list[str]) -> list[Any]:
    """Every kind of answer ``POST /v1/registrations`` gives, as a comparable transcript."""
    names = _Names()
    names(first.organisation_id)
    names(first.professional_id)
    names(second.organisation_id)
    names(second.professional_id)
    transcript: list[Any] = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def post(body: Any, headers: dict[str, str]) -> None:
            r = await client.post("/v1/registrations", json=body, headers=headers)
            payload = _normal(r.json(), names)
            location = r.headers.get("location")
            transcript.append(
                (
                    r.status_code,
                    r.headers["content-type"],
                    sorted(k for k in r.headers if k not in {"date"}),
                    payload,
                    names.text(location) if location else None,
                    r.headers.get("retry-after"),
                )
            )

        youth, other, invalid = bsns[0], bsns[1], "123456789"
        for caller in (first, second):  # fills the credential cache
            await post(registration_body(bsn=other), caller.headers)
        await post(registration_body(bsn=youth), first.headers)  # 201
        await post(registration_body(bsn=youth), first.headers)  # 200, the same
        await post(registration_body(bsn=youth), second.headers)  # 201 with a match
        await post(registration_body(bsn=invalid), first.headers)  # 422 from the domain
        await post(registration_body(bsn=youth, birth_date="1990-01-01"), first.headers)
        await post({**registration_body(bsn=youth), "name": "x"}, first.headers)  # schema
        await post({"bsn": 111222333, "birth_date": "2012-05-01"}, first.headers)  # schema
        await post([registration_body(bsn=youth)], first.headers)  # not an object
        await post(registration_body(bsn=youth), {**first.headers, "X-Professional-Id": "nope"})
        await post(registration_body(bsn=youth), {"X-Professional-Id": first.professional_id})
        await post(registration_body(bsn=youth), {**first.headers, "Authorization": "Bearer x"})
        await post(registration_body(bsn=youth), first.admin_headers)
        await post(registration_body(bsn=youth), {"Authorization": first.headers["Authorization"]})
        await post(  # a professional of another organisation
            registration_body(bsn=youth),
            {**second.headers, "X-Professional-Id": first.professional_id},
        )
        for bsn in bsns[2:]:  # until the per-minute rate limit refuses
            await post(registration_body(bsn=bsn), first.headers)
    return transcript


async def _last_seq(ctx: AppContext) -> int:
    async with ctx.database.read() as session:
        last = await session.scalar(select(func.max(AccessLogRecord.seq)))
    return int(last or 0)


async def _records(ctx: AppContext, after: int) -> list[tuple[Any, ...]]:
    """The access-log records written after ``after``, with their ids normalised."""
    async with ctx.database.read() as session:
        rows = (
            await session.execute(
                select(AccessLogRecord)
                .where(AccessLogRecord.seq > after)
                .order_by(AccessLogRecord.seq)
            )
        ).scalars()
        names = _Names()
        return [
            (
                r.operation,
                r.status,
                r.role,
                names(r.organisation_id) if r.organisation_id else None,
                names(r.professional_id) if r.professional_id else None,
                r.subject_pseudonym is not None,
                r.started_at,
            )
            for r in rows
        ]


async def _events(ctx: AppContext, first: Caller, second: Caller) -> list[tuple[Any, ...]]:
    """The webhook events in the outbox for the two organisations of one run (both runs share
    the database): type, which of the two, payload keys."""
    party = {first.organisation_id: "first", second.organisation_id: "second"}
    async with ctx.database.read() as session:
        rows = (await session.execute(select(OutboxEvent))).scalars()
        return sorted(
            (e.event_type, party[e.organisation_id], sorted(json.loads(e.payload)))
            for e in rows
            if e.organisation_id in party
        )


def _request_lines(err: str) -> list[tuple[Any, ...]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [
        (line["method"], line["route"], line["status"], line["organisation_id"] is not None)
        for line in lines
        if line.get("event") == "request"
    ]


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_professional_per_minute": _RATE_LIMIT})


class TestSameAsTheRoute:
    async def test_every_answer_record_and_log_line_is_the_routes(
        self, limited: Settings, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging(level="info", json=True)
        results = []
        for n, direct in enumerate((True, False)):
            app = create_app(limited, clock=clock, direct_routes=direct)
            async with app.router.lifespan_context(app):
                ctx: AppContext = app.state.ctx
                first = await make_caller(ctx, 10 * n)
                second = await make_caller(ctx, 10 * n + 1)
                bsns = [make_bsn(1000 * (n + 1) + i) for i in range(_RATE_LIMIT + 4)]
                capsys.readouterr()
                after = await _last_seq(ctx)
                transcript = await _scenario(app, first, second, bsns)
                lines = _request_lines(capsys.readouterr().err)
                records = await _records(ctx, after)
                events = await _events(ctx, first, second)
                results.append((transcript, lines, records, events))
        (direct_run, route_run) = results
        statuses = [entry[0] for entry in direct_run[0]]
        # The scenario reaches every kind of answer, the rate limit included.
        assert {200, 201, 401, 403, 422, 429} <= set(statuses), statuses
        assert direct_run[0] == route_run[0]
        assert direct_run[1] == route_run[1]
        assert len(direct_run[1]) == len(statuses)
        assert direct_run[2] == route_run[2]
        assert any(r[1] == "denied" for r in direct_run[2])
        assert direct_run[3] == route_run[3]
        assert any(e[0] == "match.created" for e in direct_run[3])


class TestTakesTheCommonCase:
    async def test_a_cached_caller_skips_the_dependencies(
        self,
        settings: Settings,
        clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        calls: list[str] = []
        principal_of = deps_module.get_principal

        async def counting(*args: Any, **kwargs: Any) -> Any:
            calls.append("dependency")
            return await principal_of(*args, **kwargs)

        monkeypatch.setattr(deps_module, "get_principal", counting)
        counts = {}
        for direct in (True, False):
            app = create_app(settings, clock=clock, direct_routes=direct)
            async with app.router.lifespan_context(app):
                ctx: AppContext = app.state.ctx
                caller = await make_caller(ctx, 20 + direct)
                calls.clear()
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    for i in range(3):
                        r = await client.post(
                            "/v1/registrations",
                            json=registration_body(bsn=make_bsn(5000 + 10 * direct + i)),
                            headers=caller.headers,
                        )
                        assert r.status_code == 201, r.text
                counts[direct] = len(calls)
        # The first request fills the cache through the route; the others need no route.
        assert counts == {True: 1, False: 3}
