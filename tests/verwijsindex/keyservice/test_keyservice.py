"""The key service in process: key files and rotation, callers and their API keys, the
evaluation API (authentication, rate limits, batches, errors), its usage counts, and the
client's checks (pinned keys, proofs)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

import crypto
from verwijsindex.errors import ConfigurationError, InvalidInput
from verwijsindex.keyservice import callers as caller_files
from verwijsindex.keyservice import keys as key_files
from verwijsindex.keyservice.client import KeyServiceClient, KeyServiceError, parse_pins
from verwijsindex.keyservice.routes import create_keyservice_app
from verwijsindex.keyservice.settings import KeyServiceSettings
from verwijsindex.settings import Environment

BSNS = [crypto.parse_bsn(b) for b in ("111222333", "123456782", "999999990")]


def _settings(tmp_path: Path, **overrides: object) -> KeyServiceSettings:
    return KeyServiceSettings(data_dir=tmp_path / "ks", **overrides)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> KeyServiceSettings:
    return _settings(tmp_path, default_rate_per_minute=1000)


@pytest.fixture
def app_client(settings: KeyServiceSettings) -> Iterator[TestClient]:
    with TestClient(create_keyservice_app(settings), base_url="http://keys.test") as client:
        yield client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _element() -> str:
    (blinded,) = crypto.oprf_blind([b"x"])
    return base64.urlsafe_b64encode(blinded.element).rstrip(b"=").decode()


class TestKeyFiles:
    def test_development_generates_version_one(self, settings: KeyServiceSettings) -> None:
        ring = key_files.load_ring(settings)
        assert ring.versions == [1] and ring.current.development
        assert oct((settings.data_dir / "oprf-v1.key").stat().st_mode & 0o777) == "0o600"

    def test_production_refuses_missing_and_development_keys(self, tmp_path: Path) -> None:
        production = _settings(tmp_path, env=Environment.PRODUCTION)
        with pytest.raises(ConfigurationError, match="no OPRF key"):
            key_files.load_ring(production)
        key_files.load_ring(_settings(tmp_path))  # writes a development key
        with pytest.raises(ConfigurationError):
            key_files.load_ring(production)

    def test_production_key_is_accepted_and_a_readable_file_is_not(self, tmp_path: Path) -> None:
        production = _settings(tmp_path, env=Environment.PRODUCTION)
        key_files.generate_first(production, production=True)
        os.chmod(production.data_dir, 0o700)
        assert key_files.load_ring(production).current_version == 1
        os.chmod(production.data_dir / "oprf-v1.key", 0o644)
        with pytest.raises(ConfigurationError, match="other users"):
            key_files.load_ring(production)
        os.chmod(production.data_dir / "oprf-v1.key", 0o600)
        os.chmod(production.data_dir, 0o750)
        with pytest.raises(ConfigurationError, match="KEYSERVICE_DATA_DIR"):
            key_files.load_ring(production)

    def test_rotate_and_retire(self, settings: KeyServiceSettings) -> None:
        first = key_files.load_ring(settings).current
        second = key_files.rotate(settings)
        ring = key_files.load_ring(settings)
        assert ring.versions == [2, 1] and second.key.public_key != first.key.public_key
        with pytest.raises(ConfigurationError, match="current"):
            key_files.retire(settings, version=2)
        key_files.retire(settings, version=1)
        assert key_files.load_ring(settings).versions == [2]

    def test_the_key_is_rfc_9497_derive_key_pair_of_the_seed(
        self, settings: KeyServiceSettings
    ) -> None:
        ring = key_files.load_ring(settings)
        seed = base64.b64decode(json.loads((settings.data_dir / "oprf-v1.key").read_text())["seed"])
        expected = crypto.OprfKey.derive(seed=seed, info=b"verwijsindex-keyservice/v1")
        assert ring.current.key.public_key == expected.public_key


class TestCallers:
    def test_only_the_hash_is_kept(self, settings: KeyServiceSettings) -> None:
        settings.data_dir.mkdir(parents=True)
        key = caller_files.issue(settings, "org-a", rate_per_minute=10, replace=False)
        stored = (settings.data_dir / "callers.json").read_text()
        assert key.startswith("vks_") and key not in stored
        assert caller_files.hash_key(key) in stored

    def test_issue_twice_needs_replace_and_invalid_ids_are_refused(
        self, settings: KeyServiceSettings
    ) -> None:
        settings.data_dir.mkdir(parents=True)
        caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        with pytest.raises(InvalidInput):
            caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        caller_files.issue(settings, "org-a", rate_per_minute=None, replace=True)
        assert len(caller_files.read_callers(settings)) == 1
        with pytest.raises(InvalidInput):
            caller_files.issue(settings, "../x", rate_per_minute=None, replace=False)
        caller_files.remove(settings, "org-a")
        assert caller_files.read_callers(settings) == []


class TestEvaluateApi:
    def test_keys_are_public(self, app_client: TestClient) -> None:
        body = app_client.get("/v1/keys").json()
        assert body["suite"] == "ristretto255-SHA512" and body["mode"] == "VOPRF"
        assert body["current_version"] == 1 and len(body["keys"]) == 1

    def test_evaluation_needs_a_key_service_api_key(
        self, app_client: TestClient, settings: KeyServiceSettings
    ) -> None:
        body = {"blinded_elements": [_element()]}
        assert app_client.post("/v1/evaluate", json=body).status_code == 401
        wrong = app_client.post("/v1/evaluate", json=body, headers=_bearer("vks_nope"))
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"
        key = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        assert app_client.post("/v1/evaluate", json=body, headers=_bearer(key)).status_code == 200
        assert app_client.get("/v1/usage").status_code == 401

    def test_client_tokens_are_the_prf_of_the_bsn(
        self, app_client: TestClient, settings: KeyServiceSettings
    ) -> None:
        key = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        client = KeyServiceClient("http://keys.test", api_key=key, http=app_client)
        tokens = client.tokens(BSNS)
        oprf = key_files.load_ring(settings).current.key
        for bsn, token in zip(BSNS, tokens, strict=True):
            assert token.current == crypto.format_subject_token(
                version=1, output=oprf.evaluate(crypto.oprf_input(bsn))
            )
            assert token.earlier == ()
        assert client.tokens(BSNS) == tokens  # deterministic, though blinded afresh

    def test_rotation_is_picked_up_and_tokens_cover_every_version(
        self, app_client: TestClient, settings: KeyServiceSettings
    ) -> None:
        key = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        client = KeyServiceClient("http://keys.test", api_key=key, http=app_client)
        (before,) = client.tokens(BSNS[:1])
        key_files.rotate(settings)
        (after,) = client.tokens(BSNS[:1])  # the answer names version 2: keys are re-read
        assert after.current.startswith("t2.") and after.earlier == (before.current,)

    def test_per_caller_rate_limit(
        self, app_client: TestClient, settings: KeyServiceSettings
    ) -> None:
        slow = caller_files.issue(settings, "org-slow", rate_per_minute=4, replace=False)
        other = caller_files.issue(settings, "org-other", rate_per_minute=None, replace=False)
        three = {"blinded_elements": [_element() for _ in range(3)]}
        assert app_client.post("/v1/evaluate", json=three, headers=_bearer(slow)).status_code == 200
        limited = app_client.post("/v1/evaluate", json=three, headers=_bearer(slow))
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert (
            app_client.post("/v1/evaluate", json=three, headers=_bearer(other)).status_code == 200
        )
        too_big = {"blinded_elements": [_element() for _ in range(5)]}
        assert (
            app_client.post("/v1/evaluate", json=too_big, headers=_bearer(slow)).status_code == 422
        )
        usage = app_client.get("/v1/usage", headers=_bearer(slow)).json()
        assert usage == {
            "caller": "org-slow",
            "requests": 1,
            "evaluations": 3,
            "evaluations_by_key_version": {"1": 3},
            "rate_limited": 2,
        }

    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"blinded_elements": ["A" * 43]}, 422),  # not a group element
            ({"blinded_elements": [base64.urlsafe_b64encode(bytes(32)).decode()[:43]]}, 422),
            ({"blinded_elements": []}, 422),
            ({"blinded_elements": ["!!"]}, 422),
            ({"key_version": 9, "blinded_elements": ["A" * 43]}, 404),
            ({"blinded_elements": ["A" * 43], "bsn": "111222333"}, 422),
        ],
    )
    def test_bad_requests_are_problems_not_errors(
        self,
        app_client: TestClient,
        settings: KeyServiceSettings,
        body: dict[str, object],
        status: int,
    ) -> None:
        key = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        response = app_client.post("/v1/evaluate", json=body, headers=_bearer(key))
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        assert "111222333" not in response.text

    def test_batch_limit(self, tmp_path: Path) -> None:
        settings = _settings(tmp_path, max_batch=2)
        with TestClient(create_keyservice_app(settings)) as client:
            key = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
            body = {"blinded_elements": [_element() for _ in range(3)]}
            assert client.post("/v1/evaluate", json=body, headers=_bearer(key)).status_code == 422


class TestClientChecks:
    def test_a_wrong_pin_is_refused(
        self, app_client: TestClient, settings: KeyServiceSettings
    ) -> None:
        key = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        other = crypto.OprfKey.derive(seed=b"\x07" * 32, info=b"x").public_key
        client = KeyServiceClient(
            "http://keys.test", api_key=key, http=app_client, pinned={1: other}
        )
        with pytest.raises(KeyServiceError, match="pinned"):
            client.tokens(BSNS[:1])
        right = key_files.load_ring(settings).current.key.public_key
        pinned = KeyServiceClient(
            "http://keys.test", api_key=key, http=app_client, pinned={1: right}
        )
        assert pinned.tokens(BSNS[:1])[0].current.startswith("t1.")

    def test_an_evaluation_under_another_key_fails_the_proof(
        self, settings: KeyServiceSettings
    ) -> None:
        """A key service that answers with another key than it publishes is caught."""
        honest = crypto.OprfKey.derive(seed=b"\x01" * 32, info=b"a")
        rogue = crypto.OprfKey.derive(seed=b"\x02" * 32, info=b"a")

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/keys":
                keys = [{"version": 1, "public_key": b64(honest.public_key), "fingerprint": "x"}]
                return httpx.Response(
                    200,
                    json={"suite": "ristretto255-SHA512", "mode": "VOPRF", "current_version": 1,
                          "keys": keys},
                )  # fmt: skip
            asked = json.loads(request.content)["blinded_elements"]
            evaluation = rogue.blind_evaluate([base64.urlsafe_b64decode(e + "=") for e in asked])
            assert evaluation.proof is not None
            return httpx.Response(
                200,
                json={"key_version": 1, "current_version": 1, "proof": b64(evaluation.proof),
                      "evaluated_elements": [b64(e) for e in evaluation.elements]},
            )  # fmt: skip

        http = httpx.Client(base_url="http://keys.test", transport=httpx.MockTransport(handler))
        client = KeyServiceClient("http://keys.test", api_key="vks_x", http=http)
        with pytest.raises(KeyServiceError, match="proof"):
            client.tokens(BSNS[:1])

    def test_pins_parse(self) -> None:
        key = base64.urlsafe_b64encode(b"\x01" * 32).rstrip(b"=").decode()
        assert parse_pins(f"1:{key}, 2:{key}") == {1: b"\x01" * 32, 2: b"\x01" * 32}
        with pytest.raises(KeyServiceError):
            parse_pins("x")


# Every route of the key service × every kind of caller → the exact status. Routes come from
# ``app.routes``: a route added later fails until it has a row here.
_MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/healthz"): {"no-key": 200, "unknown-key": 200, "caller": 200},
    ("GET", "/v1/keys"): {"no-key": 200, "unknown-key": 200, "caller": 200},
    ("POST", "/v1/evaluate"): {"no-key": 401, "unknown-key": 401, "caller": 200},
    ("GET", "/v1/usage"): {"no-key": 401, "unknown-key": 401, "caller": 200},
}


class TestLeastPrivilege:
    def test_every_route_and_caller(
        self, app_client: TestClient, settings: KeyServiceSettings
    ) -> None:
        from fastapi.routing import APIRoute

        app = app_client.app
        routes = {
            (method, route.path)
            for route in app.routes  # type: ignore[attr-defined]
            if isinstance(route, APIRoute)
            for method in route.methods
            if method != "HEAD"
        }
        documented = {(m, p) for m, p in _MATRIX}
        assert routes == documented
        key = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        headers = {"no-key": {}, "unknown-key": _bearer("vks_unknown"), "caller": _bearer(key)}
        for (method, path), expected in _MATRIX.items():
            for kind, status in expected.items():
                body = {"blinded_elements": [_element()]} if method == "POST" else None
                response = app_client.request(method, path, json=body, headers=headers[kind])
                assert response.status_code == status, (method, path, kind)

    def test_a_caller_sees_only_its_own_usage(
        self, app_client: TestClient, settings: KeyServiceSettings
    ) -> None:
        a = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        b = caller_files.issue(settings, "org-b", rate_per_minute=None, replace=False)
        body = {"blinded_elements": [_element(), _element()]}
        app_client.post("/v1/evaluate", json=body, headers=_bearer(a))
        usage_b = app_client.get("/v1/usage", headers=_bearer(b)).json()
        assert usage_b["caller"] == "org-b" and usage_b["evaluations"] == 0


class TestOpenApiDocument:
    def test_docs_hold_the_key_services_schema(self, app_client: TestClient) -> None:
        """docs/keyservice-openapi.json is the app's schema (regenerate with
        ``python -m scripts.keyservice_openapi``)."""
        path = Path(__file__).parents[3] / "docs" / "keyservice-openapi.json"
        assert json.loads(path.read_text()) == app_client.app.openapi()  # type: ignore[attr-defined]


class TestRetirement:
    def test_a_client_that_knew_a_retired_version_fetches_the_keys_again(
        self, app_client: TestClient, settings: KeyServiceSettings
    ) -> None:
        key = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        client = KeyServiceClient("http://keys.test", api_key=key, http=app_client)
        key_files.rotate(settings)
        (both,) = client.tokens(BSNS[:1])
        assert both.current.startswith("t2.") and len(both.earlier) == 1
        key_files.retire(settings, version=1)
        (after,) = client.tokens(BSNS[:1])  # version 1 answers 404: keys fetched again
        assert after.current == both.current and after.earlier == ()


class TestBlindBodies:
    """The organisation's request bodies: the youth's and the parents' tokens from one batch."""

    def test_parents_are_blinded_too_and_the_11_test_is_the_clients(
        self, app_client: TestClient, settings: KeyServiceSettings
    ) -> None:
        from verwijsindex.client.blind import InvalidYouth, Youth, blind_bodies

        key = caller_files.issue(settings, "org-a", rate_per_minute=None, replace=False)
        client = KeyServiceClient("http://keys.test", api_key=key, http=app_client)
        youth = Youth(bsn="111222333", birth_date="2012-05-01", parents=("123456782",))
        alone = Youth(bsn="123456782", birth_date="2012-05-01", municipality="0363")
        first, second = blind_bodies(client, [youth, alone])
        assert set(first) == {"birth_date", "subject_token", "parents"}
        assert first["parents"] == [{"subject_token": second["subject_token"]}]
        assert second["municipality"] == "0363" and "bsn" not in json.dumps([first, second])
        with pytest.raises(InvalidYouth) as refused:
            blind_bodies(client, [Youth(bsn="123456789", birth_date="2012-05-01")])
        assert "123456789" not in str(refused.value)
        assert client.tokens([]) == []
