"""No BSN or birth date at rest or in logs: register many known youths (with their parents'
BSNs, so that family matches form) through a real server, then scan the raw database (SQLite
file and WAL, or a PostgreSQL dump) and the server's log for every youth's and parent's BSN."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import make_bsn
from tests.e2e.conftest import Server, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _setup(server: Server, n: int) -> dict[str, str]:
    org = json.loads(
        server.cli(
            "admin",
            "create-organisation",
            "--name",
            f"Org {n}",
            "--sector",
            "youth-care",
            "--municipality",
            "0363",
        ).stdout
    )
    pro = json.loads(
        server.cli(
            "admin",
            "create-professional",
            "--organisation",
            org["id"],
            "--name",
            f"Pro {n}",
            "--email",
            f"p{n}@x.example",
            "--phone",
            "+31 6 1234 5678",
        ).stdout
    )
    key = json.loads(
        server.cli(
            "admin", "create-api-key", "--organisation", org["id"], "--role", "professional"
        ).stdout
    )
    return {"Authorization": f"Bearer {key['key']}", "X-Professional-Id": pro["id"]}


def _privacy_officer(server: Server) -> dict[str, str]:
    org = json.loads(
        server.cli(
            "admin", "create-organisation", "--name", "Gemeente", "--sector", "municipality",
            "--municipality", "0363",
        ).stdout
    )  # fmt: skip
    key = json.loads(
        server.cli(
            "admin", "create-api-key", "--organisation", org["id"], "--role", "privacy-officer"
        ).stdout
    )
    return {"Authorization": f"Bearer {key['key']}"}


def _needles(bsn: str, birth: date) -> list[bytes]:
    iso = birth.isoformat()
    return [
        bsn.encode(),
        iso.encode(),
        birth.strftime("%d-%m-%Y").encode(),
        birth.strftime("%Y%m%d").encode(),
        bsn.encode("utf-16-le"),
        iso.encode("utf-16-le"),
    ]


def _database_bytes(database_url: str, tmp_path: Path) -> bytes:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        blobs = b""
        for suffix in ("", "-wal", "-shm", "-journal"):
            p = Path(url.database + suffix)
            if p.exists():
                blobs += p.read_bytes()
        assert len(blobs) > 10_000
        return blobs
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to scan the PostgreSQL database"
    out = subprocess.run(
        [
            pg_dump,
            "--data-only",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            url.database or "",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    assert b"COPY public.registrations" in out
    return out


class TestNoPersonalDataAtRest:
    def test_known_bsns_and_birth_dates_appear_nowhere(
        self, database_url: str, tmp_path: Path
    ) -> None:
        # A bulk load: the per-professional rate limit (60/min) is not what this test is about.
        server = start_server(
            database_url, tmp_path, VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_MINUTE="0"
        )
        youths = [(make_bsn(i), date(2005, 1, 1) + timedelta(days=37 * i)) for i in range(120)]
        # Two consecutive youths are siblings: they share a parent; each has a second one.
        parents = [(make_bsn(5000 + i // 2), make_bsn(6000 + i)) for i in range(120)]
        families: set[str] = set()
        try:
            a, b = _setup(server, 1), _setup(server, 2)
            with httpx.Client(base_url=server.base_url, timeout=10) as http:
                for i, (bsn, birth) in enumerate(youths):
                    body = {
                        "bsn": bsn,
                        "birth_date": birth.isoformat(),
                        "parents": [{"bsn": p} for p in parents[i]],
                    }
                    r = http.post("/v1/registrations", json=body, headers=a)
                    assert r.status_code == 201
                    families.add(r.json()["family_match_id"])
                    if i % 3 == 0:  # a third of them match
                        r = http.post("/v1/registrations", json=body, headers=b)
                        assert r.json()["match_id"]
                        families.add(r.json()["family_match_id"])
                    if i % 10 == 5:  # a parent failing the 11-test is refused, not echoed
                        valid = parents[i][1]
                        wrong = valid[:8] + str((int(valid[8]) + 1) % 10)  # one check digit
                        bad = {**body, "parents": [{"bsn": parents[i][0]}, {"bsn": wrong}]}
                        r = http.post("/v1/registrations", json=bad, headers=b)
                        assert r.status_code == 422
                        assert wrong not in r.text and parents[i][0] not in r.text
                    if i % 10 == 0:  # some bad input carrying personal data too
                        bad = {"bsn": bsn[:8], "birth_date": birth.isoformat(), "name": "X"}
                        assert (
                            http.post("/v1/registrations", json=bad, headers=a).status_code == 422
                        )
                        bad = {"bsn": bsn, "birth_date": birth.strftime("%d-%m-%Y")}
                        assert (
                            http.post("/v1/registrations", json=bad, headers=a).status_code == 422
                        )
                # subject access and erasure carry the BSN too; neither may leave it anywhere
                officer = _privacy_officer(server)
                for bsn, birth in youths[:6]:
                    body = {"bsn": bsn, "birth_date": birth.isoformat()}
                    r = http.post("/v1/subject-access", json=body, headers=officer)
                    assert r.status_code == 200 and r.json()["registrations"]
                for bsn, _ in youths[:3]:
                    body = {"bsn": bsn, "reason": "other", "request_reference": "REQ-1"}
                    r = http.post("/v1/subject-erasure", json=body, headers=officer)
                    assert r.status_code == 200 and r.json()["erased_registrations"] >= 1
        finally:
            server.stop()
        logs = server.logs().encode()
        assert b'"event": "request"' in logs  # the log was captured
        assert len(families - {None}) >= 10  # family matches formed
        data = _database_bytes(database_url, tmp_path)
        for bsn, birth in youths:
            for needle in _needles(bsn, birth):
                assert needle not in data, "personal data found in the database"
                assert needle not in logs, "personal data found in the log"
        for pair in parents:
            for parent in pair:
                for needle in (parent.encode(), parent.encode("utf-16-le")):
                    assert needle not in data, "a parent's BSN found in the database"
                    assert needle not in logs, "a parent's BSN found in the log"
