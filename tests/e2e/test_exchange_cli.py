"""Exchange and audit through the command line against a real server process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _org(server: Server, n: int) -> dict[str, str]:
    def cli(*args: str) -> dict[str, str]:
        result: dict[str, str] = json.loads(server.cli(*args).stdout)
        return result

    org = cli(
        "admin",
        "create-organisation",
        "--name",
        f"Org {n}",
        "--sector",
        "education",
        "--municipality",
        "0344",
    )
    pro = cli(
        "admin",
        "create-professional",
        "--organisation",
        org["id"],
        "--name",
        f"Pro {n}",
        "--email",
        f"pro{n}@example.org",
        "--phone",
        "+31 30 555 0000",
    )
    keys = {
        role: cli("admin", "create-api-key", "--organisation", org["id"], "--role", role)["key"]
        for role in ("professional", "org-admin", "auditor")
    }
    return {"org": org["id"], "pro": pro["id"], **keys}


def _run(
    server: Server, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, *args], env=server.env, input=stdin, capture_output=True, timeout=120
    )


class TestExchangeCli:
    # The database is not what this test is about (the in-process tests cover both); one
    # backend keeps the many CLI process starts affordable.
    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_send_read_and_verify_the_ledger(self, server: Server, tmp_path: Path) -> None:
        a, b = _org(server, 1), _org(server, 2)
        body = {"bsn": "123456782", "birth_date": "2008-01-31"}
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            for who in (a, b):
                r = http.post(
                    "/v1/registrations",
                    json=body,
                    headers={
                        "Authorization": f"Bearer {who['professional']}",
                        "X-Professional-Id": who["pro"],
                    },
                )
                assert r.status_code == 201
            match_id = r.json()["match_id"]
            r = http.post(
                f"/v1/matches/{match_id}/consents",
                json={
                    "counterpart_organisation_id": b["org"],
                    "event": "given",
                    "grantor": "youth",
                    "purpose": "education-support",
                    "data_categories": ["education"],
                    "direction": "outgoing",
                    "subject_birth_date": "2008-01-31",
                    "method": "digital",
                },
                headers={
                    "Authorization": f"Bearer {a['professional']}",
                    "X-Professional-Id": a["pro"],
                },
            )
            assert r.status_code == 201, r.text
            served_key = http.get(
                "/v1/audit/public-key", headers={"Authorization": f"Bearer {b['auditor']}"}
            ).json()["verifier_key"]

        cli = ["-m", "verwijsindex.cli", "exchange"]
        url = ["--url", server.base_url]
        for who in (a, b):
            key_file = tmp_path / f"{who['org']}.json"
            who["key_file"] = str(key_file)
            assert _run(server, *cli, "keygen", "--out", str(key_file)).returncode == 0
            assert key_file.stat().st_mode & 0o777 == 0o600
            if who is a:
                continue  # only the recipient needs a registered key
            done = _run(
                server,
                *cli,
                "register-key",
                *url,
                "--admin-api-key",
                who["org-admin"],
                "--key-file",
                str(key_file),
            )
            assert done.returncode == 0, done.stderr
        sender = [
            *url,
            "--api-key",
            a["professional"],
            "--professional",
            a["pro"],
            "--key-file",
            a["key_file"],
        ]
        receiver = [
            *url,
            "--api-key",
            b["professional"],
            "--professional",
            b["pro"],
            "--key-file",
            b["key_file"],
        ]
        sent = _run(
            server,
            *cli,
            "send",
            *sender,
            "--match",
            match_id,
            "--recipient",
            b["org"],
            "--purpose",
            "education-support",
            "--category",
            "education",
            stdin=b"leerlingdossier",
        )
        assert sent.returncode == 0, sent.stderr
        exchange_id = json.loads(sent.stdout)["id"]
        refused = _run(
            server,
            *cli,
            "send",
            *sender,
            "--match",
            match_id,
            "--recipient",
            b["org"],
            "--purpose",
            "care-coordination",
            "--category",
            "care",
            stdin=b"x",
        )
        assert refused.returncode != 0
        assert b"consent-required" in refused.stderr
        inbox = _run(server, *cli, "inbox", *receiver)
        assert [i["id"] for i in json.loads(inbox.stdout)] == [exchange_id]
        read = _run(server, *cli, "read", *receiver, exchange_id)
        assert read.returncode == 0, read.stderr
        assert read.stdout == b"leerlingdossier"

        local = _run(server, "-m", "verwijsindex.cli", "audit", "public-key")
        assert local.stdout.decode().strip() == served_key
        auditor = ["--url", server.base_url, "--api-key", b["auditor"], "--public-key", served_key]
        verified = _run(
            server,
            "-m",
            "verwijsindex.cli",
            "audit",
            "verify",
            *auditor,
            "--state",
            str(tmp_path / "cli-state.json"),
        )
        assert verified.returncode == 0, verified.stdout
        assert b"RESULT: OK" in verified.stdout
        script = _run(
            server,
            str(ROOT / "scripts/verify_ledger.py"),
            *auditor,
            "--state",
            str(tmp_path / "script-state.json"),
        )
        assert script.returncode == 0, script.stdout
        assert b"entries replayed: 2" in script.stdout

        # Nothing personal or secret at rest or in the logs: not the birth date given with
        # the consent, not the BSN, not the exchanged content.
        from datetime import date

        from tests.at_rest import database_at_rest, needles

        at_rest = database_at_rest(server.env["VERWIJSINDEX_DATABASE_URL"])
        logs = server.logs().encode()
        for needle in [*needles("123456782", date(2008, 1, 31)), b"leerlingdossier"]:
            assert not at_rest.holds(needle), needle
            assert needle not in logs, needle
