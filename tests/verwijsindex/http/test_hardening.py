"""Request hardening: body size limit, strict JSON, security headers, no stack traces."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Caller, make_bsn, registration_body
from verwijsindex.context import AppContext
from verwijsindex.http.middleware import SECURITY_HEADERS, parse_strict_json
from verwijsindex.logging import configure_logging

PROBLEM = "https://verwijsindex.nl/problems/"
EXPECTED_HEADERS = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}


def _assert_security_headers(response: httpx.Response) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    assert len(response.headers["x-request-id"]) == 32


class TestBodyLimit:
    async def test_declared_length_over_the_limit_is_413(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        limit = ctx.settings.max_body_bytes
        body = b'{"bsn": "' + b"1" * limit + b'"}'
        r = await client.post(
            "/v1/registrations",
            content=body,
            headers={**callers[0].headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == PROBLEM + "body-too-large"
        _assert_security_headers(r)

    async def test_streamed_body_over_the_limit_is_413(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        chunk = b" " * 4096
        count = ctx.settings.max_body_bytes // len(chunk) + 2

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(count):
                yield chunk

        r = await client.post(
            "/v1/registrations",
            content=chunks(),
            headers={**callers[0].headers, "Content-Type": "application/json"},
        )
        assert "content-length" not in r.request.headers
        assert r.status_code == 413

    async def test_body_at_the_limit_is_read(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        base = b'{"bsn": "111222333", "birth_date": "2012-05-01"}'
        body = base + b" " * (ctx.settings.max_body_bytes - len(base))
        r = await client.post(
            "/v1/registrations",
            content=body,
            headers={**callers[0].headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 201

    async def test_non_json_media_type_is_415(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        r = await client.post(
            "/v1/registrations",
            content=b"bsn=111222333",
            headers={**callers[0].headers, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 415
        assert r.json()["type"] == PROBLEM + "unsupported-media-type"


class TestStrictJson:
    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b'{"bsn": "111222333", "bsn": "123456782", "birth_date": "2012-05-01"}', "duplicate"),
            (
                b'{"bsn": "111222333", "birth_date": "2012-05-01", "x": {"a": 1, "a": 2}}',
                "duplicate",
            ),
            (b'{"bsn": "111222333", "birth_date": "2012-05-01", "n": NaN}', "NaN"),
            (b'{"bsn": "111222333", "birth_date": "2012-05-01", "n": -Infinity}', "NaN"),
            (b'{"bsn": "111222333", "birth_date": "2012-05-01", "n": 1e999}', "out of range"),
            (b'{"bsn": "111222333", ', "not valid JSON"),
            (b"\xff\xfe{}", "not UTF-8"),
            (b"[" * 20_000 + b"]" * 20_000, "not valid JSON"),
        ],
    )
    async def test_rejected_with_400_problem(
        self, client: httpx.AsyncClient, callers: list[Caller], body: bytes, reason: str
    ) -> None:
        r = await client.post(
            "/v1/registrations",
            content=body,
            headers={**callers[0].headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 400
        problem = r.json()
        assert problem["type"] == PROBLEM + "malformed-json"
        assert reason in problem["detail"]
        assert "111222333" not in r.text and "123456782" not in r.text
        _assert_security_headers(r)

    def test_accepts_ordinary_json(self) -> None:
        assert parse_strict_json(b'{"a": [1, 2.5, -3e10, null, true], "b": {"a": 1}}') == {
            "a": [1, 2.5, -3e10, None, True],
            "b": {"a": 1},
        }
        assert parse_strict_json(b"[]") == []


class TestSecurityHeaders:
    async def test_on_every_kind_of_response(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        responses = [
            await client.get("/healthz"),
            await client.get("/openapi.json"),
            await client.get("/v1/registrations", headers=callers[0].headers),
            await client.post(
                "/v1/registrations", json=registration_body(), headers=callers[0].headers
            ),
            await client.get("/v1/registrations"),
            await client.get("/v1/registrations", headers=callers[0].admin_headers),
            await client.get("/v1/registrations/unknown", headers=callers[0].headers),
            await client.get("/no/such/path"),
            await client.delete("/v1/registrations", headers=callers[0].headers),
            await client.post("/v1/registrations", json={"bsn": 1}, headers=callers[0].headers),
        ]
        assert [r.status_code for r in responses] == [
            200,
            200,
            200,
            201,
            401,
            403,
            404,
            404,
            405,
            422,
        ]
        for r in responses:
            _assert_security_headers(r)
            assert "server" not in r.headers

    async def test_docs_page_gets_a_csp_that_lets_it_load(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/docs")
        assert r.status_code == 200
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"


class TestNoStackTraces:
    @pytest.mark.parametrize("cached", [False, True], ids=["route", "direct-route"])
    async def test_internal_error_is_a_bare_500_problem(
        self,
        app: FastAPI,
        callers: list[Caller],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        cached: bool,
    ) -> None:
        configure_logging(level="info", json=True)
        ctx: AppContext = app.state.ctx

        async def explode(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("database said: bsn 111222333 at /srv/verwijsindex/secret.py")

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            if cached:  # the caller is in the credential cache: the direct route answers
                warm = registration_body(bsn=make_bsn(7))
                assert (
                    await client.post("/v1/registrations", json=warm, headers=callers[0].headers)
                ).status_code == 201
            monkeypatch.setattr(ctx.index, "register_many", explode)
            r = await client.post(
                "/v1/registrations", json=registration_body(), headers=callers[0].headers
            )
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == {
            "type": PROBLEM + "internal-error",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "an unexpected error occurred",
            "instance": "/v1/registrations",
        }
        for leak in ("Traceback", "RuntimeError", "111222333", "secret.py", "database said"):
            assert leak not in r.text
        _assert_security_headers(r)
        # The log keeps the trace for operators, with the BSN-like number masked.
        logged = capsys.readouterr().err
        assert "unhandled_error" in logged and "RuntimeError" in logged
        assert "111222333" not in logged
        assert '"route": "/v1/registrations"' in logged and '"status": 500' in logged
