import json
from typing import Any

import pytest

from consent import (
    EventKind,
    GrantorRole,
    InvalidConsent,
    to_consent_record,
    to_fhir_consent,
    validate_legal_ground,
)
from tests.consent.factory import A, B, at, ev
from tests.consent.test_rules import JUSTIFICATION

SUBJECT = "p1.Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6"


class TestFhirConsent:
    def test_grant_shape(self) -> None:
        event = ev(
            EventKind.GIVEN,
            GrantorRole.PARENT,
            direction="outgoing",
            categories="health,care",
            valid_until=at(30),
        )
        resource: Any = to_fhir_consent(event, subject_ref=SUBJECT)
        json.dumps(resource)
        assert resource["resourceType"] == "Consent"
        assert resource["status"] == "active"
        assert resource["decision"] == "permit"
        assert resource["subject"] == {
            "type": "Patient",
            "identifier": {"system": "urn:verwijsindex:subject-pseudonym", "value": SUBJECT},
        }
        assert resource["date"] == "2025-03-01"
        assert resource["period"] == {
            "start": "2025-03-01T09:00:00+00:00",
            "end": "2025-03-31T09:00:00+00:00",
        }
        assert resource["grantor"] == [{"type": "RelatedPerson", "display": "parent of the youth"}]
        grantee = resource["grantee"]
        assert isinstance(grantee, list) and len(grantee) == 1
        assert grantee[0]["identifier"]["value"] == B
        controllers = [c["identifier"]["value"] for c in resource["controller"]]
        assert controllers == [A, B]
        (provision,) = resource["provision"]
        assert provision["purpose"][0]["code"] == "care-coordination"
        assert provision["action"][0]["coding"][0]["code"] == "disclose"
        assert [c["coding"][0]["code"] for c in provision["code"]] == ["care", "health"]
        roles = {
            (a["role"]["coding"][0]["code"], a["reference"]["identifier"]["value"])
            for a in provision["actor"]
        }
        assert roles == {("PRCP", B), ("CST", A)}

    def test_expired_grant_is_inactive(self) -> None:
        event = ev(EventKind.GIVEN, valid_until=at(30))
        assert to_fhir_consent(event, subject_ref=SUBJECT, at=at(30))["status"] == "inactive"
        assert to_fhir_consent(event, subject_ref=SUBJECT, at=at(29))["status"] == "active"

    @pytest.mark.parametrize("kind", [EventKind.REFUSED, EventKind.WITHDRAWN])
    def test_refusal_and_withdrawal_deny(self, kind: EventKind) -> None:
        resource: Any = to_fhir_consent(ev(kind, direction="both"), subject_ref=SUBJECT)
        assert resource["decision"] == "deny"
        assert resource["status"] == "active"
        assert len(resource["grantee"]) == 2

    def test_youth_grantor_is_the_subject(self) -> None:
        resource: Any = to_fhir_consent(ev(EventKind.GIVEN, GrantorRole.YOUTH), subject_ref=SUBJECT)
        assert resource["grantor"][0]["identifier"]["value"] == SUBJECT

    def test_refuses_a_bsn_as_subject(self) -> None:
        with pytest.raises(InvalidConsent):
            to_fhir_consent(ev(), subject_ref="111222333")


class TestConsentRecord:
    def test_shape(self) -> None:
        event = ev(EventKind.GIVEN, GrantorRole.YOUTH, direction="incoming")
        record: Any = to_consent_record(event, subject_ref=SUBJECT)
        json.dumps(record)
        assert record["record_id"] == event.id
        assert record["pii_principal_id"] == SUBJECT
        assert record["pii_controllers"] == [A, B]
        processing = record["processing"]
        assert isinstance(processing, dict)
        assert processing["purposes"] == ["care-coordination"]
        assert processing["flows"] == [{"sender": B, "recipient": A}]
        assert processing["lawful_basis"]["type"] == "consent"
        assert record["event"]["event_type"] == "given"
        assert record["event"]["event_by"] == {"role": "youth"}
        assert record["validity"] == {
            "valid_from": "2025-03-01T09:00:00+00:00",
            "valid_until": None,
        }

    def test_legal_ground(self) -> None:
        claim = validate_legal_ground("court-measure", JUSTIFICATION)
        record: Any = to_consent_record(ev(), subject_ref=SUBJECT, legal_ground=claim)
        basis = record["processing"]["lawful_basis"]
        assert basis["code"] == "court-measure"
        assert "7.3.11" in basis["reference"]
