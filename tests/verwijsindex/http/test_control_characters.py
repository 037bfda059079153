"""Control characters are refused at the edge with a 400 problem, on every input that reaches a
query: path ids, query filters, X-Professional-Id, JSON strings; and a refused or failed
request's access-log record is written whatever odd value its path held.

Regression: on PostgreSQL a NUL byte in an id or a filter gave 500 on 14 endpoints, and the
denied and failed requests lost their access-log records (``access_log_write_failed``)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request

from tests.conftest import Caller, registration_body
from tests.verwijsindex.helpers import privacy_officer_headers, records
from verwijsindex.accesslog import Operation, Subject
from verwijsindex.context import AppContext
from verwijsindex.http.access import audited
from verwijsindex.http.input_checks import control_character_in_json
from verwijsindex.http.middleware import StrictJSONError, parse_strict_json
from verwijsindex.http.problems import record_refusal

PROBLEM = "https://verwijsindex.nl/problems/control-character"
ODD = ["%00", "%01", "%0A", "%1B", "%7F", "%C2%85"]


def _refused(response: httpx.Response, where: str) -> None:
    assert response.status_code == 400, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == PROBLEM
    assert problem["detail"] == f"the request's {where} contains a control character"


def _id_routes(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    """(method, path template, path parameters) of every operation with an id in its path."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        params = re.findall(r"{(\w+)}", path)
        if params:
            found.extend((method.upper(), path, params) for method in operations)
    return found


