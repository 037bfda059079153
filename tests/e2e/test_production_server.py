"""A real server in production mode: private data directory and production keys; live API
keys; revocation through the API takes effect on the running server; a rotated key is picked
up at restart and the old registration still matches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import Server, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _cli(server: Server, *args: str) -> dict[str, str]:
    document: dict[str, str] = json.loads(server.cli(*args).stdout)
    return document


def _professional(server: Server, org_id: str, n: int) -> dict[str, str]:
    pro = _cli(
        server,
        "admin",
        "create-professional",
        "--organisation",
        org_id,
        "--name",
        f"Pro {n}",
        "--email",
        f"pro{n}@example.org",
        "--phone",
        "+31 30 555 0000",
    )
    key = _cli(
        server, "admin", "create-api-key", "--organisation", org_id, "--role", "professional"
    )
    assert key["key"].startswith("vi_live_")
    return {"Authorization": f"Bearer {key['key']}", "X-Professional-Id": pro["id"]}


def test_production_server_end_to_end(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERWIJSINDEX_")}
    env.update({"VERWIJSINDEX_ENV": "production", "VERWIJSINDEX_DATA_DIR": str(data_dir)})
    generated = subprocess.run(
        [sys.executable, "-m", "verwijsindex.cli", "keys", "generate", "--production"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(generated.stdout)["version"] == 1
    subprocess.run(
        [sys.executable, "-m", "verwijsindex.cli", "audit", "generate-signing-key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        # The test copies a template database (mode 0644), which production refuses.
        os.chmod(url.database, 0o600)

    server = start_server(database_url, data_dir, VERWIJSINDEX_ENV="production")
    try:
        orgs = [
            _cli(
                server,
                "admin",
                "create-organisation",
                "--name",
                f"Org {n}",
                "--sector",
                "education",
                "--municipality",
                "0344",
            )["id"]
            for n in range(2)
        ]
        first = _professional(server, orgs[0], 0)
        admin = _cli(
            server, "admin", "create-api-key", "--organisation", orgs[0], "--role", "org-admin"
        )
        admin_headers = {"Authorization": f"Bearer {admin['key']}"}
        body = {"bsn": "111222333", "birth_date": "2012-05-01"}
        r = httpx.post(server.base_url + "/v1/registrations", json=body, headers=first)
        assert r.status_code == 201
        assert r.headers["x-content-type-options"] == "nosniff"
        old_registration = r.json()["id"]

        issued = httpx.post(
            server.base_url + "/v1/api-keys", json={"role": "professional"}, headers=admin_headers
        ).json()
        assert issued["key"].startswith("vi_live_")
        probe = {**first, "Authorization": f"Bearer {issued['key']}"}
        assert httpx.get(server.base_url + "/v1/registrations", headers=probe).status_code == 200
        revoked = httpx.post(
            server.base_url + f"/v1/api-keys/{issued['id']}/revoke", headers=admin_headers
        )
        assert revoked.status_code == 200
        assert httpx.get(server.base_url + "/v1/registrations", headers=probe).status_code == 401
    finally:
        server.stop()

    rotated = server.cli("keys", "rotate")
    assert json.loads(rotated.stdout)["version"] == 2
    server = start_server(database_url, data_dir, VERWIJSINDEX_ENV="production")
    try:
        second = _professional(server, orgs[1], 1)
        r = httpx.post(server.base_url + "/v1/registrations", json=body, headers=second)
        assert r.status_code == 201
        match_id = r.json()["match_id"]
        assert match_id is not None
        match = httpx.get(server.base_url + f"/v1/matches/{match_id}", headers=first).json()
        assert old_registration in {p["registration_id"] for p in match["participants"]}
        report = json.loads(server.cli("keys", "repseudonymise-report").stdout)
        assert report["versions"] == [{"version": 2, "registrations": {"active": 2}}]
        shown = json.loads(server.cli("keys", "show").stdout)
        assert [(k["version"], k["current"], k["development"]) for k in shown["keys"]] == [
            (1, False, False),
            (2, True, False),
        ]
    finally:
        server.stop()
