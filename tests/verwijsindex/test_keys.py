"""Master key custody: generate, show, rotate without losing matches, retire."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from fastapi import FastAPI
from sqlalchemy import select

from tests.conftest import Caller, make_bsn, make_caller, registration_body
from tests.verwijsindex.helpers import statements
from verwijsindex.cli import main
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.errors import ConfigurationError
from verwijsindex.http.app import create_app
from verwijsindex.keys import KeyRing, key_files, rotate_key
from verwijsindex.matches.models import Match
from verwijsindex.registrations.models import Registration
from verwijsindex.settings import Settings


def _runner(tmp_path: Path, **env: str) -> CliRunner:
    return CliRunner(env={"VERWIJSINDEX_DATA_DIR": str(tmp_path), **env})


def _json(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


class TestGenerate:
    def test_writes_a_private_file_and_never_prints_the_key(self, tmp_path: Path) -> None:
        result = _runner(tmp_path).invoke(main, ["keys", "generate", "--production"])
        document = _json(result)
        assert document["version"] == 1
        assert document["development"] is False
        path = tmp_path / "keys" / "master-v1.key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
        secret = json.loads(path.read_text())["key"]
        assert secret not in result.output

    def test_refuses_to_overwrite(self, tmp_path: Path) -> None:
        runner = _runner(tmp_path)
        _json(runner.invoke(main, ["keys", "generate"]))
        before = (tmp_path / "keys" / "master-v1.key").read_bytes()
        again = runner.invoke(main, ["keys", "generate", "--production"])
        assert again.exit_code == 1
        assert "keys rotate" in again.output
        assert (tmp_path / "keys" / "master-v1.key").read_bytes() == before

    def test_production_mode_needs_the_production_flag(self, tmp_path: Path) -> None:
        result = _runner(tmp_path, VERWIJSINDEX_ENV="production").invoke(main, ["keys", "generate"])
        assert result.exit_code == 1
        assert "--production" in result.output
        assert key_files(tmp_path / "keys") == []


class TestShow:
    def test_public_parts_only(self, tmp_path: Path) -> None:
        runner = _runner(tmp_path)
        _json(runner.invoke(main, ["keys", "generate"]))
        _json(runner.invoke(main, ["keys", "rotate"]))
        result = runner.invoke(main, ["keys", "show"])
        document = _json(result)
        keys = document["keys"]
        assert isinstance(keys, list)
        assert [(k["version"], k["current"], k["development"], k["mode"]) for k in keys] == [
            (1, False, True, "0o600"),
            (2, True, True, "0o600"),
        ]
        assert document["keys_dir_mode"] == "0o700"
        fingerprints = [k["fingerprint"] for k in keys]
        assert all(len(f) == 16 for f in fingerprints) and len(set(fingerprints)) == 2
        for path in key_files(tmp_path / "keys"):
            assert json.loads(path.read_text())["key"] not in result.output
        # The fingerprint is stable: a second look gives the same values.
        assert _json(runner.invoke(main, ["keys", "show"]))["keys"] == keys


class TestSecretStoreKey:
    def test_show_and_rotate_with_a_key_from_the_environment(self, tmp_path: Path) -> None:
        secret = base64.b64encode(bytes(range(32))).decode()
        runner = _runner(tmp_path, VERWIJSINDEX_MASTER_KEY=secret)
        shown = runner.invoke(main, ["keys", "show"])
        keys = _json(shown)["keys"]
        assert isinstance(keys, list)
        assert [(k["version"], k["source"], k["mode"], k["current"]) for k in keys] == [
            (1, "VERWIJSINDEX_MASTER_KEY", None, True)
        ]
        assert secret not in shown.output
        assert _json(runner.invoke(main, ["keys", "rotate"]))["version"] == 2
        assert [p.name for p in key_files(tmp_path / "keys")] == ["master-v2.key"]
        refused = runner.invoke(main, ["keys", "generate"])
        assert refused.exit_code == 1
        bad = _runner(tmp_path, VERWIJSINDEX_MASTER_KEY="not base64!").invoke(
            main, ["keys", "show"]
        )
        assert bad.exit_code == 1
        assert "VERWIJSINDEX_MASTER_KEY is not valid base64" in bad.output


@asynccontextmanager
async def _running(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


class TestRotation:
    async def test_old_registrations_keep_matching_and_are_repseudonymised(
        self, settings: Settings, clock: FrozenClock, tmp_path: Path
    ) -> None:
        youth_a = registration_body("111222333")
        youth_b = registration_body("123456782")
        async with _running(settings, clock) as app:
            ctx: AppContext = app.state.ctx
            assert ctx.keys.current_version == 1
            callers: list[Caller] = [await make_caller(ctx, n) for n in range(3)]
            async with _client(app) as client:
                a1 = (
                    await client.post("/v1/registrations", json=youth_a, headers=callers[0].headers)
                ).json()
                b1 = (
                    await client.post("/v1/registrations", json=youth_b, headers=callers[0].headers)
                ).json()

        rotated = rotate_key(settings)
        assert rotated.version == 2

        async with _running(settings, clock) as app:
            ctx = app.state.ctx
            assert ctx.keys.current_version == 2
            async with _client(app) as client:
                # A second professional registers youth A under the new key: it still matches.
                a2 = await client.post(
                    "/v1/registrations", json=youth_a, headers=callers[1].headers
                )
                assert a2.status_code == 201
                match_id = a2.json()["match_id"]
                assert match_id is not None
                match = (
                    await client.get(f"/v1/matches/{match_id}", headers=callers[0].headers)
                ).json()
                assert {p["registration_id"] for p in match["participants"]} == {
                    a1["id"],
                    a2.json()["id"],
                }
                # The first professional presenting youth A again gets the same registration.
                again = await client.post(
                    "/v1/registrations", json=youth_a, headers=callers[0].headers
                )
                assert (again.status_code, again.json()["id"]) == (200, a1["id"])
            async with ctx.database.transaction() as session:
                rows = {r.id: r for r in (await session.execute(select(Registration))).scalars()}
                # Youth A's old registration moved to version 2; youth B's was never presented
                # again and still uses version 1.
                assert rows[a1["id"]].key_version == 2
                assert rows[a1["id"]].pseudonym == rows[a2.json()["id"]].pseudonym
                assert rows[b1["id"]].key_version == 1
                match_row = await session.get(Match, match_id)
                assert match_row is not None
                assert match_row.subject_pseudonym == rows[a1["id"]].pseudonym

        env = {
            "VERWIJSINDEX_DATABASE_URL": settings.database_url,
            "VERWIJSINDEX_DATA_DIR": str(tmp_path),
        }
        runner = _runner(tmp_path, **env)

        async def cli(*args: str) -> Result:
            # The command runs its own event loop; keep it off this test's loop.
            return await asyncio.to_thread(runner.invoke, main, list(args))

        report = _json(await cli("keys", "repseudonymise-report"))
        assert report["versions"] == [
            {"version": 1, "registrations": {"active": 1}},
            {"version": 2, "registrations": {"active": 2}},
        ]
        refused = await cli("keys", "retire", "--version", "1")
        assert refused.exit_code == 1
        assert "1 active registration(s) still use key version 1" in refused.output
        assert len(key_files(tmp_path / "keys")) == 2
        current = await cli("keys", "retire", "--version", "2", "--force")
        assert current.exit_code == 1
        assert "current key version cannot be retired" in current.output

        # Youth B's registration ends; then version 1 can go.
        async with _running(settings, clock) as app:
            async with _client(app) as client:
                r = await client.post(
                    f"/v1/registrations/{b1['id']}/withdraw",
                    json={"reason": "risk_resolved"},
                    headers=callers[0].headers,
                )
                assert r.status_code == 200
        retired = _json(await cli("keys", "retire", "--version", "1"))
        assert retired["retired"] == 1
        assert retired["active_registrations_abandoned"] == 0
        assert [p.name for p in key_files(tmp_path / "keys")] == ["master-v2.key"]
        assert (tmp_path / "keys" / "retired" / "master-v1.key").exists()
        ring = KeyRing.load(settings)
        assert [m.version for m in ring.masters] == [2]

    async def test_a_write_moves_over_only_what_is_stored_under_an_earlier_version(
        self, settings: Settings, clock: FrozenClock
    ) -> None:
        """After a rotation every youth and parent also has a pseudonym under the old key; a
        write group updates only what is stored under one, found by one read, instead of
        trying each youth's and parent's tables."""
        known, fresh = make_bsn(1), [make_bsn(100 + n) for n in range(30)]
        parent = {"bsn": make_bsn(900)}
        async with _running(settings, clock) as app:
            caller = await make_caller(app.state.ctx, 0)
            async with _client(app) as client:
                body = {**registration_body(known), "parents": [parent]}
                r = await client.post("/v1/registrations", json=body, headers=caller.headers)
                assert r.status_code == 201
        rotate_key(settings)
        updates = re.compile(
            r"^\s*UPDATE (registrations|matches|earlier_involvements|registration_parents)\b"
        )
        async with _running(settings, clock) as app:
            ctx: AppContext = app.state.ctx
            other = await make_caller(ctx, 1)
            async with _client(app) as client:
                items = [
                    {**registration_body(b), "parents": [{"bsn": make_bsn(2000 + n)}]}
                    for n, b in enumerate(fresh)
                ]
                with statements(ctx, updates) as seen:
                    r = await client.post(
                        "/v1/registrations:batch", json={"items": items}, headers=other.headers
                    )
                assert r.status_code == 200 and r.json()["created"] == 30
                assert seen == []  # nothing stored under version 1 for these youths
                items = [items[0], {**registration_body(known), "parents": [parent]}]
                with statements(ctx, updates) as seen:
                    r = await client.post(
                        "/v1/registrations:batch", json={"items": items}, headers=other.headers
                    )
                assert r.status_code == 200
            tables = sorted(re.findall(r"UPDATE (\w+)", " ".join(seen)))
            # The known youth's registration, open match, earlier involvements; its parent's link.
            assert tables == [
                "earlier_involvements", "matches", "registration_parents", "registrations"
            ]  # fmt: skip
            async with ctx.database.transaction() as session:
                versions = {
                    r.key_version for r in (await session.execute(select(Registration))).scalars()
                }
            assert versions == {2}

    def test_forced_retirement_reports_what_is_abandoned(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path)
        KeyRing.load(settings)  # development key version 1
        rotate_key(settings)
        runner = _runner(tmp_path)
        # No registrations at all: retiring version 1 is allowed without --force.
        retired = _json(runner.invoke(main, ["keys", "retire", "--version", "1"]))
        assert retired["active_registrations_abandoned"] == 0
        missing = runner.invoke(main, ["keys", "retire", "--version", "7"])
        assert missing.exit_code == 1
        assert "no key file for version 7" in missing.output


class TestKeyRingRefusals:
    def test_duplicate_versions_are_refused(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path)
        KeyRing.load(settings)
        path = tmp_path / "keys" / "master-v1.key"
        copy = tmp_path / "keys" / "master-v1b.key"
        copy.write_bytes(path.read_bytes())
        os.chmod(copy, 0o600)
        with pytest.raises(ConfigurationError, match="version 1 is configured twice"):
            KeyRing.load(settings)
