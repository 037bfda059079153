"""The ledger signing key file, and dense ledger indexes under concurrent appends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from consent import LedgerEntry
from tests.conftest import Caller
from tests.consent.helpers import consent_body, open_match
from verwijsindex.context import AppContext
from verwijsindex.errors import ConfigurationError
from verwijsindex.keys import LEDGER_KEY_FILE, generate_ledger_key_file, load_ledger_signing_key
from verwijsindex.settings import Settings


class TestLedgerSigningKey:
    def test_development_generates_a_private_key_file(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path)
        key = load_ledger_signing_key(settings)
        path = tmp_path / "keys" / LEDGER_KEY_FILE
        assert path.stat().st_mode & 0o777 == 0o600
        assert json.loads(path.read_text())["development"] is True
        again = load_ledger_signing_key(settings)
        assert again.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()

    def test_production_requires_a_key(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path, env="production")
        with pytest.raises(ConfigurationError, match="ledger signing key"):
            load_ledger_signing_key(settings)
        assert not (tmp_path / "keys" / LEDGER_KEY_FILE).exists()

    def test_production_refuses_a_development_key_and_loose_permissions(
        self, tmp_path: Path
    ) -> None:
        path = generate_ledger_key_file(tmp_path / "keys", development=True)
        production = Settings(data_dir=tmp_path, env="production")
        with pytest.raises(ConfigurationError, match="development"):
            load_ledger_signing_key(production)
        path.unlink()
        path = generate_ledger_key_file(tmp_path / "keys", development=False)
        load_ledger_signing_key(production)
        path.chmod(0o644)
        with pytest.raises(ConfigurationError, match="other users"):
            load_ledger_signing_key(production)


class TestConcurrentAppends:
    async def test_indexes_stay_dense_and_the_checkpoint_signs(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        match_id = await open_match(client, callers[:2])
        body = consent_body(callers[1].organisation_id)

        async def post(n: int) -> int:
            grantor = ("youth", "parent", "guardian")[n % 3]
            r = await client.post(
                f"/v1/matches/{match_id}/consents",
                json={**body, "grantor": grantor},
                headers=callers[0].headers,
            )
            assert r.status_code == 201, r.text
            return int(r.json()["ledger_index"])

        indexes = await asyncio.gather(*(post(n) for n in range(16)))
        assert sorted(indexes) == list(range(16))
        async with ctx.database.transaction() as session:
            stored = (await session.execute(select(LedgerEntry.idx))).scalars().all()
        assert sorted(stored) == list(range(16))
        r = await client.get("/v1/audit/checkpoint", headers=callers[2].auditor_headers)
        assert r.headers["ledger-status"] == "ok"
        assert r.text.split("\n")[1] == "16"
