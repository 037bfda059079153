"""Least privilege: every endpoint of the app × every kind of caller → the exact status.

The endpoints come from ``app.routes``, so an endpoint added later fails this test until it
gets a row in :data:`MATRIX` (and a row for an endpoint that no longer exists fails too).
To add an endpoint: write its ``Endpoint`` with a ``prepare`` that makes a fresh resource owned
by organisation A (the owner) and the expected status for each caller kind.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

from crypto import hpke_generate_keypair
from notifier import AlertMessage
from tests.conftest import make_bsn, make_caller, registration_body
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext

# Caller kinds. "Key"-kinds use the role the endpoint is meant for (its owner role).
PRO = "professional"  # professional key of A with X-Professional-Id of A's professional
PRO_NO_ID = "professional-without-id"
ORG_ADMIN = "org-admin"
AUDITOR = "auditor"  # appointed on the command line (make_caller issues it for A)
REVIEWER = "reviewer"  # A's own review key, issued by A's org-admin
PRIVACY_OFFICER = "privacy-officer"
MUNICIPALITY_ADMIN = "municipality-admin"  # the covenant manager of A's municipality (0363)
NO_KEY = "no-key"
REVOKED = "revoked-key"
EXPIRED = "expired-key"
OTHER_ORG = "other-organisation"  # B's key (owner role) on a resource owned by A
CALLER_KINDS = (
    PRO,
    PRO_NO_ID,
    ORG_ADMIN,
    AUDITOR,
    REVIEWER,
    PRIVACY_OFFICER,
    MUNICIPALITY_ADMIN,
    NO_KEY,
    REVOKED,
    EXPIRED,
    OTHER_ORG,
)
IGNORED_METHODS = {"HEAD"}  # Starlette answers HEAD with the GET handler


@dataclass
class World:
    """Organisation A (owner of the resources), B (another organisation) and C (a third
    organisation that takes part in A's matches)."""

    ctx: AppContext
    client: httpx.AsyncClient
    headers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    org_a: str = ""
    org_c: str = ""

    def bsn(self) -> str:
        return make_bsn(next(self.counter))


@dataclass(frozen=True)
class Prepared:
    path: str
    json: dict[str, Any] | None = None


Prepare = Callable[[World], Awaitable[Prepared]]


def fixed(path: str, body: dict[str, Any] | None = None) -> Prepare:
    async def prepare(_world: World) -> Prepared:
        return Prepared(path, body)

    return prepare


async def _registration_of_a(world: World) -> str:
    r = await world.client.post(
        "/v1/registrations",
        json=registration_body(world.bsn()),
        headers=world.headers[("A", PRO)],
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def registration(world: World) -> Prepared:
    return Prepared(f"/v1/registrations/{await _registration_of_a(world)}")


async def withdrawal(world: World) -> Prepared:
    return Prepared(
        f"/v1/registrations/{await _registration_of_a(world)}/withdraw",
        {"reason": "risk_resolved"},
    )


async def informing_record(world: World) -> Prepared:
    body = {"status": "informed", "informed": ["youth"], "informed_on": "2026-03-01"}
    return Prepared(f"/v1/registrations/{await _registration_of_a(world)}/informing", body)


async def informing_read(world: World) -> Prepared:
    return Prepared(f"/v1/registrations/{await _registration_of_a(world)}/informing")


async def renewal(world: World) -> Prepared:
    body = registration_body(world.bsn())
    r = await world.client.post("/v1/registrations", json=body, headers=world.headers[("A", PRO)])
    assert r.status_code == 201, r.text
    return Prepared(f"/v1/registrations/{r.json()['id']}/renew", body)


async def earlier_involvement(world: World) -> Prepared:
    return Prepared(f"/v1/registrations/{await _registration_of_a(world)}/earlier-involvement")


async def new_registration(world: World) -> Prepared:
    return Prepared("/v1/registrations", registration_body(world.bsn()))


async def match(world: World) -> Prepared:
    body = registration_body(world.bsn())
    first = await world.client.post(
        "/v1/registrations", json=body, headers=world.headers[("A", PRO)]
    )
    second = await world.client.post(
        "/v1/registrations", json=body, headers=world.headers[("C", PRO)]
    )
    assert (first.status_code, second.status_code) == (201, 201)
    return Prepared(f"/v1/matches/{second.json()['match_id']}")


async def family_match(world: World) -> Prepared:
    parent = world.bsn()
    bodies = [{**registration_body(world.bsn()), "parents": [{"bsn": parent}]} for _ in range(2)]
    first = await world.client.post(
        "/v1/registrations", json=bodies[0], headers=world.headers[("A", PRO)]
    )
    second = await world.client.post(
        "/v1/registrations", json=bodies[1], headers=world.headers[("C", PRO)]
    )
    assert (first.status_code, second.status_code) == (201, 201)
    return Prepared(f"/v1/family-matches/{second.json()['family_match_id']}")


async def api_key_revocation(world: World) -> Prepared:
    async with world.ctx.database.transaction() as session:
        issued = await world.ctx.admin.create_api_key(
            session, organisation_id=world.org_a, role="auditor"
        )
    return Prepared(f"/v1/api-keys/{issued.id}/revoke")


@dataclass(frozen=True)
class Endpoint:
    owner_role: str  # PRO, ORG_ADMIN or "public": whose keys the key-kinds use
    prepare: Prepare
    expect: dict[str, int]


def public(prepare: Prepare, status: int = 200) -> Endpoint:
    return Endpoint("public", prepare, dict.fromkeys(CALLER_KINDS, status))


def professional_only(prepare: Prepare, *, ok: int, other_org: int) -> Endpoint:
    return Endpoint(
        PRO,
        prepare,
        {
            PRO: ok,
            PRO_NO_ID: 403,
            ORG_ADMIN: 403,
            AUDITOR: 403,
            REVIEWER: 403,
            PRIVACY_OFFICER: 403,
            MUNICIPALITY_ADMIN: 403,
            NO_KEY: 401,
            REVOKED: 401,
            EXPIRED: 401,
            OTHER_ORG: other_org,
        },
    )


def org_admin_only(prepare: Prepare, *, ok: int, other_org: int) -> Endpoint:
    return Endpoint(
        ORG_ADMIN,
        prepare,
        {
            PRO: 403,
            PRO_NO_ID: 403,
            ORG_ADMIN: ok,
            AUDITOR: 403,
            REVIEWER: 403,
            PRIVACY_OFFICER: 403,
            MUNICIPALITY_ADMIN: 403,
            NO_KEY: 401,
            REVOKED: 401,
            EXPIRED: 401,
            OTHER_ORG: other_org,
        },
    )


def municipality_admin_only(prepare: Prepare, *, ok: int, other_org: int) -> Endpoint:
    """A municipality's covenant and coordination: its own municipality-admin only."""
    return Endpoint(
        MUNICIPALITY_ADMIN,
        prepare,
        {
            PRO: 403,
            PRO_NO_ID: 403,
            ORG_ADMIN: 403,
            AUDITOR: 403,
            REVIEWER: 403,
            PRIVACY_OFFICER: 403,
            MUNICIPALITY_ADMIN: ok,
            NO_KEY: 401,
            REVOKED: 401,
            EXPIRED: 401,
            OTHER_ORG: other_org,
        },
    )


COVENANT = {
    "coordinator_sectors": ["youth-protection", "veilig-thuis", "municipal-team"],
    "respond_within": "P2D",
    "coordinate_within": "P10D",
}


def reader_role(owner: str, prepare: Prepare, *, other_org: int = 200) -> Endpoint:
    """Audit endpoints: auditors and reviewers (their own organisation) and the privacy
    officer."""
    ok = dict.fromkeys((AUDITOR, REVIEWER, PRIVACY_OFFICER), 200)
    if owner == PRIVACY_OFFICER:
        ok = {PRIVACY_OFFICER: 200}
    return Endpoint(
        owner,
        prepare,
        {
            PRO: 403,
            PRO_NO_ID: 403,
            ORG_ADMIN: 403,
            AUDITOR: ok.get(AUDITOR, 403),
            REVIEWER: ok.get(REVIEWER, 403),
            PRIVACY_OFFICER: ok[PRIVACY_OFFICER],
            MUNICIPALITY_ADMIN: 403,
            NO_KEY: 401,
            REVOKED: 401,
            EXPIRED: 401,
            OTHER_ORG: other_org,
        },
    )


async def batch(world: World) -> Prepared:
    return Prepared("/v1/registrations:batch", {"items": [registration_body(world.bsn())]})


async def subject_access(world: World) -> Prepared:
    return Prepared("/v1/subject-access", {"bsn": world.bsn()})


async def subject_erasure(world: World) -> Prepared:
    return Prepared(
        "/v1/subject-erasure",
        {"bsn": world.bsn(), "reason": "data-subject-request", "request_reference": "AVG-2026-1"},
    )


async def parent_access(world: World) -> Prepared:
    return Prepared("/v1/subject-access/parent", {"bsn": world.bsn()})


async def parent_erasure(world: World) -> Prepared:
    return Prepared(
        "/v1/subject-erasure/parent",
        {"bsn": world.bsn(), "reason": "unlawful-processing", "request_reference": "AVG-2026-2"},
    )


JUSTIFICATION = (
    "The youth told the teacher this morning about violence at home last night. "
    "There are visible injuries and the youth is afraid to go home after school. "
    "Veilig Thuis must assess the safety of the youth today, before the school day ends."
)


def _consent_body(counterpart: str) -> dict[str, Any]:
    return {
        "counterpart_organisation_id": counterpart,
        "event": "given",
        "grantor": "youth",
        "purpose": "care-coordination",
        "data_categories": ["care"],
        "direction": "outgoing",
        "subject_birth_date": "2008-01-01",
        "method": "written",
    }


async def _match_id(world: World) -> str:
    return (await match(world)).path.rsplit("/", 1)[-1]


async def _encryption_key(world: World, who: str) -> None:
    _private, public = hpke_generate_keypair()
    r = await world.client.put(
        "/v1/organisations/me/encryption-key",
        json={"public_key": base64.b64encode(public).decode()},
        headers=world.headers[(who, ORG_ADMIN)],
    )
    assert r.status_code in (200, 201), r.text


async def _consent_of_a(world: World) -> tuple[str, str]:
    match_id = await _match_id(world)
    body = _consent_body(world.org_c)
    r = await world.client.post(
        f"/v1/matches/{match_id}/consents", json=body, headers=world.headers[("A", PRO)]
    )
    assert r.status_code == 201, r.text
    return match_id, str(r.json()["id"])


async def new_consent(world: World) -> Prepared:
    match_id = await _match_id(world)
    return Prepared(f"/v1/matches/{match_id}/consents", _consent_body(world.org_c))


async def consents_of_match(world: World) -> Prepared:
    return Prepared(f"/v1/matches/{(await _consent_of_a(world))[0]}/consents")


async def consent_decision(world: World) -> Prepared:
    match_id = await _match_id(world)
    return Prepared(
        f"/v1/matches/{match_id}/consents/decision?recipient_organisation_id="
        f"{world.org_c}&purpose=care-coordination&data_category=care"
    )


async def consent_fhir(world: World) -> Prepared:
    return Prepared(f"/v1/consents/{(await _consent_of_a(world))[1]}/fhir")


async def consent_record(world: World) -> Prepared:
    return Prepared(f"/v1/consents/{(await _consent_of_a(world))[1]}/record")


def _exchange_body(recipient: str) -> dict[str, Any]:
    return {
        "recipient_organisation_id": recipient,
        "purpose": "safety-assessment",
        "data_category": "safety",
        "enc": base64.b64encode(b"e" * 32).decode(),
        "ciphertext": base64.b64encode(b"c" * 48).decode(),
        "legal_ground": {"code": "meldrecht", "justification": JUSTIFICATION},
    }


async def new_exchange(world: World) -> Prepared:
    match_id = await _match_id(world)
    await _encryption_key(world, "C")
    return Prepared(f"/v1/matches/{match_id}/exchanges", _exchange_body(world.org_c))


async def _exchange_to_a(world: World) -> str:
    match_id = await _match_id(world)
    await _encryption_key(world, "A")
    r = await world.client.post(
        f"/v1/matches/{match_id}/exchanges",
        json=_exchange_body(world.org_a),
        headers=world.headers[("C", PRO)],
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def exchange(world: World) -> Prepared:
    return Prepared(f"/v1/exchanges/{await _exchange_to_a(world)}")


async def acknowledgement(world: World) -> Prepared:
    return Prepared(f"/v1/exchanges/{await _exchange_to_a(world)}/acknowledge")


async def encryption_key_of_c(world: World) -> Prepared:
    await _match_id(world)  # A and C take part in a match together
    await _encryption_key(world, "C")
    return Prepared(f"/v1/organisations/{world.org_c}/encryption-key")


async def own_encryption_key(world: World) -> Prepared:
    """A new key is 201 (registration and rotation alike)."""
    _private, public = hpke_generate_keypair()
    return Prepared(
        "/v1/organisations/me/encryption-key", {"public_key": base64.b64encode(public).decode()}
    )


def ledger(path: str) -> Prepare:
    async def prepare(world: World) -> Prepared:
        await _consent_of_a(world)  # at least one ledger entry
        return Prepared(path)

    return prepare


def ledger_auditor(prepare: Prepare) -> Endpoint:
    """The consent ledger: appointed auditors, reviewers and the privacy officer (what each
    sees of an entry is tested in tests/verwijsindex/organisations/test_roles.py), nobody else."""
    return reader_role(AUDITOR, prepare)


HOOK = {"url": "http://127.0.0.1:9/hook"}  # development settings allow loopback http


async def _endpoint_of_a(world: World) -> str:
    r = await world.client.post(
        "/v1/webhook-endpoints", json=HOOK, headers=world.headers[("A", ORG_ADMIN)]
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def endpoint_path(suffix: str = "", body: dict[str, Any] | None = None) -> Prepare:
    async def prepare(world: World) -> Prepared:
        return Prepared(f"/v1/webhook-endpoints/{await _endpoint_of_a(world)}{suffix}", body)

    return prepare


async def redelivery(world: World) -> Prepared:
    await _endpoint_of_a(world)
    await _match_id(world)  # a match.created message for A's endpoint
    r = await world.client.get("/v1/webhook-messages", headers=world.headers[("A", ORG_ADMIN)])
    assert r.status_code == 200, r.text
    return Prepared(f"/v1/webhook-messages/{r.json()['items'][0]['id']}/redeliver")


def coordination_path(suffix: str, body: dict[str, Any] | None = None) -> Prepare:
    async def prepare(world: World) -> Prepared:
        return Prepared(f"/v1/matches/{await _match_id(world)}/coordination{suffix}", body)

    return prepare


def professional_or_org_admin(prepare: Prepare) -> Endpoint:
    """A professional's own settings: that professional (their organisation's professional
    key and X-Professional-Id) or the organisation's admin; B's keys on A's professional: 404."""
    expect = professional_only(prepare, ok=200, other_org=404).expect
    return Endpoint(PRO, prepare, {**expect, ORG_ADMIN: 200})


async def _alert_of_a(world: World) -> str:
    """An e-mail alert of organisation A (written directly: the matrix runs without a relay)."""
    public_id = f"alr_{next(world.counter):032d}"
    now = world.ctx.clock.now()
    async with world.ctx.database.transaction() as session:
        session.add(
            AlertMessage(
                public_id=public_id,
                organisation_id=world.org_a,
                registration_id="00000000-0000-0000-0000-000000000000",
                event_id="msg_matrix",
                event_type="match.created",
                topic="new-match",
                status="dead",
                attempts=1,
                round_attempts=1,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return public_id


def alert_path(suffix: str) -> Prepare:
    async def prepare(world: World) -> Prepared:
        return Prepared(f"/v1/alert-messages/{await _alert_of_a(world)}{suffix}")

    return prepare


def coordination_reader(prepare: Prepare) -> Endpoint:
    """A match's coordination: its participants and the municipality-admin of its
    municipality."""
    endpoint = professional_only(prepare, ok=200, other_org=404)
    return Endpoint(PRO, prepare, {**endpoint.expect, MUNICIPALITY_ADMIN: 200})


def own_alerts(body: dict[str, Any] | None = None) -> Prepare:
    async def prepare(world: World) -> Prepared:
        professional = world.headers[("A", PRO)]["X-Professional-Id"]
        return Prepared(f"/v1/professionals/{professional}/alerts", body)

    return prepare


MATRIX: dict[tuple[str, str], Endpoint] = {
    ("GET", "/v1/professionals/{professional_id}/alerts"): professional_or_org_admin(own_alerts()),
    ("PUT", "/v1/professionals/{professional_id}/alerts"): professional_or_org_admin(
        own_alerts({"enabled": True})
    ),
    ("GET", "/v1/alert-messages"): org_admin_only(
        fixed("/v1/alert-messages"), ok=200, other_org=200
    ),
    ("GET", "/v1/alert-messages/{alert_id}/deliveries"): org_admin_only(
        alert_path("/deliveries"), ok=200, other_org=404
    ),
    ("POST", "/v1/alert-messages/{alert_id}/redeliver"): org_admin_only(
        alert_path("/redeliver"), ok=202, other_org=404
    ),
    # A (youth-care) is proposed; any participant may escalate; the municipality may not
    # while a participant is proposed (403), another organisation's match is 404.
    ("POST", "/v1/matches/{match_id}/coordination/{action}"): professional_only(
        coordination_path("/escalate", {"reason": "no-progress"}), ok=200, other_org=404
    ),
    ("GET", "/v1/matches/{match_id}/coordination"): coordination_reader(coordination_path("")),
    ("GET", "/v1/matches/{match_id}/coordination/history"): coordination_reader(
        coordination_path("/history")
    ),
    ("GET", "/v1/municipalities/{code}/coordinations"): municipality_admin_only(
        fixed("/v1/municipalities/0363/coordinations"), ok=200, other_org=403
    ),
    ("POST", "/v1/webhook-endpoints"): org_admin_only(
        fixed("/v1/webhook-endpoints", HOOK), ok=201, other_org=201
    ),
    ("GET", "/v1/webhook-endpoints"): org_admin_only(
        fixed("/v1/webhook-endpoints"), ok=200, other_org=200
    ),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"): org_admin_only(
        endpoint_path(), ok=200, other_org=404
    ),
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"): org_admin_only(
        endpoint_path("", {"description": "case system"}), ok=200, other_org=404
    ),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): org_admin_only(
        endpoint_path(), ok=204, other_org=404
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): org_admin_only(
        endpoint_path("/rotate-secret", {"overlap_seconds": 60}), ok=200, other_org=404
    ),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries"): org_admin_only(
        endpoint_path("/deliveries"), ok=200, other_org=404
    ),
    ("GET", "/v1/webhook-messages"): org_admin_only(
        fixed("/v1/webhook-messages"), ok=200, other_org=200
    ),
    ("POST", "/v1/webhook-messages/{message_id}/redeliver"): org_admin_only(
        redelivery, ok=202, other_org=404
    ),
    ("POST", "/v1/matches/{match_id}/consents"): professional_only(
        new_consent, ok=201, other_org=404
    ),
    ("GET", "/v1/matches/{match_id}/consents"): professional_only(
        consents_of_match, ok=200, other_org=404
    ),
    ("GET", "/v1/matches/{match_id}/consents/decision"): professional_only(
        consent_decision, ok=200, other_org=404
    ),
    ("GET", "/v1/consents/{consent_id}/fhir"): professional_only(
        consent_fhir, ok=200, other_org=404
    ),
    ("GET", "/v1/consents/{consent_id}/record"): professional_only(
        consent_record, ok=200, other_org=404
    ),
    ("POST", "/v1/matches/{match_id}/exchanges"): professional_only(
        new_exchange, ok=201, other_org=404
    ),
    ("GET", "/v1/exchanges"): professional_only(fixed("/v1/exchanges"), ok=200, other_org=200),
    ("GET", "/v1/exchanges/{exchange_id}"): professional_only(exchange, ok=200, other_org=404),
    ("POST", "/v1/exchanges/{exchange_id}/acknowledge"): professional_only(
        acknowledgement, ok=200, other_org=404
    ),
    ("PUT", "/v1/organisations/me/encryption-key"): org_admin_only(
        own_encryption_key, ok=201, other_org=201
    ),
    ("GET", "/v1/organisations/{organisation_id}/encryption-key"): Endpoint(
        PRO,
        encryption_key_of_c,
        {
            PRO: 200,
            PRO_NO_ID: 200,
            ORG_ADMIN: 200,
            AUDITOR: 403,
            REVIEWER: 403,
            PRIVACY_OFFICER: 403,
            MUNICIPALITY_ADMIN: 403,
            NO_KEY: 401,
            REVOKED: 401,
            EXPIRED: 401,
            OTHER_ORG: 404,
        },
    ),
    ("GET", "/v1/audit/checkpoint"): ledger_auditor(ledger("/v1/audit/checkpoint")),
    ("GET", "/v1/audit/public-key"): ledger_auditor(ledger("/v1/audit/public-key")),
    ("GET", "/v1/audit/entries"): ledger_auditor(ledger("/v1/audit/entries?start=0&end=1")),
    ("GET", "/v1/audit/proofs/inclusion"): ledger_auditor(
        ledger("/v1/audit/proofs/inclusion?index=0&tree_size=1")
    ),
    ("GET", "/v1/audit/table-records"): ledger_auditor(ledger("/v1/audit/table-records")),
    ("GET", "/v1/audit/proofs/consistency"): ledger_auditor(
        ledger("/v1/audit/proofs/consistency?first=1&second=1")
    ),
    ("POST", "/v1/registrations:batch"): professional_only(batch, ok=200, other_org=200),
    # Auditors read their own organisation's log (B's auditor gets B's: 200).
    ("GET", "/v1/audit/access-log"): reader_role(AUDITOR, fixed("/v1/audit/access-log")),
    ("GET", "/v1/audit/access-log/export"): reader_role(
        AUDITOR, fixed("/v1/audit/access-log/export")
    ),
    ("GET", "/v1/audit/anomalies"): reader_role(AUDITOR, fixed("/v1/audit/anomalies")),
    # Subject rights: the municipality's privacy officer only (another municipality's too).
    ("POST", "/v1/subject-access"): reader_role(PRIVACY_OFFICER, subject_access),
    ("POST", "/v1/subject-erasure"): reader_role(PRIVACY_OFFICER, subject_erasure),
    ("POST", "/v1/subject-access/parent"): reader_role(PRIVACY_OFFICER, parent_access),
    ("POST", "/v1/subject-erasure/parent"): reader_role(PRIVACY_OFFICER, parent_erasure),
    # Figures of a municipality: appointed auditors (of any organisation: B's too) and the
    # municipality's own municipality-admin. Not personal data, but not an organisation's
    # business either.
    ("GET", "/v1/statistics"): Endpoint(
        AUDITOR,
        fixed("/v1/statistics?municipality=0363&from=2026-01&to=2026-03"),
        {
            PRO: 403,
            PRO_NO_ID: 403,
            ORG_ADMIN: 403,
            AUDITOR: 200,
            REVIEWER: 403,
            PRIVACY_OFFICER: 403,
            MUNICIPALITY_ADMIN: 200,
            NO_KEY: 401,
            REVOKED: 401,
            EXPIRED: 401,
            OTHER_ORG: 200,
        },
    ),
    # Operators' metrics: no API key opens them; without a metrics token they do not exist.
    ("GET", "/metrics"): public(fixed("/metrics"), 404),
    # Covenants: the municipality-admin of that municipality (another municipality's: 403).
    ("GET", "/v1/municipalities/{code}/covenant"): municipality_admin_only(
        fixed("/v1/municipalities/0363/covenant"), ok=200, other_org=403
    ),
    ("PUT", "/v1/municipalities/{code}/covenant"): municipality_admin_only(
        fixed("/v1/municipalities/0363/covenant", COVENANT), ok=200, other_org=403
    ),
    ("GET", "/v1/municipalities/{code}/covenant/versions"): municipality_admin_only(
        fixed("/v1/municipalities/0363/covenant/versions"), ok=200, other_org=403
    ),
    # The hub's callback to a federated region: signed with the region's key, never an API
    # key. This index is no federated region, so every caller gets 404 (signatures: the
    # federation tests).
    ("POST", "/federation/v1/reports"): public(fixed("/federation/v1/reports", {}), 404),
    ("GET", "/healthz"): public(fixed("/healthz")),
    ("GET", "/readyz"): public(fixed("/readyz")),
    ("GET", "/openapi.json"): public(fixed("/openapi.json")),
    ("GET", "/docs"): public(fixed("/docs")),
    ("GET", "/docs/assets/{name}"): public(fixed("/docs/assets/swagger-ui.css")),
    # Collections list the caller's own organisation's items: B sees its own (200).
    ("GET", "/v1/registrations"): professional_only(
        fixed("/v1/registrations"), ok=200, other_org=200
    ),
    ("POST", "/v1/registrations"): professional_only(new_registration, ok=201, other_org=201),
    ("GET", "/v1/registrations/{registration_id}"): professional_only(
        registration, ok=200, other_org=404
    ),
    ("POST", "/v1/registrations/{registration_id}/withdraw"): professional_only(
        withdrawal, ok=200, other_org=404
    ),
    ("POST", "/v1/registrations/{registration_id}/informing"): professional_only(
        informing_record, ok=201, other_org=404
    ),
    ("GET", "/v1/registrations/{registration_id}/informing"): professional_only(
        informing_read, ok=200, other_org=404
    ),
    ("POST", "/v1/registrations/{registration_id}/renew"): professional_only(
        renewal, ok=200, other_org=404
    ),
    ("GET", "/v1/registrations/{registration_id}/earlier-involvement"): professional_only(
        earlier_involvement, ok=200, other_org=404
    ),
    ("GET", "/v1/matches"): professional_only(fixed("/v1/matches"), ok=200, other_org=200),
    ("GET", "/v1/matches/{match_id}"): professional_only(match, ok=200, other_org=404),
    ("GET", "/v1/family-matches"): professional_only(
        fixed("/v1/family-matches"), ok=200, other_org=200
    ),
    ("GET", "/v1/family-matches/{family_match_id}"): professional_only(
        family_match, ok=200, other_org=404
    ),
    ("GET", "/v1/api-keys"): org_admin_only(fixed("/v1/api-keys"), ok=200, other_org=200),
    ("POST", "/v1/api-keys"): org_admin_only(
        fixed("/v1/api-keys", {"role": "reviewer"}), ok=201, other_org=201
    ),
    ("POST", "/v1/api-keys/{key_id}/revoke"): org_admin_only(
        api_key_revocation, ok=200, other_org=404
    ),
}


def _flat_routes(app: FastAPI) -> list[Any]:
    """``app.routes`` with included routers flattened (newer FastAPI includes lazily)."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(iterate(app.routes)) if iterate is not None else list(app.routes)


def app_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """The API's endpoints. The portal's pages (``/portal/``) take no API key: their own
    matrix of sessions and roles is in ``tests/verwijsindex/portal/test_least_privilege.py``."""
    endpoints: set[tuple[str, str]] = set()
    for route in _flat_routes(app):
        if getattr(route, "path", "").startswith("/portal"):
            continue
        methods = getattr(route, "methods", None)
        path = getattr(route, "path", None)
        assert methods and path, f"a route without methods or path: {route!r}"
        for method in set(methods) - IGNORED_METHODS:
            endpoints.add((method, path))
    return endpoints


async def _build_world(ctx: AppContext, client: httpx.AsyncClient, clock: FrozenClock) -> World:
    world = World(ctx=ctx, client=client)
    # The matrix registers many youths as one professional within one frozen minute.
    ctx.settings.rate_limit_professional_per_minute = 0
    ctx.settings.rate_limit_professional_per_day = 0
    ctx.settings.rate_limit_organisation_per_minute = 0
    callers = {name: await make_caller(ctx, n) for n, name in enumerate("ABC")}
    world.org_a = callers["A"].organisation_id
    world.org_c = callers["C"].organisation_id
    a = callers["A"]

    def bearer(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    async with ctx.database.transaction() as session:
        municipalities = [
            await ctx.admin.create_organisation(
                session, name=f"Gemeente {n}", sector="municipality", municipality="0363"
            )
            for n in (1, 2)
        ]
        privacy = await ctx.admin.create_api_key(
            session, organisation_id=municipalities[0].id, role="privacy-officer"
        )
        other_privacy = await ctx.admin.create_api_key(
            session, organisation_id=municipalities[1].id, role="privacy-officer"
        )
        elsewhere = await ctx.admin.create_organisation(
            session, name="Gemeente elders", sector="municipality", municipality="0599"
        )
        municipality_admin = await ctx.admin.create_api_key(
            session, organisation_id=municipalities[0].id, role="municipality-admin"
        )
        other_municipality_admin = await ctx.admin.create_api_key(
            session, organisation_id=elsewhere.id, role="municipality-admin"
        )
        other_auditor = await ctx.admin.create_api_key(
            session, organisation_id=callers["B"].organisation_id, role="auditor"
        )
        reviewer = await ctx.admin.create_api_key(
            session, organisation_id=a.organisation_id, role="reviewer"
        )
        revoked = {}
        expired = {}
        for role in (
            "professional",
            "org-admin",
            "auditor",
            "privacy-officer",
            "municipality-admin",
        ):
            at_municipality = role in ("privacy-officer", "municipality-admin")
            owner_org = municipalities[0].id if at_municipality else a.organisation_id
            issued = await ctx.admin.create_api_key(session, organisation_id=owner_org, role=role)
            await ctx.admin.revoke_api_key(session, key_id=issued.id, organisation_id=owner_org)
            revoked[role] = issued.key
            expired[role] = (
                await ctx.admin.create_api_key(
                    session,
                    organisation_id=owner_org,
                    role=role,
                    expires_at=clock.now() - timedelta(seconds=1),
                )
            ).key
    pro_id = {"X-Professional-Id": a.professional_id}
    for owner in (PRO, ORG_ADMIN, "public"):
        role = "org-admin" if owner == ORG_ADMIN else "professional"
        with_id = pro_id if role == "professional" else {}
        other = callers["B"]
        world.headers[(owner, REVOKED)] = {**bearer(revoked[role]), **with_id}
        world.headers[(owner, EXPIRED)] = {**bearer(expired[role]), **with_id}
        world.headers[(owner, OTHER_ORG)] = (
            other.admin_headers if owner == ORG_ADMIN else other.headers
        )
    for owner, other_key in (
        (AUDITOR, other_auditor.key),
        (PRIVACY_OFFICER, other_privacy.key),
        (MUNICIPALITY_ADMIN, other_municipality_admin.key),
    ):
        world.headers[(owner, REVOKED)] = bearer(revoked[owner])
        world.headers[(owner, EXPIRED)] = bearer(expired[owner])
        world.headers[(owner, OTHER_ORG)] = bearer(other_key)
    world.headers[("A", PRO)] = a.headers
    world.headers[("C", PRO)] = callers["C"].headers
    world.headers[("A", ORG_ADMIN)] = a.admin_headers
    world.headers[("C", ORG_ADMIN)] = callers["C"].admin_headers
    world.headers[("any", PRO)] = a.headers
    world.headers[("any", PRO_NO_ID)] = bearer(a.key)
    world.headers[("any", ORG_ADMIN)] = a.admin_headers
    world.headers[("any", AUDITOR)] = a.auditor_headers
    world.headers[("any", REVIEWER)] = bearer(reviewer.key)
    world.headers[("any", PRIVACY_OFFICER)] = bearer(privacy.key)
    world.headers[("any", MUNICIPALITY_ADMIN)] = bearer(municipality_admin.key)
    world.headers[("any", NO_KEY)] = {}
    return world


SHARDS = 4


class TestLeastPrivilege:
    def test_every_endpoint_has_a_row_and_every_row_an_endpoint(self, app: FastAPI) -> None:
        endpoints = app_endpoints(app)
        missing = sorted(endpoints - MATRIX.keys())
        stale = sorted(MATRIX.keys() - endpoints)
        assert not missing, f"endpoints without an expectation in MATRIX: {missing}"
        assert not stale, f"MATRIX rows for endpoints that do not exist: {stale}"
        for key, endpoint in MATRIX.items():
            assert set(endpoint.expect) == set(CALLER_KINDS), key

    # In shards (every SHARDS-th row of the sorted matrix), each with a world of its own, so
    # that parallel test workers share the matrix's couple of minutes.
    @pytest.mark.parametrize("shard", range(SHARDS))
    async def test_exact_status_for_every_endpoint_and_caller(
        self,
        app: FastAPI,
        ctx: AppContext,
        client: httpx.AsyncClient,
        clock: FrozenClock,
        shard: int,
    ) -> None:
        world = await _build_world(ctx, client, clock)
        failures: list[str] = []
        checked = 0
        rows = sorted(MATRIX.items())[shard::SHARDS]
        for (method, _template), endpoint in rows:
            if (method, _template) not in app_endpoints(app):
                continue
            for kind in CALLER_KINDS:
                prepared = await endpoint.prepare(world)
                headers = (
                    world.headers.get((endpoint.owner_role, kind)) or world.headers[("any", kind)]
                )
                r = await client.request(method, prepared.path, json=prepared.json, headers=headers)
                checked += 1
                expected = endpoint.expect[kind]
                if r.status_code != expected:
                    failures.append(
                        f"{method} {_template} as {kind}: {r.status_code}, expected {expected}"
                    )
                if r.status_code in (401, 403, 404):
                    assert r.headers["content-type"] == "application/problem+json"
                if r.status_code == 401:
                    assert r.headers["www-authenticate"] == "Bearer"
        assert not failures, "\n".join(failures)
        assert checked == len(rows) * len(CALLER_KINDS)
