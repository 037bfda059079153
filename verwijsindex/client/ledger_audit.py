"""``verwijsindex audit verify``: check the consent ledger as an auditor, over the HTTP API.

The same checks as the independent ``scripts/verify_ledger.py`` (and the same state-file
format and messages), but built on the service's own :mod:`crypto` and :func:`consent.fold`,
so the two implementations cross-check each other.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from consent import (
    AgeBand,
    ConsentEvent,
    DataCategory,
    Direction,
    EventKind,
    GrantorRole,
    LegalGround,
    Method,
    Purpose,
    canonical_json,
    fold,
)
from crypto import (
    CryptoError,
    InvalidProof,
    leaf_hash,
    parse_verifier_key,
    root_hash,
    verify_checkpoint,
    verify_consistency,
)

__all__ = ["AuditReport", "verify_ledger"]

Fetch = Callable[[str], bytes]
_PAGE = 1000
_MIN_JUSTIFICATION = 100


@dataclass
class AuditReport:
    size: int = 0
    root: bytes = b""
    entries: int = 0
    flagged: list[int] = field(default_factory=list)
    erased: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def text(self) -> str:
        lines = [
            f"checkpoint: size {self.size} root {base64.b64encode(self.root).decode()}",
            f"entries replayed: {self.entries} ({self.erased} with erased personal fields)",
            "exchanges on a legal ground, flagged for review: "
            + (", ".join(f"entry {i}" for i in self.flagged) or "none"),
            *(f"VIOLATION: {v}" for v in self.violations),
            "RESULT: OK" if self.ok else f"RESULT: FAILED ({len(self.violations)})",
        ]
        return "\n".join(lines)


def _event(record: dict[str, Any]) -> ConsentEvent:
    def ts(value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    recorded = datetime.fromisoformat(record["recorded_at"])
    return ConsentEvent(
        id=record["id"],
        recorded_at=recorded,
        organisation_id=record["organisation_id"],
        counterpart_organisation_id=record["counterpart_organisation_id"],
        kind=EventKind(record["event"]),
        grantor=GrantorRole(record["grantor"]),
        purpose=Purpose(record["purpose"]),
        data_categories=frozenset(DataCategory(c) for c in record["data_categories"]),
        direction=Direction(record["direction"]),
        age_band=AgeBand(record["age_band"]),
        method=Method(record["method"]),
        valid_from=ts(record["valid_from"]),
        valid_until=ts(record["valid_until"]),
    )


def _check_exchange(
    name: str,
    position: int,
    record: dict[str, Any],
    opened: dict[str, Any] | None,
    events: list[ConsentEvent],
    report: AuditReport,
) -> None:
    if record.get("basis") == "legal-ground":
        ground = record.get("legal_ground")
        if ground not in {g.value for g in LegalGround}:
            report.violations.append(f"{name}: exchange on an unknown legal ground")
        if record.get("flagged_for_review") is not True:
            report.violations.append(f"{name}: legal-ground exchange not flagged for review")
        if record.get("consent_reference") != [f"legal-ground:{ground}"]:
            report.violations.append(f"{name}: legal-ground exchange with a wrong reference")
        justification = "" if opened is None else (opened.get("justification") or "")
        if opened is not None and len(justification.strip()) < _MIN_JUSTIFICATION:
            report.violations.append(f"{name}: legal ground without a written justification")
        report.flagged.append(position)
        return
    if record.get("basis") != "consent":
        report.violations.append(f"{name}: exchange without a basis")
        return
    decision = fold(
        events,
        sender=record["sender_organisation_id"],
        recipient=record["recipient_organisation_id"],
        purpose=Purpose(record["purpose"]),
        category=DataCategory(record["data_category"]),
        at=datetime.fromisoformat(record["created_at"]),
    )
    if not decision.allowed:
        report.violations.append(f"{name}: exchange not covered by consent at its time")
    elif list(decision.consent_reference) != record.get("consent_reference"):
        report.violations.append(
            f"{name}: exchange cites consent events other than those covering it"
        )


def _check_entries(entries: Sequence[dict[str, Any]], report: AuditReport) -> list[bytes]:
    leaves: list[bytes] = []
    events: dict[str, list[ConsentEvent]] = {}
    for position, entry in enumerate(entries):
        name = f"entry {position}"
        if entry.get("index") != position:
            report.violations.append(
                f"{name}: served with index {entry.get('index')} (gap or reordering)"
            )
        data = str(entry["data"]).encode("utf-8")
        computed = leaf_hash(data)
        leaves.append(computed)
        if base64.b64decode(entry["leaf_hash"]) != computed:
            report.violations.append(f"{name}: stored leaf hash does not match its record")
        try:
            record = json.loads(data)
            canonical = canonical_json(record)
        except ValueError:
            report.violations.append(f"{name}: record is not JSON")
            continue
        if canonical != data:
            report.violations.append(f"{name}: record is not canonical JSON")
        salt, personal = entry.get("salt"), entry.get("personal")
        opened: dict[str, Any] | None = None
        if salt is None and personal is None:
            report.erased += 1
        elif salt is None or personal is None:
            report.violations.append(f"{name}: commitment is half erased")
        else:
            digest = hashlib.sha256(base64.b64decode(salt) + personal.encode("utf-8")).hexdigest()
            if digest != record.get("commitment"):
                report.violations.append(f"{name}: commitment does not open to its personal fields")
            opened = json.loads(personal)
        try:
            if record.get("type") == "consent-event":
                events.setdefault(record["match_id"], []).append(_event(record))
            elif record.get("type") == "exchange":
                _check_exchange(
                    name, position, record, opened, events.get(record["match_id"], []), report
                )
            else:
                report.violations.append(f"{name}: unknown record type")
        except (KeyError, ValueError, TypeError) as exc:
            report.violations.append(f"{name}: malformed record ({type(exc).__name__})")
    return leaves


def verify_ledger(fetch: Fetch, *, verifier_key: str, state: Path | None) -> AuditReport:
    """Verify checkpoint, consistency with the stored state, entries, root and rules."""
    report = AuditReport()
    key = parse_verifier_key(verifier_key)
    try:
        checkpoint = verify_checkpoint(
            fetch("/v1/audit/checkpoint"), origin=key.name, name=key.name, public_key=key.public_key
        )
    except CryptoError as exc:
        report.violations.append(f"checkpoint: {exc}")
        return report
    report.size, report.root = checkpoint.size, checkpoint.root_hash
    known: list[bytes] = []
    if state is not None and state.exists():
        previous = json.loads(state.read_text(encoding="utf-8"))
        leaves_file = state.with_name(state.name + ".leaves")
        raw = leaves_file.read_bytes() if leaves_file.exists() else b""
        known = [raw[i : i + 32] for i in range(0, len(raw), 32)]
        old_size, old_root = int(previous["size"]), base64.b64decode(previous["root"])
        if checkpoint.size < old_size:
            report.violations.append(
                f"checkpoint: the log shrank from {old_size} to {checkpoint.size} entries"
            )
            return report
        proof = json.loads(
            fetch(f"/v1/audit/proofs/consistency?first={old_size}&second={checkpoint.size}")
        )["proof"]
        try:
            verify_consistency(
                first=old_size,
                second=checkpoint.size,
                first_root=old_root,
                second_root=checkpoint.root_hash,
                proof=[base64.b64decode(p) for p in proof],
            )
        except InvalidProof:
            report.violations.append(
                f"checkpoint: size {checkpoint.size} is not consistent with the stored checkpoint"
                f" of size {old_size} (the log was rewritten)"
            )
            return report
    entries: list[dict[str, Any]] = []
    while len(entries) < checkpoint.size:
        start = len(entries)
        end = min(checkpoint.size, start + _PAGE)
        page = json.loads(fetch(f"/v1/audit/entries?start={start}&end={end}"))["entries"]
        if not page:
            report.violations.append(f"entry {start}: missing from the served log")
            return report
        entries.extend(page)
    report.entries = len(entries)
    leaves = _check_entries(entries, report)
    if root_hash(leaves) != checkpoint.root_hash:
        changed = [i for i, h in enumerate(known) if i < len(leaves) and leaves[i] != h]
        report.violations.extend(f"entry {i}: changed since it was last verified" for i in changed)
        if not changed:
            report.violations.append(
                f"entries {len(known)}..{checkpoint.size - 1}: replayed records do not give the"
                " checkpoint's root hash (a record was changed after it was signed)"
            )
    if report.ok and state is not None:
        state.parent.mkdir(parents=True, exist_ok=True)
        state.with_name(state.name + ".leaves").write_bytes(b"".join(leaves))
        state.write_text(
            json.dumps(
                {
                    "origin": checkpoint.origin,
                    "size": checkpoint.size,
                    "root": base64.b64encode(checkpoint.root_hash).decode(),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return report


def http_fetch(client: httpx.Client) -> Fetch:
    def fetch(path: str) -> bytes:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path.split('?')[0]}: HTTP {response.status_code}")
        return response.content

    return fetch