class TestPathParameters:
    async def test_every_id_path_parameter_refuses_a_nul(
        self, app: FastAPI, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        routes = _id_routes(app)
        assert len(routes) >= 19  # registrations, matches, consents, exchanges, keys, webhooks
        headers = callers[0].headers
        for method, template, params in routes:
            for odd_param in params:
                path = template
                for param in params:
                    value = (
                        "ab%00cd" if param == odd_param else "0190b1c2-0000-7000-8000-000000000000"
                    )
                    path = path.replace("{" + param + "}", value)
                body = b"{}" if method in ("POST", "PUT", "PATCH") else None
                response = await client.request(
                    method,
                    path,
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
                _refused(response, "path")

    @pytest.mark.parametrize("odd", ODD)
    async def test_other_control_characters_are_refused(
        self, client: httpx.AsyncClient, callers: list[Caller], odd: str
    ) -> None:
        r = await client.get(f"/v1/registrations/x{odd}y", headers=callers[0].headers)
        _refused(r, "path")

    async def test_ordinary_unknown_id_is_still_404(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        r = await client.get("/v1/registrations/no-such-id", headers=callers[0].headers)
        assert r.status_code == 404


class TestQueryFilters:
    @pytest.mark.parametrize("name", ["professional_id", "operation", "organisation_id"])
    @pytest.mark.parametrize("path", ["/v1/audit/access-log", "/v1/audit/access-log/export"])
    async def test_access_log_filters(
        self, client: httpx.AsyncClient, ctx: AppContext, name: str, path: str
    ) -> None:
        headers = await privacy_officer_headers(ctx)
        r = await client.get(f"{path}?{name}=ab%00cd", headers=headers)
        _refused(r, "query string")

    @pytest.mark.parametrize("odd", ODD)
    async def test_webhook_messages_endpoint_filter(
        self, client: httpx.AsyncClient, callers: list[Caller], odd: str
    ) -> None:
        r = await client.get(
            f"/v1/webhook-messages?endpoint_id=a{odd}b", headers=callers[0].admin_headers
        )
        _refused(r, "query string")

    async def test_cursor(self, client: httpx.AsyncClient, callers: list[Caller]) -> None:
        r = await client.get("/v1/registrations?cursor=%00", headers=callers[0].headers)
        _refused(r, "query string")


class TestHeaders:
    @pytest.mark.parametrize("odd", [b"\x00", b"\x1b", b"\x7f", b"\n"])
    async def test_professional_id_header(
        self, client: httpx.AsyncClient, callers: list[Caller], odd: bytes
    ) -> None:
        # The direct registration route reads the header itself: it is refused before it.
        raw = callers[0].professional_id.encode() + odd
        for method, path in [("POST", "/v1/registrations"), ("GET", "/v1/registrations")]:
            request = client.build_request(
                method,
                path,
                json=registration_body() if method == "POST" else None,
                headers={"Authorization": f"Bearer {callers[0].key}"},
            )
            request.headers._list.append((b"x-professional-id", b"x-professional-id", raw))
            _refused(await client.send(request), "x-professional-id header")


class TestJsonStrings:
    async def test_batch_professional_id(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        body = {"items": [{**registration_body(), "professional_id": "ab\u0000cd"}]}
        r = await client.post("/v1/registrations:batch", json=body, headers=callers[0].headers)
        _refused(r, "body")

    @pytest.mark.parametrize("odd", ["\u0000", "\u001b", "\u007f", "\u0085", "\ud800"])
    async def test_webhook_description(
        self, client: httpx.AsyncClient, callers: list[Caller], odd: str
    ) -> None:
        # Refused before the URL is looked at: nothing is registered.
        body = {"url": "http://127.0.0.1:9/hook", "description": f"a{odd}b"}
        r = await client.post(
            "/v1/webhook-endpoints",
            content=json.dumps(body).encode(),  # ensure_ascii: "\ud800" as an escape
            headers={**callers[0].admin_headers, "Content-Type": "application/json"},
        )
        _refused(r, "body")
        listed = await client.get("/v1/webhook-endpoints", headers=callers[0].admin_headers)
        assert listed.json()["items"] == []

    async def test_registration_fields_and_keys(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        for body in (
            {"bsn": "111222333\u0000", "birth_date": "2012-05-01"},
            {"bsn": "111222333", "birth_date": "2012-05-01", "municipality": "03\u000063"},
            {"bsn": "111222333", "birth_date": "2012-05-01", "x\u0000": 1},
            {"bsn": "111222333", "birth_date": "2012-05-01", "parents": [{"bsn": "\u0000"}]},
        ):
            r = await client.post(
                "/v1/registrations",
                content=json.dumps(body).encode(),
                headers={**callers[0].headers, "Content-Type": "application/json"},
            )
            _refused(r, "body")


class TestJsonCheck:
    @pytest.mark.parametrize(
        "document",
        [
            {"a": "line one\nline two\r\n\tindented"},
            {"a": ["é", "ü", "\u00a0", "©", "\U0001f600"]},
            {"a": 1, "b": None, "c": [True, 1.5]},
        ],
    )
    def test_ordinary_text_passes(self, document: Any) -> None:
        body = json.dumps(document).encode()
        assert not control_character_in_json(body, json.loads(body))
        assert parse_strict_json(body) == document

    @pytest.mark.parametrize(
        "body",
        [
            b'{"a": "\\u0000"}',
            b'{"a": ["\\u0008"]}',
            b'{"a": "\\ud800"}',
            b'{"\\u0000": 1}',
            b'{"a": "\x7f"}',
            '{"a": "\u0085"}'.encode(),
        ],
    )
    def test_control_characters_are_refused(self, body: bytes) -> None:
        with pytest.raises(StrictJSONError, match="control character"):
            parse_strict_json(body)


class TestAccessLogRecordOfAnOddRequest:
    """Whatever the edge lets through, the refusal's record is written: the path's id is
    escaped in the record, and a subject the database refuses is dropped, not the record."""

    def _request(self, app: FastAPI, registration_id: str) -> Request:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/v1/registrations/x",
            "headers": [],
            "query_string": b"",
            "app": app,
            "path_params": {"registration_id": registration_id},
        }
        return Request(scope)

    async def test_an_odd_path_id_is_recorded_escaped(self, app: FastAPI, ctx: AppContext) -> None:
        request = self._request(app, "ab\x00cd\ud800")
        dependency = audited(
            Operation.REGISTRATION_READ, ref_type="registration", ref_param="registration_id"
        ).dependency
        await dependency(request)
        await record_refusal(request, 404)
        [record] = await records(ctx, str(Operation.REGISTRATION_READ))
        assert record.status == "denied"
        assert record.subject_ref == "ab\\x00cd\\ud800"

    async def test_a_subject_the_database_refuses_is_dropped_not_the_record(
        self, app: FastAPI, ctx: AppContext
    ) -> None:
        request = self._request(app, "x")
        request.state.access_operation = Operation.REGISTRATION_READ
        request.state.access_subject = Subject.reference("registration", "ab\x00cd")
        await record_refusal(request, 500)
        [record] = await records(ctx, str(Operation.REGISTRATION_READ))
        assert record.status == "failure"
        if ctx.database.dialect == "postgresql":
            assert record.subject_ref is None
