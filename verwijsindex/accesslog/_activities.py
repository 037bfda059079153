"""The register of processing activities (verwerkingsactiviteiten) and the operations that
belong to them. Every access-log record names one operation and its activity id."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Operation(StrEnum):
    REGISTRATION_CREATE = "registration.create"
    REGISTRATION_READ = "registration.read"
    REGISTRATION_LIST = "registration.list"
    REGISTRATION_WITHDRAW = "registration.withdraw"
    REGISTRATION_EXPIRE = "registration.expire"
    MATCH_READ = "match.read"
    MATCH_LIST = "match.list"
    FAMILY_MATCH_READ = "family-match.read"
    FAMILY_MATCH_LIST = "family-match.list"
    INFORMING_RECORD = "registration.informing.record"
    INFORMING_READ = "registration.informing.read"
    REGISTRATION_RENEW = "registration.renew"
    EARLIER_INVOLVEMENT_READ = "registration.earlier-involvement.read"
    SUBJECT_ACCESS = "subject-access"
    SUBJECT_ERASURE = "subject-erasure"
    AUDIT_ACCESS_LOG_READ = "audit.access-log.read"
    AUDIT_ACCESS_LOG_EXPORT = "audit.access-log.export"
    AUDIT_ANOMALIES_READ = "audit.anomalies.read"
    AUDIT_LEDGER_PERSONAL_READ = "audit.ledger.personal-read"
    ADMIN_CREATE_ORGANISATION = "admin.create-organisation"
    ADMIN_CREATE_PROFESSIONAL = "admin.create-professional"
    ADMIN_CREATE_API_KEY = "admin.create-api-key"
    CONSENT_RECORD = "consent.record"
    CONSENT_LIST = "consent.list"
    CONSENT_DECISION = "consent.decision"
    CONSENT_EXPORT = "consent.export"
    EXCHANGE_CREATE = "exchange.create"
    EXCHANGE_LIST = "exchange.list"
    EXCHANGE_READ = "exchange.read"
    EXCHANGE_ACKNOWLEDGE = "exchange.acknowledge"
    COVENANT_READ = "covenant.read"
    COVENANT_VERSIONS = "covenant.versions"
    COVENANT_UPDATE = "covenant.update"
    COORDINATION_ACT = "coordination.act"
    COORDINATION_SYSTEM = "coordination.system"
    COORDINATION_READ = "coordination.read"
    COORDINATION_HISTORY = "coordination.history"
    COORDINATION_LIST = "coordination.list"
    FEDERATION_HANDOFF = "federation.handoff"
    FEDERATION_REPORT = "federation.report"
    ADMIN_DEACTIVATE_PROFESSIONAL = "admin.deactivate-professional"
    ADMIN_RESET_SECOND_FACTOR = "admin.reset-second-factor"
    PORTAL_SIGN_IN = "portal.sign-in"
    PORTAL_SIGN_OUT = "portal.sign-out"


class Status(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True)
class ProcessingActivity:
    id: str
    name: str
    legal_basis: str


ACTIVITIES: dict[str, ProcessingActivity] = {
    a.id: a
    for a in (
        ProcessingActivity(
            "VI-01",
            "Registering and ending a professional's involvement with a youth",
            "Jeugdwet art. 7.1.4.1-7.1.4.3 (verwijsindex risicojongeren)",
        ),
        ProcessingActivity(
            "VI-02",
            "Reporting matches and professionals' contact details to participants",
            "Jeugdwet art. 7.1.4.1 (verwijsindex risicojongeren)",
        ),
        ProcessingActivity(
            "VI-03",
            "Lifecycle: ending registrations at their end date",
            "Jeugdwet art. 7.1.4.2 (bewaartermijnen)",
        ),
        ProcessingActivity(
            "VI-04",
            "Handling data subjects' requests (access, erasure)",
            "AVG art. 15 and 17",
        ),
        ProcessingActivity(
            "VI-05",
            "Accountability: audit of the access log and anomaly flags",
            "AVG art. 5(2) and 32; NEN 7513",
        ),
        ProcessingActivity(
            "VI-06",
            "Administration of organisations, professionals and API keys",
            "AVG art. 6(1)(e); Jeugdwet art. 7.1.4.1",
        ),
        ProcessingActivity(
            "VI-07",
            "Recording and reading a youth's consent to exchanges between participants of a match",
            "AVG art. 6(1)(c) and 7(1) (demonstrating consent)",
        ),
        ProcessingActivity(
            "VI-08",
            "Exchanging content between participants of a match, on consent or a legal ground",
            "AVG art. 6(1)(a); on a legal ground Wmo 2015 art. 5.2.6, Jeugdwet art. 7.3.11 or"
            " AVG art. 6(1)(c)",
        ),
        ProcessingActivity(
            "VI-09",
            "Coordinating care after a match (regie): who coordinates, deadlines, escalation",
            "Jeugdwet art. 7.1.2.1 (vroegtijdige en onderlinge afstemming) and 7.1.4.1",
        ),
        ProcessingActivity(
            "VI-10",
            "Matching across regional indexes through the hub (federated pseudonym, opaque"
            " reference, sealed participant card)",
            "Jeugdwet art. 7.1.4.1 and 7.1.4.3 (aansluiting verwijsindexen)",
        ),
        ProcessingActivity(
            "VI-11",
            "Signing professionals in to the web portal and out of it",
            "AVG art. 32 (security of processing); NEN 7513",
        ),
    )
}

_ACTIVITY_OF: dict[Operation, str] = {
    Operation.REGISTRATION_CREATE: "VI-01",
    Operation.REGISTRATION_READ: "VI-01",
    Operation.REGISTRATION_LIST: "VI-01",
    Operation.REGISTRATION_WITHDRAW: "VI-01",
    Operation.REGISTRATION_EXPIRE: "VI-03",
    Operation.MATCH_READ: "VI-02",
    Operation.MATCH_LIST: "VI-02",
    Operation.FAMILY_MATCH_READ: "VI-02",
    Operation.FAMILY_MATCH_LIST: "VI-02",
    Operation.INFORMING_RECORD: "VI-01",
    Operation.INFORMING_READ: "VI-01",
    Operation.REGISTRATION_RENEW: "VI-01",
    Operation.EARLIER_INVOLVEMENT_READ: "VI-02",
    Operation.SUBJECT_ACCESS: "VI-04",
    Operation.SUBJECT_ERASURE: "VI-04",
    Operation.AUDIT_ACCESS_LOG_READ: "VI-05",
    Operation.AUDIT_ACCESS_LOG_EXPORT: "VI-05",
    Operation.AUDIT_ANOMALIES_READ: "VI-05",
    Operation.AUDIT_LEDGER_PERSONAL_READ: "VI-05",
    Operation.ADMIN_CREATE_ORGANISATION: "VI-06",
    Operation.ADMIN_CREATE_PROFESSIONAL: "VI-06",
    Operation.ADMIN_CREATE_API_KEY: "VI-06",
    Operation.CONSENT_RECORD: "VI-07",
    Operation.CONSENT_LIST: "VI-07",
    Operation.CONSENT_DECISION: "VI-07",
    Operation.CONSENT_EXPORT: "VI-07",
    Operation.EXCHANGE_CREATE: "VI-08",
    Operation.EXCHANGE_LIST: "VI-08",
    Operation.EXCHANGE_READ: "VI-08",
    Operation.EXCHANGE_ACKNOWLEDGE: "VI-08",
    Operation.COVENANT_READ: "VI-06",
    Operation.COVENANT_VERSIONS: "VI-06",
    Operation.COVENANT_UPDATE: "VI-06",
    Operation.COORDINATION_ACT: "VI-09",
    Operation.COORDINATION_SYSTEM: "VI-09",
    Operation.COORDINATION_READ: "VI-09",
    Operation.COORDINATION_HISTORY: "VI-09",
    Operation.COORDINATION_LIST: "VI-09",
    Operation.FEDERATION_HANDOFF: "VI-10",
    Operation.FEDERATION_REPORT: "VI-10",
    Operation.ADMIN_DEACTIVATE_PROFESSIONAL: "VI-06",
    Operation.ADMIN_RESET_SECOND_FACTOR: "VI-06",
    Operation.PORTAL_SIGN_IN: "VI-11",
    Operation.PORTAL_SIGN_OUT: "VI-11",
}


def activity_of(operation: Operation) -> str:
    """The processing activity id of an operation (every operation has exactly one)."""
    return _ACTIVITY_OF[operation]
