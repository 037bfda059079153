"""API keys: issue with expiry, list, revoke, last-used time; through the API and the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Caller
from verwijsindex.cli import main
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.organisations.models import ApiKey

PROBLEM = "https://verwijsindex.nl/problems/"


async def _issue(client: httpx.AsyncClient, caller: Caller, **body: object) -> dict[str, object]:
    r = await client.post("/v1/api-keys", json=body, headers=caller.admin_headers)
    assert r.status_code == 201, r.text
    document: dict[str, object] = r.json()
    return document


def _as_professional(key: object, caller: Caller) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Professional-Id": caller.professional_id}


class TestIssue:
    async def test_org_admin_issues_a_professional_key_shown_once(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        issued = await _issue(client, callers[0], role="professional", expires_in_days=30)
        key = str(issued["key"])
        assert key.startswith("vi_test_")
        assert len(key) >= len("vi_test_") + 43  # 32 random bytes, base64url
        assert issued["prefix"] == key[:16]
        assert issued["organisation_id"] == callers[0].organisation_id
        assert str(issued["expires_at"]).startswith("2026-04-01T09:30")
        assert issued["revoked_at"] is None
        r = await client.get("/v1/registrations", headers=_as_professional(key, callers[0]))
        assert r.status_code == 200
        async with ctx.database.transaction() as session:
            row = await session.get(ApiKey, str(issued["id"]))
            assert row is not None
            assert key not in (row.key_hash, row.prefix)
        listed = await client.get("/v1/api-keys", headers=callers[0].admin_headers)
        assert key not in listed.text
        assert "hash" not in listed.text

    async def test_reviewer_key_without_expiry(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        issued = await _issue(client, callers[0], role="reviewer")
        assert issued["role"] == "reviewer"
        assert issued["expires_at"] is None

    async def test_org_admin_cannot_issue_privileged_roles(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        # Issue 14, finding 1: an org-admin issued auditor keys that read every organisation's
        # ledger. Auditors are appointed on the command line only.
        for role in ("auditor", "org-admin", "privacy-officer", "root"):
            r = await client.post(
                "/v1/api-keys", json={"role": role}, headers=callers[0].admin_headers
            )
            assert r.status_code == 422, role
        async with ctx.database.transaction() as session:
            roles = (
                await session.execute(
                    select(ApiKey.role).where(ApiKey.organisation_id == callers[0].organisation_id)
                )
            ).scalars()
            assert sorted(roles) == ["auditor", "org-admin", "professional"]  # make_caller's
        for days in (0, -1, 3651):
            r = await client.post(
                "/v1/api-keys",
                json={"role": "reviewer", "expires_in_days": days},
                headers=callers[0].admin_headers,
            )
            assert r.status_code == 422, days


class TestList:
    async def test_lists_only_own_organisation(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        mine = await _issue(client, callers[0], role="reviewer")
        theirs = await _issue(client, callers[1], role="reviewer")
        r = await client.get("/v1/api-keys", headers=callers[0].admin_headers)
        assert r.status_code == 200
        items = r.json()["items"]
        ids = {i["id"] for i in items}
        assert mine["id"] in ids and theirs["id"] not in ids
        assert {i["organisation_id"] for i in items} == {callers[0].organisation_id}
        # make_caller issued professional, org-admin and auditor keys, plus this one.
        assert sorted(i["role"] for i in items) == [
            "auditor",
            "org-admin",
            "professional",
            "reviewer",
        ]
        assert set(items[0]) == {
            "id",
            "prefix",
            "organisation_id",
            "role",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        }


class TestRevoke:
    async def test_revoked_key_is_refused_immediately(
        self, client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock
    ) -> None:
        issued = await _issue(client, callers[0], role="professional")
        headers = _as_professional(issued["key"], callers[0])
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 200
        r = await client.post(
            f"/v1/api-keys/{issued['id']}/revoke", headers=callers[0].admin_headers
        )
        assert r.status_code == 200
        revoked_at = r.json()["revoked_at"]
        assert revoked_at.startswith("2026-03-02T09:30")
        refused = await client.get("/v1/registrations", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["type"] == PROBLEM + "unauthorized"
        clock.advance(timedelta(hours=1))
        again = await client.post(
            f"/v1/api-keys/{issued['id']}/revoke", headers=callers[0].admin_headers
        )
        assert again.status_code == 200
        assert again.json()["revoked_at"] == revoked_at

    async def test_key_of_another_organisation_is_404_and_untouched(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        theirs = await _issue(client, callers[1], role="professional")
        r = await client.post(
            f"/v1/api-keys/{theirs['id']}/revoke", headers=callers[0].admin_headers
        )
        assert r.status_code == 404
        assert r.json()["type"] == PROBLEM + "not-found"
        ok = await client.get(
            "/v1/registrations", headers=_as_professional(theirs["key"], callers[1])
        )
        assert ok.status_code == 200
        missing = await client.post("/v1/api-keys/nope/revoke", headers=callers[0].admin_headers)
        assert missing.status_code == 404


class TestExpiryAndLastUse:
    async def test_expired_key_is_refused(
        self, client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock
    ) -> None:
        issued = await _issue(client, callers[0], role="professional", expires_in_days=1)
        headers = _as_professional(issued["key"], callers[0])
        clock.advance(timedelta(days=1) - timedelta(seconds=1))
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 200
        clock.advance(timedelta(seconds=1))
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 401

    async def test_last_used_is_recorded_at_most_once_a_minute(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        clock: FrozenClock,
        ctx: AppContext,
    ) -> None:
        issued = await _issue(client, callers[0], role="professional")
        headers = _as_professional(issued["key"], callers[0])

        async def last_used() -> object:
            async with ctx.database.transaction() as session:
                result = await session.execute(
                    select(ApiKey.last_used_at).where(ApiKey.id == issued["id"])
                )
                return result.scalar_one()

        assert await last_used() is None
        await client.get("/v1/registrations", headers=headers)
        first = await last_used()
        assert first == clock.now()
        clock.advance(timedelta(seconds=30))
        await client.get("/v1/registrations", headers=headers)
        assert await last_used() == first
        clock.advance(timedelta(seconds=31))
        await client.get("/v1/registrations", headers=headers)
        assert await last_used() == clock.now()


class TestCli:
    def test_create_list_revoke(self, database_url: str, tmp_path: Path) -> None:
        runner = CliRunner(
            env={"VERWIJSINDEX_DATABASE_URL": database_url, "VERWIJSINDEX_DATA_DIR": str(tmp_path)}
        )

        def run(*args: str) -> dict[str, object]:
            result = runner.invoke(main, list(args), catch_exceptions=False)
            assert result.exit_code == 0, result.output
            document: dict[str, object] = json.loads(result.stdout)
            return document

        org = run(
            "admin",
            "create-organisation",
            "--name",
            "Gemeente",
            "--sector",
            "municipality",
            "--municipality",
            "0363",
        )
        key = run(
            "admin",
            "create-api-key",
            "--organisation",
            str(org["id"]),
            "--role",
            "privacy-officer",
            "--expires-in-days",
            "7",
        )
        assert str(key["key"]).startswith("vi_test_")
        assert key["expires_at"] is not None
        listed = run("admin", "list-api-keys", "--organisation", str(org["id"]))
        items = listed["items"]
        assert isinstance(items, list) and len(items) == 1
        assert items[0]["role"] == "privacy-officer"
        assert items[0]["revoked_at"] is None
        assert str(key["key"]) not in json.dumps(listed)
        revoked = run("admin", "revoke-api-key", "--id", str(key["id"]))
        assert revoked["revoked_at"] is not None
        bad = runner.invoke(main, ["admin", "revoke-api-key", "--id", "unknown"])
        assert bad.exit_code == 1
        assert "API key not found" in bad.output
        bad_days = runner.invoke(
            main,
            [
                "admin",
                "create-api-key",
                "--organisation",
                str(org["id"]),
                "--role",
                "auditor",
                "--expires-in-days",
                "0",
            ],
        )
        assert bad_days.exit_code == 2


class TestCredentialCache:
    """Authenticated keys and professionals are cached in process for a short time."""

    async def test_revocation_by_another_process_takes_effect_within_the_ttl(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        from verwijsindex.organisations.credentials import CredentialCache

        now = [100.0]
        ctx.credentials = CredentialCache(ttl=2.0, monotonic=lambda: now[0])
        issued = await _issue(client, callers[0], role="professional")
        headers = _as_professional(issued["key"], callers[0])
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 200
        # revoked directly in the database, as the CLI or another API worker would
        async with ctx.database.transaction() as session:
            await ctx.admin.revoke_api_key(session, key_id=str(issued["id"]), organisation_id=None)
        now[0] += 1.9
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 200
        now[0] += 0.1
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 401
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 401

    async def test_expiry_is_checked_on_cached_keys(
        self, client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock, ctx: AppContext
    ) -> None:
        from verwijsindex.organisations.credentials import CredentialCache

        ctx.credentials = CredentialCache(ttl=60.0, monotonic=lambda: 0.0)
        issued = await _issue(client, callers[0], role="professional", expires_in_days=1)
        headers = _as_professional(issued["key"], callers[0])
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 200
        clock.advance(timedelta(days=1))
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 401

    async def test_zero_ttl_reads_the_database_every_time(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        from verwijsindex.organisations.credentials import CredentialCache

        ctx.credentials = CredentialCache(ttl=0.0, monotonic=lambda: 0.0)
        issued = await _issue(client, callers[0], role="professional")
        headers = _as_professional(issued["key"], callers[0])
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 200
        async with ctx.database.transaction() as session:
            await ctx.admin.revoke_api_key(session, key_id=str(issued["id"]), organisation_id=None)
        assert (await client.get("/v1/registrations", headers=headers)).status_code == 401

    def test_entries_expire_and_the_cache_is_bounded(self) -> None:
        from verwijsindex.organisations.credentials import CredentialCache
        from verwijsindex.organisations.models import Role
        from verwijsindex.organisations.service import Principal

        now = [0.0]
        cache = CredentialCache(ttl=2.0, monotonic=lambda: now[0])
        principal = Principal(api_key_id="k1", organisation_id="o1", role=Role.PROFESSIONAL)
        cache.remember_key("d1", principal)
        cache.remember_professional("p1", organisation_id="o1", active=True)
        assert cache.key("d1") is not None and cache.professional("p1") is not None
        cache.forget_key("k1")
        assert cache.key("d1") is None
        cache.remember_key("d1", principal)
        now[0] = 2.0
        assert cache.key("d1") is None and cache.professional("p1") is None
        for n in range(10_001):
            cache.remember_key(f"d{n}", principal)
        assert len(cache._keys) <= 10_000

    async def test_concurrent_misses_share_one_lookup(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from verwijsindex.organisations.credentials import CredentialCache

        now = [0.0]
        ctx.credentials = CredentialCache(ttl=2.0, monotonic=lambda: now[0])
        reads = {"key": 0, "professional": 0}
        authenticate, professional_of = ctx.admin.authenticate, ctx.admin.professional_of

        async def counted_key(*args: Any, **kwargs: Any) -> Any:
            reads["key"] += 1
            await asyncio.sleep(0.01)  # the lookup is still running when the others arrive
            return await authenticate(*args, **kwargs)

        async def counted_professional(*args: Any, **kwargs: Any) -> Any:
            reads["professional"] += 1
            return await professional_of(*args, **kwargs)

        monkeypatch.setattr(ctx.admin, "authenticate", counted_key)
        monkeypatch.setattr(ctx.admin, "professional_of", counted_professional)

        async def burst(headers: dict[str, str]) -> list[int]:
            answers = await asyncio.gather(
                *(client.get("/v1/registrations", headers=headers) for _ in range(8))
            )
            return [r.status_code for r in answers]

        assert await burst(callers[0].headers) == [200] * 8
        assert reads == {"key": 1, "professional": 1}
        now[0] += 2.0  # both entries expire: the next burst reads each once again
        assert await burst(callers[0].headers) == [200] * 8
        assert reads == {"key": 2, "professional": 2}
        # A key that does not authenticate is shared as a refusal, never cached.
        wrong = {**callers[0].headers, "Authorization": "Bearer not-a-key"}
        assert await burst(wrong) == [401] * 8
        assert await burst(wrong) == [401] * 8
        assert reads["key"] == 4
