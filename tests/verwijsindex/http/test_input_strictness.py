"""What the API accepts is what it documents: calendar dates only as YYYY-MM-DD, bodies only as
UTF-8 ``application/json``, a schema as strict as the server (so generated clients agree with
it), and a 405 whose ``Allow`` names every method of the path.

Regression: ``2012-W18-2`` was accepted as a birth date, ``application/evil+json`` and UTF-16
bodies were read as JSON, the schema allowed ``cursor=`` and ``"bsn": ""``, and a 405 listed
one method."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI

from tests.conftest import Caller, registration_body

PROBLEM = "https://verwijsindex.nl/problems/"
NOT_CALENDAR_DATES = ["2012-W18-2", "2012-W18", "2012-122", "20120501", "2012-05-01T00:00"]


async def _post(
    client: httpx.AsyncClient, caller: Caller, body: bytes, content_type: str
) -> httpx.Response:
    return await client.post(
        "/v1/registrations", content=body, headers={**caller.headers, "Content-Type": content_type}
    )


class TestBirthDates:
    @pytest.mark.parametrize("birth_date", NOT_CALENDAR_DATES)
    async def test_registration_refuses_other_iso_forms(
        self, client: httpx.AsyncClient, callers: list[Caller], birth_date: str
    ) -> None:
        r = await client.post(
            "/v1/registrations",
            json=registration_body(birth_date=birth_date),
            headers=callers[0].headers,
        )
        assert r.status_code == 422
        assert r.json()["type"] == PROBLEM + "invalid-birth-date"

    async def test_batch_refuses_a_week_date(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        body = {"items": [registration_body(birth_date="2012-W18-2"), registration_body()]}
        r = await client.post("/v1/registrations:batch", json=body, headers=callers[0].headers)
        assert r.status_code == 200
        first, second = r.json()["results"]
        assert first["status"] == 422
        assert first["problem"]["type"] == PROBLEM + "invalid-birth-date"
        assert second["status"] == 201

    @pytest.mark.parametrize("birth_date", [*NOT_CALENDAR_DATES, 1335830400])
    async def test_consent_subject_birth_date(
        self, client: httpx.AsyncClient, callers: list[Caller], birth_date: Any
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
        ordinary = await client.post(path, json=body, headers=callers[0].headers)
        assert ordinary.status_code == 404  # a valid body; there is no such match
        r = await client.post(
            path, json={**body, "subject_birth_date": birth_date}, headers=callers[0].headers
        )
        assert r.status_code == 422
        assert r.json()["errors"] == [{"field": "subject_birth_date", "problem": "invalid value"}]


class TestMediaTypeAndEncoding:
    @pytest.mark.parametrize(
        "content_type",
        [
            "application/evil+json",
            "application/merge-patch+json",
            "application/json; charset=utf-16",
            "application/json; version=2",
            "text/json",
        ],
    )
    async def test_other_media_types_are_415(
        self, client: httpx.AsyncClient, callers: list[Caller], content_type: str
    ) -> None:
        r = await _post(client, callers[0], json.dumps(registration_body()).encode(), content_type)
        assert r.status_code == 415
        assert r.json()["type"] == PROBLEM + "unsupported-media-type"

    @pytest.mark.parametrize(
        "content_type",
        [
            "application/json",
            "Application/JSON",
            "application/json; charset=UTF-8",
            'application/json;charset="utf-8"',
        ],
    )
    async def test_json_with_or_without_utf8_charset_is_read(
        self, client: httpx.AsyncClient, callers: list[Caller], content_type: str
    ) -> None:
        r = await _post(client, callers[0], json.dumps(registration_body()).encode(), content_type)
        assert r.status_code in (200, 201)

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
    async def test_utf16_and_utf32_bodies_are_400(
        self, client: httpx.AsyncClient, callers: list[Caller], encoding: str
    ) -> None:
        body = json.dumps(registration_body()).encode(encoding)
        r = await _post(client, callers[0], body, "application/json")
        assert r.status_code == 400
        assert r.json()["type"] == PROBLEM + "malformed-json"
        # Without a byte-order mark, UTF-16 of ASCII text is UTF-8 with NUL bytes: not JSON.
        assert r.json()["detail"] in (
            "the request body is not UTF-8",
            "the request body is not valid JSON",
        )

    async def test_a_utf8_byte_order_mark_is_400(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        body = b"\xef\xbb\xbf" + json.dumps(registration_body()).encode()
        r = await _post(client, callers[0], body, "application/json")
        assert r.status_code == 400


class TestSchemaAsStrictAsTheServer:
    def _schema(self, app: FastAPI, name: str) -> dict[str, Any]:
        document = app.openapi()
        schema: dict[str, Any] = {**document["components"]["schemas"][name]}
        schema["components"] = document["components"]
        return schema

    @pytest.mark.parametrize(
        "body",
        [
            {"bsn": "", "birth_date": "2012-05-01"},
            {"bsn": "11122233", "birth_date": "2012-05-01"},
            {"bsn": "111 222 333", "birth_date": "2012-05-01"},
            {"bsn": "١١١٢٢٢٣٣٣", "birth_date": "2012-05-01"},
            {"bsn": "111222333", "birth_date": "2012-W18-2"},
            {"bsn": "111222333", "birth_date": "2012-05-01", "municipality": "363"},
        ],
    )
    async def test_what_the_server_refuses_the_schema_refuses(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        callers: list[Caller],
        body: dict[str, Any],
    ) -> None:
        r = await client.post("/v1/registrations", json=body, headers=callers[0].headers)
        assert r.status_code == 422
        for name in ("RegistrationCreate", "BatchItem"):
            assert not jsonschema_rs.is_valid(self._schema(app, name), body)

    def test_a_registration_the_server_takes_passes_the_schema(self, app: FastAPI) -> None:
        body = {"bsn": "111222333", "birth_date": "2012-05-01", "municipality": "0363"}
        for name in ("RegistrationCreate", "BatchItem"):
            assert jsonschema_rs.is_valid(self._schema(app, name), body)

    @pytest.mark.parametrize(
        "path",
        [
            "/v1/registrations",
            "/v1/matches",
            "/v1/audit/access-log",
            "/v1/audit/anomalies",
            "/v1/webhook-messages",
        ],
    )
    async def test_an_empty_cursor_is_refused_by_both(
        self, app: FastAPI, client: httpx.AsyncClient, callers: list[Caller], path: str
    ) -> None:
        [cursor] = [
            p for p in app.openapi()["paths"][path]["get"]["parameters"] if p["name"] == "cursor"
        ]
        assert not jsonschema_rs.is_valid(cursor["schema"], "")
        assert jsonschema_rs.is_valid(cursor["schema"], "123")
        headers = {**callers[0].headers}
        if path.startswith("/v1/audit/"):
            headers = callers[0].auditor_headers
        elif path.startswith("/v1/webhook-"):
            headers = callers[0].admin_headers
        r = await client.get(path, params={"cursor": ""}, headers=headers)
        assert r.status_code == 422


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            ("DELETE", "/v1/registrations", "GET, POST"),
            (
                "PUT",
                "/v1/webhook-endpoints/0190b1c2-0000-7000-8000-000000000000",
                "DELETE, GET, PATCH",
            ),
            ("DELETE", "/v1/webhook-endpoints", "GET, POST"),
            ("GET", "/v1/registrations/x/withdraw", "POST"),
        ],
    )
    async def test_allow_lists_every_method_of_the_path(
        self, client: httpx.AsyncClient, method: str, path: str, allow: str
    ) -> None:
        r = await client.request(method, path)
        assert r.status_code == 405
        assert r.headers["allow"] == allow
        assert r.json()["type"] == PROBLEM + "method-not-allowed"
