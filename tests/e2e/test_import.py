"""`verwijsindex import-registrations` against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_bsn
from tests.e2e.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def run_import(
    server: Server, csv_file: Path, professional_id: str, key: str
) -> subprocess.CompletedProcess[str]:
    """``verwijsindex import-registrations`` of ``csv_file`` against the server."""
    command = ["import-registrations", str(csv_file), "--url", server.base_url]
    return subprocess.run(
        [sys.executable, "-m", "verwijsindex.cli", *command, "--professional-id", professional_id],
        env={**server.env, "VERWIJSINDEX_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=300,
    )


class TestImport:
    def test_csv_import_reports_failed_lines_without_values(
        self, server: Server, tmp_path: Path
    ) -> None:
        org = json.loads(
            server.cli(
                "admin",
                "create-organisation",
                "--name",
                "Migratie",
                "--sector",
                "municipal-team",
                "--municipality",
                "0014",
            ).stdout
        )
        pro = json.loads(
            server.cli(
                "admin",
                "create-professional",
                "--organisation",
                org["id"],
                "--name",
                "Import",
                "--email",
                "i@x.example",
                "--phone",
                "+31 50 555 0000",
            ).stdout
        )
        key = json.loads(
            server.cli(
                "admin", "create-api-key", "--organisation", org["id"], "--role", "professional"
            ).stdout
        )["key"]
        # 2,500 rows are far beyond one professional's rate limits: the operator grants a
        # bulk import.
        grant = json.loads(
            server.cli(
                "admin", "grant-bulk-import", "--organisation", org["id"], "--items", "3000"
            ).stdout
        )
        assert grant["items"] == 3000
        lines = ["bsn,birth_date"]
        for i in range(2500):
            lines.append(f"{make_bsn(i)},2010-03-0{1 + i % 9}")
        lines[10] = "123456789,2010-01-01"  # fails the 11-test: line 11 of the file
        lines[2000] = f"{make_bsn(77777)},1999-01-01"  # too old: line 2001
        lines.append(lines[5])  # a duplicate: idempotent
        csv_file = tmp_path / "youths.csv"
        csv_file.write_text("\n".join(lines) + "\n")
        proc = run_import(server, csv_file, pro["id"], key)
        assert proc.returncode == 1, proc.stderr  # some rows failed
        report = json.loads(proc.stdout)
        assert report["rows"] == 2501
        assert (report["created"], report["existing"], report["failed"]) == (2498, 1, 2)
        assert report["failures"] == [
            {"line": 11, "problem": "invalid-bsn"},
            {"line": 2001, "problem": "subject-too-old"},
        ]
        assert "123456789" not in proc.stdout + proc.stderr
        headers = {"Authorization": f"Bearer {key}", "X-Professional-Id": pro["id"]}
        page = httpx.get(f"{server.base_url}/v1/registrations?limit=500", headers=headers).json()
        assert len(page["items"]) == 500 and page["next_cursor"]

    def test_bad_header_is_refused(self, server: Server, tmp_path: Path) -> None:
        csv_file = tmp_path / "bad.csv"
        csv_file.write_text("bsn,geboortedatum\n111222333,2010-01-01\n")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "verwijsindex.cli",
                "import-registrations",
                str(csv_file),
                "--url",
                server.base_url,
                "--professional-id",
                "x",
                "--api-key",
                "vi_test_x",
            ],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode != 0
        assert "birth_date" in proc.stderr


class TestImportWithParents:
    def test_parents_columns_make_a_family_match(self, server: Server, tmp_path: Path) -> None:
        def cli(*args: str) -> dict[str, str]:
            result: dict[str, str] = json.loads(server.cli(*args).stdout)
            return result

        org = cli(
            "admin", "create-organisation", "--name", "Wijkteam", "--sector", "municipal-team",
            "--municipality", "0014",
        )  # fmt: skip
        pros = [
            cli(
                *("admin", "create-professional", "--organisation", org["id"]),
                *("--name", f"P{n}", "--email", f"p{n}@x.example", "--phone", "+31 50 555 0001"),
            )
            for n in range(2)
        ]
        key = cli("admin", "create-api-key", "--organisation", org["id"], "--role", "professional")
        parent, other = make_bsn(8100), make_bsn(8101)
        csv_file = tmp_path / "families.csv"
        csv_file.write_text(
            "bsn,birth_date,professional_id,parent1_bsn,parent2_bsn,term\n"
            f"{make_bsn(8000)},2012-01-01,{pros[0]['id']},{parent},,P1Y\n"
            f"{make_bsn(8001)},2013-01-01,{pros[1]['id']},{other},{parent},\n"
            f"{make_bsn(8002)},2013-01-01,{pros[1]['id']},123456789,,\n"
        )
        proc = run_import(server, csv_file, pros[0]["id"], key["key"])
        report = json.loads(proc.stdout)
        assert (report["created"], report["failed"]) == (2, 1)
        assert report["failures"] == [{"line": 4, "problem": "invalid-bsn"}]
        for secret in (parent, other, "123456789"):
            assert secret not in proc.stdout + proc.stderr
        headers = {"Authorization": f"Bearer {key['key']}", "X-Professional-Id": pros[0]["id"]}
        families = httpx.get(f"{server.base_url}/v1/family-matches", headers=headers).json()
        assert len(families["items"]) == 1
        items = httpx.get(f"{server.base_url}/v1/registrations", headers=headers).json()["items"]
        assert {i["family_match_id"] for i in items} == {families["items"][0]["id"]}
        assert parent not in server.logs()
