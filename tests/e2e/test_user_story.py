"""The user story of the core issue, against a real server process set up with the CLI."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def _setup(server: Server, n: int, sector: str) -> dict[str, str]:
    org = json.loads(
        server.cli(
            "admin",
            "create-organisation",
            "--name",
            f"Org {n}",
            "--sector",
            sector,
            "--municipality",
            "0344",
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
            f"pro{n}@example.org",
            "--phone",
            "+31 30 555 0000",
        ).stdout
    )
    key = json.loads(
        server.cli(
            "admin", "create-api-key", "--organisation", org["id"], "--role", "professional"
        ).stdout
    )
    assert key["key"].startswith("vi_test_")
    return {"Authorization": f"Bearer {key['key']}", "X-Professional-Id": pro["id"]}


class TestUserStory:
    def test_register_match_read_withdraw_list(self, server: Server) -> None:
        a = _setup(server, 1, "youth-care")
        b = _setup(server, 2, "education")
        c = _setup(server, 3, "police")
        body = {"bsn": "123456782", "birth_date": "2013-01-31"}
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            r1 = http.post("/v1/registrations", json=body, headers=a)
            assert r1.status_code == 201
            assert http.post("/v1/registrations", json=body, headers=a).status_code == 200
            r2 = http.post("/v1/registrations", json=body, headers=b)
            assert r2.status_code == 201
            match_id = r2.json()["match_id"]
            r3 = http.post("/v1/registrations", json=body, headers=c)
            assert r3.json()["match_id"] == match_id

            m = http.get(f"/v1/matches/{match_id}", headers=a).json()
            assert {p["organisation"]["sector"] for p in m["participants"]} == {
                "youth-care",
                "education",
                "police",
            }
            assert {p["professional"]["email"] for p in m["participants"]} == {
                "pro1@example.org",
                "pro2@example.org",
                "pro3@example.org",
            }

            for reg, headers in ((r1, a), (r2, b)):
                w = http.post(
                    f"/v1/registrations/{reg.json()['id']}/withdraw",
                    json={"reason": "risk_resolved"},
                    headers=headers,
                )
                assert w.status_code == 200
            assert http.get(f"/v1/matches/{match_id}", headers=c).json()["status"] == "closed"
            assert http.get("/v1/matches", headers=c).json()["items"] == []

            own = http.get("/v1/registrations", headers=a).json()["items"]
            assert [x["id"] for x in own] == [r1.json()["id"]]

            docs = http.get("/openapi.json").json()
            assert "/v1/registrations" in docs["paths"]
            health = http.get("/healthz")
            assert health.json() == {"status": "ok"}
            assert health.headers["x-content-type-options"] == "nosniff"

    def test_sweep_command_reports_counts(self, server: Server) -> None:
        out = json.loads(server.cli("sweep").stdout)
        assert out == {"ended": 0, "purged_registrations": 0, "purged_matches": 0}

    def test_bad_input_is_problem_json(self, server: Server) -> None:
        a = _setup(server, 1, "youth-care")
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            cases = [
                ({"bsn": "123456789", "birth_date": "2013-01-31"}, 422, "invalid-bsn"),
                ({"bsn": "12345678", "birth_date": "2013-01-31"}, 422, "invalid-bsn"),
                ({"bsn": "000000000", "birth_date": "2013-01-31"}, 422, "invalid-bsn"),
                ({"bsn": "123456782", "birth_date": "2999-01-01"}, 422, "invalid-birth-date"),
                ({"bsn": "123456782", "birth_date": "31-01-2013"}, 422, "invalid-birth-date"),
                ({"bsn": "123456782", "birth_date": "2000-01-01"}, 422, "subject-too-old"),
                ({"bsn": "123456782"}, 422, "validation-error"),
            ]
            for body, status, code in cases:
                r = http.post("/v1/registrations", json=body, headers=a)
                assert r.status_code == status, (body, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["type"].endswith("/" + code)
                assert "123456782" not in r.text and "2013-01-31" not in r.text
            big = http.post(
                "/v1/registrations",
                content=b'{"bsn": "' + b"1" * 100_000 + b'"}',
                headers={**a, "Content-Type": "application/json"},
            )
            assert big.status_code == 413
            form = http.post(
                "/v1/registrations",
                content=b"bsn=1",
                headers={**a, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert form.status_code == 415
            assert (
                http.get("/v1/registrations", headers={"X-Professional-Id": "x"}).status_code == 401
            )
            other = {**a, "X-Professional-Id": "00000000-0000-0000-0000-000000000000"}
            r = http.get("/v1/registrations", headers=other)
            assert r.status_code == 403 and r.json()["type"].endswith("/unknown-professional")
            assert http.get("/v1/registrations").json()["type"].endswith("/unauthorized")
            listed = http.get("/v1/registrations", headers=a).json()["items"]
            assert listed == []  # no partial rows from any rejected request
