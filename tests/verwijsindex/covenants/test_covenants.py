"""Covenants: a municipality-admin reads and replaces its own municipality's covenant; every
version is kept with who and when; bad terms are 422; the default covers a municipality
without one."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from verwijsindex.accesslog._models import AccessLogRecord
from verwijsindex.cli import main
from verwijsindex.context import AppContext
from verwijsindex.covenants.durations import format_duration, parse_duration
from verwijsindex.covenants.service import DEFAULT_TERMS, CovenantService, validate_terms
from verwijsindex.errors import InvalidInput

BODY: dict[str, Any] = {
    "coordinator_sectors": ["youth-protection", "veilig-thuis", "municipal-team"],
    "respond_within": "P2D",
    "coordinate_within": "P10D",
}


async def _municipality_admin(ctx: AppContext, code: str = "0363") -> tuple[str, dict[str, str]]:
    async with ctx.database.transaction() as session:
        org = await ctx.admin.create_organisation(
            session, name=f"Gemeente {code}", sector="municipality", municipality=code
        )
        key = await ctx.admin.create_api_key(
            session, organisation_id=org.id, role="municipality-admin"
        )
    return org.id, {"Authorization": f"Bearer {key.key}"}


class TestDurations:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("P2D", 172800),
            ("PT12H", 43200),
            ("PT2S", 2),
            ("P1W", 604800),
            ("P5Y", 5 * 365 * 86400),
            ("P1DT1H1M1S", 90061),
            ("P1M", 30 * 86400),
        ],
    )
    def test_parses(self, text: str, seconds: int) -> None:
        assert parse_duration(text, "x") == timedelta(seconds=seconds)

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "P",
            "PT",
            "2D",
            "P1.5D",
            "P-1D",
            "P0D",
            "PT0S",
            "P1DT",
            "p2d",
            "P2D ",
            "P99999999D",
            "P1D1H",
        ],
    )
    def test_refuses(self, text: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            parse_duration(text, "respond_within")
        assert "respond_within" in caught.value.detail
        if len(text) > 4:
            assert text not in caught.value.detail

    def test_format_round_trips(self) -> None:
        for seconds in (1, 59, 3600, 86400, 90061, 864000):
            span = timedelta(seconds=seconds)
            assert parse_duration(format_duration(span), "x") == span


class TestTerms:
    def test_production_refuses_sub_hour_deadlines(self) -> None:
        terms = dict(
            coordinator_sectors=["youth-care"], respond_within="PT2S", coordinate_within="PT5S"
        )
        assert validate_terms(**terms, production=False).respond_within == "PT2S"  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="at least one hour"):
            validate_terms(**terms, production=True)  # type: ignore[arg-type]
        ok = validate_terms(
            coordinator_sectors=["youth-care"],
            respond_within="PT1H",
            coordinate_within="P10D",
            production=True,
        )
        assert ok.inform_within == "P14D"
        assert ok.earlier_involvement == DEFAULT_TERMS.earlier_involvement


class TestApi:
    async def test_default_then_versions(self, ctx: AppContext, client: httpx.AsyncClient) -> None:
        org_id, headers = await _municipality_admin(ctx)
        r = await client.get("/v1/municipalities/0363/covenant", headers=headers)
        assert r.status_code == 200, r.text
        default = r.json()
        assert default["default"] is True and default["version"] == 0
        assert default["coordinator_sectors"][0] == "youth-protection"
        assert (default["respond_within"], default["coordinate_within"]) == ("P2D", "P10D")
        assert default["inform_within"] == "P14D"
        assert default["earlier_involvement"] == {"enabled": False, "retention": "P5Y"}

        r = await client.put("/v1/municipalities/0363/covenant", json=BODY, headers=headers)
        assert r.status_code == 200, r.text
        first = r.json()
        assert first["version"] == 1 and first["default"] is False
        assert first["changed_by"] == {"organisation_id": org_id, "professional_id": None}
        assert first["inform_within"] == "P14D"

        body = {
            **BODY,
            "respond_within": "PT2S",
            "inform_within": "P7D",
            "earlier_involvement": {"enabled": True, "retention": "P2Y"},
        }
        r = await client.put("/v1/municipalities/0363/covenant", json=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2
        assert r.json()["earlier_involvement"] == {"enabled": True, "retention": "P2Y"}

        r = await client.get("/v1/municipalities/0363/covenant", headers=headers)
        assert (r.json()["version"], r.json()["respond_within"]) == (2, "PT2S")
        r = await client.get("/v1/municipalities/0363/covenant/versions", headers=headers)
        assert [v["version"] for v in r.json()["items"]] == [2, 1]
        assert all(v["changed_at"] for v in r.json()["items"])

        async with ctx.database.read() as session:
            current = await CovenantService.current(session, "0363")
            assert current.version == 2 and current.respond_span == timedelta(seconds=2)
            assert current.inform_span == timedelta(days=7)
            assert current.earlier_involvement_retention == timedelta(days=730)
            older = await CovenantService.current_of(session, ["0363", "0599"])
            assert older["0599"].is_default and older["0363"].version == 2
            assert current.id is not None
            again = await CovenantService.covenant_version(session, current.id)
            assert again == current
            records = (
                await session.execute(
                    select(AccessLogRecord.operation, AccessLogRecord.organisation_id).where(
                        AccessLogRecord.operation.like("covenant.%")
                    )
                )
            ).all()
        operations = [op for op, _ in records]
        assert operations.count("covenant.update") == 2
        assert {"covenant.read", "covenant.versions"} <= set(operations)
        assert {org for _, org in records} == {org_id}

    @pytest.mark.parametrize(
        "change",
        [
            {"coordinator_sectors": ["youth-care", "youth-care"]},
            {"coordinator_sectors": ["astrology"]},
            {"coordinator_sectors": []},
            {"respond_within": "2 days"},
            {"coordinate_within": "P0D"},
            {"coordinate_within": "P400D"},
            {"inform_within": "soon"},
            {"earlier_involvement": {"enabled": True, "retention": "P6Y"}},
            {"earlier_involvement": {"enabled": True, "retention": "P1826D"}},
            {"surprise": 1},
            {"respond_within": None},
        ],
    )
    async def test_bad_terms_are_422(
        self, ctx: AppContext, client: httpx.AsyncClient, change: dict[str, Any]
    ) -> None:
        _org, headers = await _municipality_admin(ctx)
        r = await client.put(
            "/v1/municipalities/0363/covenant", json={**BODY, **change}, headers=headers
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        r = await client.get("/v1/municipalities/0363/covenant", headers=headers)
        assert r.json()["default"] is True

    async def test_another_municipality_is_403(
        self, ctx: AppContext, client: httpx.AsyncClient
    ) -> None:
        _org, headers = await _municipality_admin(ctx, "0599")
        for method in ("GET", "PUT"):
            r = await client.request(
                method, "/v1/municipalities/0363/covenant", json=BODY, headers=headers
            )
            assert r.status_code == 403, r.text
        r = await client.get("/v1/municipalities/abcd/covenant", headers=headers)
        assert r.status_code == 422


class TestRole:
    async def test_only_a_municipality_organisation_holds_the_role(
        self, ctx: AppContext, client: httpx.AsyncClient
    ) -> None:
        async with ctx.database.transaction() as session:
            org = await ctx.admin.create_organisation(
                session, name="Jeugdzorg", sector="youth-care", municipality="0363"
            )
            with pytest.raises(InvalidInput, match="sector 'municipality'"):
                await ctx.admin.create_api_key(
                    session, organisation_id=org.id, role="municipality-admin"
                )
            admin = await ctx.admin.create_api_key(
                session, organisation_id=org.id, role="org-admin"
            )
        r = await client.post(
            "/v1/api-keys",
            json={"role": "municipality-admin"},
            headers={"Authorization": f"Bearer {admin.key}"},
        )
        assert r.status_code == 422


class TestCli:
    def test_municipality_admin_only_for_a_municipality(
        self, database_url: str, tmp_path: Path
    ) -> None:
        runner = CliRunner(
            env={"VERWIJSINDEX_DATABASE_URL": database_url, "VERWIJSINDEX_DATA_DIR": str(tmp_path)}
        )

        def organisation(sector: str) -> str:
            result = runner.invoke(
                main,
                ["admin", "create-organisation", "--name", "N", "--sector", sector,
                 "--municipality", "0363"],
                catch_exceptions=False,
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            return str(json.loads(result.stdout)["id"])

        args = ["admin", "create-api-key", "--role", "municipality-admin", "--organisation"]
        good = runner.invoke(main, [*args, organisation("municipality")], catch_exceptions=False)
        assert good.exit_code == 0, good.output
        assert json.loads(good.stdout)["role"] == "municipality-admin"
        bad = runner.invoke(main, [*args, organisation("youth-care")])
        assert bad.exit_code == 1
        assert "sector 'municipality'" in bad.output
