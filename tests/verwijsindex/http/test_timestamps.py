"""Timestamps from a request (cursors, the access log's ``from``/``to``, a consent's validity)
that name no instant in UTC are refused with 422 before any query; ordinary offsets are read
as the same instant in UTC; and an access-log export that fails after it began says so.

Regression: ``0001-01-01T00:00:00+23:59`` in a cursor or a filter gave 500 (OverflowError in
``verwijsindex/storage/base.py``) on both databases, and cut the export off mid-response."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Caller, registration_body
from tests.verwijsindex.helpers import privacy_officer_headers
from verwijsindex.accesslog import routes as audit_log
from verwijsindex.accesslog import service as access_log_service
from verwijsindex.context import AppContext

EXTREMES = ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "0001-01-01T00:30:00+00:59"]


def _cursor(stamp: str, item_id: str = "0190b1c2-0000-7000-8000-000000000000") -> str:
    return base64.urlsafe_b64encode(f"{stamp}|{item_id}".encode()).decode().rstrip("=")


def _invalid(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


class TestCursors:
    @pytest.mark.parametrize("stamp", EXTREMES)
    async def test_registrations_and_matches(
        self, client: httpx.AsyncClient, callers: list[Caller], stamp: str
    ) -> None:
        for path in ("/v1/registrations", "/v1/matches"):
            r = await client.get(
                path, params={"cursor": _cursor(stamp)}, headers=callers[0].headers
            )
            _invalid(r)
            assert r.json()["type"].endswith("/invalid-input")

    @pytest.mark.parametrize("stamp", EXTREMES)
    async def test_anomalies(self, client: httpx.AsyncClient, ctx: AppContext, stamp: str) -> None:
        headers = await privacy_officer_headers(ctx)
        r = await client.get(
            "/v1/audit/anomalies", params={"cursor": _cursor(stamp)}, headers=headers
        )
        _invalid(r)

    async def test_a_cursor_with_an_offset_reads_as_utc(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        r = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        assert r.status_code == 201
        # One second before the registration, written in +05:00: the registration follows.
        from datetime import datetime, timedelta, timezone

        created = datetime.fromisoformat(r.json()["created_at"])
        before = (created - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=5)))
        page = await client.get(
            "/v1/registrations",
            params={"cursor": _cursor(before.isoformat(), "0")},
            headers=callers[0].headers,
        )
        assert page.status_code == 200
        assert [i["id"] for i in page.json()["items"]] == [r.json()["id"]]


class TestAccessLogFilters:
    @pytest.mark.parametrize("stamp", EXTREMES)
    @pytest.mark.parametrize("name", ["from", "to"])
    @pytest.mark.parametrize("path", ["/v1/audit/access-log", "/v1/audit/access-log/export"])
    async def test_refused_before_the_query_or_the_stream(
        self, client: httpx.AsyncClient, ctx: AppContext, stamp: str, name: str, path: str
    ) -> None:
        headers = await privacy_officer_headers(ctx)
        r = await client.get(path, params={name: stamp}, headers=headers)
        _invalid(r)
        assert r.json()["errors"] == [{"field": f"query.{name}", "problem": "invalid value"}]

    async def test_an_offset_is_the_same_instant_as_utc(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        headers = await privacy_officer_headers(ctx)
        await client.post("/v1/registrations", json=registration_body(), headers=callers[0].headers)
        params = {"operation": "registration.create"}
        # The tests' clock stands at 2026-03-02T09:30:00Z.
        for start, found in [
            ("2026-03-02T10:30:00+01:00", 1),
            ("2026-03-02T10:30:00.000001+01:00", 0),
            ("2026-03-01T23:30:00-10:00", 1),
        ]:
            r = await client.get(
                "/v1/audit/access-log", params={**params, "from": start}, headers=headers
            )
            assert r.status_code == 200
            assert len(r.json()["items"]) == found, start


class TestConsentValidity:
    @pytest.mark.parametrize("name", ["valid_from", "valid_until"])
    async def test_refused(
        self, client: httpx.AsyncClient, callers: list[Caller], name: str
    ) -> None:
        body: dict[str, Any] = {
            "counterpart_organisation_id": callers[1].organisation_id,
            "event": "given",
            "grantor": "youth",
            "purpose": "care-coordination",
            "data_categories": ["care"],
            "direction": "both",
            "subject_birth_date": "2008-05-01",
            "method": "written",
        }
        path = "/v1/matches/0190b1c2-0000-7000-8000-000000000000/consents"
        ordinary = await client.post(
            path, json={**body, name: "2026-06-01T00:00:00+02:00"}, headers=callers[0].headers
        )
        assert ordinary.status_code == 404  # the body is fine; there is no such match
        r = await client.post(path, json={**body, name: EXTREMES[0]}, headers=callers[0].headers)
        _invalid(r)


class TestExportFailingMidStream:
    async def _export(
        self, app: FastAPI, headers: dict[str, str]
    ) -> tuple[list[dict[str, Any]], BaseException | None]:
        """The messages the app sent for an export, and what it raised."""
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v1/audit/access-log/export",
            "raw_path": b"/v1/audit/access-log/export",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver"), *raw],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
            "state": {},
        }
        sent: list[dict[str, Any]] = []

        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        try:
            await app(scope, receive, send)
        except Exception as exc:
            return sent, exc
        return sent, None

    async def test_the_stream_ends_with_an_error_line_and_no_last_chunk(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        for _ in range(3):
            await client.post(
                "/v1/registrations", json=registration_body(), headers=callers[0].headers
            )
        headers = await privacy_officer_headers(ctx)
        real: Callable[..., Awaitable[Any]] = access_log_service.query_records
        calls = 0

        async def failing_second_batch(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise OverflowError("date value out of range")
            return await real(*args, **kwargs)

        monkeypatch.setattr(access_log_service, "EXPORT_BATCH", 2)
        monkeypatch.setattr(access_log_service, "query_records", failing_second_batch)
        sent, raised = await self._export(app, headers)

        assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
        bodies = [m for m in sent if m["type"] == "http.response.body"]
        # No message ends the body: the server cuts the transfer off without its last chunk.
        assert all(m.get("more_body", False) for m in bodies)
        assert isinstance(raised, audit_log.ExportAborted)
        lines = [json.loads(line) for line in b"".join(m["body"] for m in bodies).splitlines()]
        assert [line["seq"] for line in lines[:-1]] == [1, 2]
        assert lines[-1] == {
            "error": {
                "type": "https://verwijsindex.nl/problems/export-failed",
                "title": "Internal Server Error",
                "status": 500,
                "detail": "the export failed; the lines before this one are not all the records",
            }
        }

    async def test_a_complete_export_ends_its_body(
        self, app: FastAPI, callers: list[Caller], ctx: AppContext
    ) -> None:
        headers = await privacy_officer_headers(ctx)
        sent, raised = await self._export(app, headers)
        assert raised is None
        bodies = [m for m in sent if m["type"] == "http.response.body"]
        assert bodies[-1].get("more_body", False) is False
        assert all(
            "error" not in json.loads(line) for m in bodies for line in m["body"].splitlines()
        )
