"""``verwijsindex audit verify``: check the consent ledger as an auditor, over the HTTP API.

The same checks as the independent ``scripts/verify_ledger.py`` (and the same state-file
format and messages), but built on the service's own :mod:`crypto` and the consent rules of
:mod:`consent` (:func:`consent.event_from_record`, :func:`consent.exchange_problems`: the
fold, the age bands and the legal-ground rules the exchange gate applies), so the two
implementations cross-check each other.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from consent import (
    ConsentEvent,
    canonical_json,
    commitment,
    event_from_record,
    exchange_problems,
    record_differences,
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

__all__ = ["AuditReport", "check_entries", "verify_ledger"]

Fetch = Callable[[str], bytes]
_PAGE = 1000


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


def check_entries(
    entries: Sequence[dict[str, Any]], report: AuditReport, records: dict[int, dict[str, Any]]
) -> list[bytes]:
    """Check each served entry (leaf hash, canonical JSON, commitment) and replay the consent
    rules over the records in ledger order; return the recomputed leaf hashes and collect the
    records by their served index in ``records``."""
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
        if not isinstance(record, dict):
            report.violations.append(f"{name}: record is not a JSON object")
            continue
        index = entry.get("index")
        if isinstance(index, int):
            records.setdefault(index, record)
        salt, personal = entry.get("salt"), entry.get("personal")
        opened: object = None
        if salt is None and personal is None:
            report.erased += 1
        elif salt is None or personal is None:
            report.violations.append(f"{name}: commitment is half erased")
        else:
            opening = personal.encode("utf-8")
            if commitment(base64.b64decode(salt), opening) != record.get("commitment"):
                report.violations.append(f"{name}: commitment does not open to its personal fields")
            opened = json.loads(opening)
        kind = record.get("type")
        try:
            if kind == "consent-event":
                events.setdefault(record["match_id"], []).append(event_from_record(record))
            elif kind == "exchange":
                problems = exchange_problems(record, events.get(record["match_id"], []), opened)
                report.violations.extend(f"{name}: {problem}" for problem in problems)
                if record.get("basis") == "legal-ground":
                    report.flagged.append(position)
            else:
                report.violations.append(f"{name}: unknown record type")
        except (KeyError, ValueError, TypeError):
            report.violations.append(f"{name}: malformed {kind} record")
    return leaves


_TABLES = {"consent-event": "consent_events", "exchange": "exchanges"}
_ABSENT = object()


def _show(value: object) -> str:
    if value is _ABSENT:
        return "absent"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _table_rows(fetch: Fetch) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    start: int | None = 0
    size = 0
    while start is not None:
        page = json.loads(fetch(f"/v1/audit/table-records?start={start}"))
        rows.extend(page["records"])
        size = int(page["tree_size"])
        start = page["next_start"]
    return rows, size


def _compare_tables(
    records: dict[int, dict[str, Any]], rows: Sequence[dict[str, Any]], size: int, served: int
) -> list[tuple[int, str]]:
    """Rows that are not the entry they claim to be, entries without their row, and rows
    claiming entries past the end of the log, by entry index (as the standalone verifier)."""
    problems: list[tuple[int, str]] = []
    present: set[tuple[int, str]] = set()
    for row in rows:
        index, table, record = int(row["ledger_index"]), str(row["table"]), row["record"]
        row_id = _show(record.get("id"))
        if index >= size:
            if index >= served:
                problems.append(
                    (
                        index,
                        f"entry {index}: a {table} row (id {row_id}) claims an entry past the"
                        f" end of the log (tree size {served})",
                    )
                )
            continue
        entry = records.get(index)
        kind = None if entry is None else entry.get("type")
        if entry is None or _TABLES.get(str(kind)) != table:
            what = "no entry" if entry is None else f"an entry of type {kind}"
            problems.append(
                (
                    index,
                    f"entry {index}: a {table} row (id {row_id}) claims this entry, which"
                    f" records {what} (a forged or moved row)",
                )
            )
            continue
        present.add((index, table))
        differ = [
            f"{k}: table {_show(record.get(k, _ABSENT))}, ledger {_show(entry.get(k, _ABSENT))}"
            for k in record_differences(record, entry)
        ]
        if differ:
            problems.append(
                (
                    index,
                    f"entry {index}: the {table} row differs from the ledger ({'; '.join(differ)})",
                )
            )
    for index in sorted(records):
        wanted = _TABLES.get(str(records[index].get("type")))
        if index < size and wanted is not None and (index, wanted) not in present:
            problems.append(
                (index, f"entry {index}: the {records[index]['type']} has no row in {wanted}")
            )
    problems.sort(key=lambda p: p[0])
    return problems


def _shrank(now: int, checkpointed: int, which: str) -> str:
    return (
        f"checkpoint: the log shrank: tree size {now} is now smaller than the checkpointed"
        f" {checkpointed} ({which}; entries {now}..{checkpointed - 1} are gone)"
    )


def _root_mismatch(
    leaves: Sequence[bytes],
    known: Sequence[bytes],
    problems: Sequence[tuple[int, str]],
    size: int,
) -> list[str]:
    changed = [i for i, h in enumerate(known) if i < len(leaves) and leaves[i] != h]
    if changed:
        return [f"entry {i}: changed since it was last verified" for i in changed]
    suspects = [i for i, _ in problems if len(known) <= i < size]
    if suspects:
        return [
            f"entry {suspects[0]}: the first diverging entry: replayed records do not give the"
            " checkpoint's root hash and this is the first that differs from its table row"
            " (a record was changed after it was signed)"
        ]
    return [
        f"entries {len(known)}..{size - 1}: replayed records do not give the checkpoint's root"
        " hash (a record was changed after it was signed; it agrees with its table row, and no"
        " earlier run stored these entries' leaf hashes to name it: keep a --state file)"
    ]


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
    served = int(json.loads(fetch("/v1/audit/entries?start=0&end=0"))["tree_size"])
    if state is not None and state.exists():
        previous = json.loads(state.read_text(encoding="utf-8"))
        leaves_file = state.with_name(state.name + ".leaves")
        raw = leaves_file.read_bytes() if leaves_file.exists() else b""
        known = [raw[i : i + 32] for i in range(0, len(raw), 32)]
        old_size, old_root = int(previous["size"]), base64.b64decode(previous["root"])
        if min(served, checkpoint.size) < old_size:
            report.violations.append(
                _shrank(min(served, checkpoint.size), old_size, "stored by an earlier run")
            )
            return report
        if served < checkpoint.size:
            report.violations.append(_shrank(served, checkpoint.size, "the served checkpoint"))
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
    if served < checkpoint.size:
        report.violations.append(_shrank(served, checkpoint.size, "the served checkpoint"))
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
    records: dict[int, dict[str, Any]] = {}
    leaves = check_entries(entries, report, records)
    rows, served = _table_rows(fetch)
    problems = _compare_tables(records, rows, checkpoint.size, served)
    report.violations.extend(message for _, message in problems)
    if root_hash(leaves) != checkpoint.root_hash:
        report.violations.extend(_root_mismatch(leaves, known, problems, checkpoint.size))
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
