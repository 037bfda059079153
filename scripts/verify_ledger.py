#!/usr/bin/env python3
"""Independent verifier of the verwijsindex consent ledger.

Needs only the Python standard library and ``cryptography``; it shares no code with the
service (the small Merkle, signed-note and consent-rule functions below are written out
here on purpose, so an auditor can read everything that decides the verdict).

What it checks, in order:

1. the checkpoint (C2SP signed note) is signed by the **pinned** Ed25519 key;
2. it is consistent with the last checkpoint this verifier stored locally (RFC 6962
   consistency proof), so the log was only appended to since the previous run;
3. every entry: its leaf hash is SHA-256(0x00 || data) of its record, the record is
   canonical JSON, the commitment opens with the salt and personal fields (unless erased);
4. all leaf hashes replay to the checkpoint's root hash;
5. business rules: every exchange is covered by the consent events recorded before it
   (age bands, precedence, expiry, as in docs/consent.md) with the same consent reference,
   or by a legal ground from the fixed list that is flagged for review, with a written
   justification that meets the service's rule (100 to 4000 characters, three sentences,
   no run of nine digits); a record the service would not have written is named malformed;
6. the ``consent_events`` and ``exchanges`` tables (``/v1/audit/table-records``) say what
   the ledger says: every row matches the entry it claims to be, every consent-event and
   exchange entry has its row, and no row claims an entry the log does not hold.

A log that shrank (the served tree is smaller than a checkpoint) is named with both sizes.

Any violation is printed naming the entry, and the exit status is 1. On success the
checkpoint and the leaf hashes are stored in the state file for the next run.

Usage::

    python scripts/verify_ledger.py --url https://vi.example --api-key "$AUDITOR_KEY" \\
        --public-key 'verwijsindex.example/consent-ledger+1a2b3c4d+AV...' \\
        --state ./ledger-state.json
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Fetch = Callable[[str], bytes]
PAGE = 1000


class VerificationError(Exception):
    """The checkpoint or the log cannot be trusted at all (bad signature, fork, shrink)."""


# --- RFC 6962 Merkle tree ----------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH of the leaf hashes, with an O(log n) stack of perfect subtree roots."""
    stack: list[bytes] = []
    for i, h in enumerate(leaves):
        acc, size = h, i
        while size & 1:
            acc = node_hash(stack.pop(), acc)
            size >>= 1
        stack.append(acc)
    if not stack:
        return hashlib.sha256(b"").digest()
    acc = stack[-1]
    for h in reversed(stack[:-1]):
        acc = node_hash(h, acc)
    return acc


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and hmac.compare_digest(first_root, second_root)
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)


# --- C2SP signed note and checkpoint -----------------------------------------------------


@dataclass(frozen=True)
class PinnedKey:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def parse_verifier_key(vkey: str) -> PinnedKey:
    """``<name>+<hex key id>+<base64(0x01 || 32-byte Ed25519 public key)>``."""
    try:
        name, key_id_hex, body = vkey.strip().split("+", 2)
        raw = base64.b64decode(body, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise VerificationError("the pinned key is not a verifier key") from exc
    if len(raw) != 33 or raw[0] != 1:
        raise VerificationError("the pinned key is not an Ed25519 verifier key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_id_hex:
        raise VerificationError("the pinned key's id does not match its name and key")
    return PinnedKey(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str


def verify_checkpoint(note: str, key: PinnedKey) -> Checkpoint:
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise VerificationError("the checkpoint is not a signed note")
    text, block = note[: split + 1], note[split + 2 : -1]
    verified = False
    for line in block.split("\n"):
        if not line.startswith("\u2014 "):
            raise VerificationError("malformed signature line in the checkpoint")
        name, _, encoded = line[2:].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise VerificationError("malformed signature line in the checkpoint") from exc
        if name != key.name or raw[:4] != key.key_id:
            continue
        try:
            key.public_key.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature as exc:
            raise VerificationError("the checkpoint signature does not verify") from exc
        verified = True
    if not verified:
        raise VerificationError("the checkpoint is not signed by the pinned key")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[1].isdigit() or (lines[1] != "0" and lines[1][0] == "0"):
        raise VerificationError("the checkpoint body is malformed")
    if lines[0] != key.name:
        raise VerificationError("the checkpoint is for another log")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise VerificationError("the checkpoint root hash is not 32 bytes")
    return Checkpoint(lines[0], int(lines[1]), root, note)


# --- the consent rules (docs/consent.md) -------------------------------------------------
#
# The same rules as the service's package ``consent`` (fold, age bands, precedence, the
# legal-ground rules), written out with plain strings; tests/scripts/test_verify_ledger_rules.py
# feeds random records to both and demands the same verdicts.

KINDS = ("given", "refused", "withdrawn")
GRANTORS = ("youth", "parent", "guardian")
PURPOSES = ("care-coordination", "safety-assessment", "education-support")
CATEGORIES = ("care", "education", "safety", "health", "justice")
DIRECTIONS = ("outgoing", "incoming", "both")
BANDS = ("under-12", "12-15", "16-plus")
METHODS = ("oral", "written", "digital")
LEGAL_GROUNDS = ("meldrecht", "court-measure", "legal-duty")
MIN_JUSTIFICATION_CHARS = 100
MAX_JUSTIFICATION_CHARS = 4000
MIN_JUSTIFICATION_SENTENCES = 3
SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
NINE_DIGITS = re.compile(r"\d{9}")


def _aware(value: Any, name: str) -> datetime:
    """An ISO 8601 time with an offset (``TypeError``/``ValueError`` otherwise)."""
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() is None:
        raise ValueError(f"{name} has no offset")
    return moment


def _opt(value: Any, name: str) -> datetime | None:
    return None if value is None else _aware(value, name)


def _code(value: Any, codes: tuple[str, ...], name: str) -> str:
    if value not in codes:
        raise ValueError(f"unknown {name}")
    return str(value)


def _flows(e: dict[str, Any]) -> set[tuple[str, str]]:
    out = (e["organisation_id"], e["counterpart_organisation_id"])
    inc = (out[1], out[0])
    return {"outgoing": {out}, "incoming": {inc}, "both": {out, inc}}[e["direction"]]


def prepare(record: dict[str, Any]) -> dict[str, Any]:
    """A consent-event record with its scope and times parsed once (private ``_`` keys).

    Raises ``KeyError``, ``TypeError`` or ``ValueError`` for a record the service would not
    have written (a missing field, an unknown code, a time without offset, an empty id, a
    counterpart that is the recorder, a refusal with a validity period, an empty or inverted
    validity)."""
    recorded = _aware(record["recorded_at"], "recorded_at")
    for key in ("id", "organisation_id", "counterpart_organisation_id"):
        if not isinstance(record[key], str) or not record[key]:
            raise ValueError(f"{key} must be a non-empty string")
    if record["organisation_id"] == record["counterpart_organisation_id"]:
        raise ValueError("the counterpart must be another organisation")
    kind = _code(record["event"], KINDS, "event")
    _code(record["grantor"], GRANTORS, "grantor")
    _code(record["purpose"], PURPOSES, "purpose")
    categories = frozenset(_code(c, CATEGORIES, "category") for c in record["data_categories"])
    _code(record["direction"], DIRECTIONS, "direction")
    _code(record["age_band"], BANDS, "age band")
    _code(record["method"], METHODS, "method")
    if not categories:
        raise ValueError("no data categories")
    valid_from = _opt(record["valid_from"], "valid_from")
    valid_until = _opt(record["valid_until"], "valid_until")
    if kind != "given" and (valid_from is not None or valid_until is not None):
        raise ValueError("only a grant has a validity period")
    start = valid_from or recorded
    if valid_until is not None and valid_until <= start:
        raise ValueError("valid_until must be after the start of validity")
    return {
        **record,
        "_scope": frozenset((s, r, c) for s, r in _flows(record) for c in categories),
        "_recorded": recorded,
        "_from": start,
        "_until": valid_until,
    }


def _scope(e: dict[str, Any]) -> frozenset[tuple[str, str, str]]:
    scope: frozenset[tuple[str, str, str]] = e["_scope"]
    return scope


def _in_force(e: dict[str, Any], at: datetime) -> bool:
    until = e["_until"]
    return bool(e["_recorded"] <= at and e["_from"] <= at and (until is None or at < until))


def _role(
    events: list[dict[str, Any]], role: str, cell: tuple[str, str, str], purpose: str, at: datetime
) -> tuple[str, list[str]]:
    applicable = [
        e
        for e in events
        if e["grantor"] == role
        and e["purpose"] == purpose
        and _in_force(e, at)
        and cell in _scope(e)
    ]
    withdrawals = [e for e in applicable if e["event"] == "withdrawn"]
    remaining = [
        e
        for e in applicable
        if not (
            e["event"] == "given" and any(w["_recorded"] >= e["_recorded"] for w in withdrawals)
        )
    ]
    deciding = [e for e in remaining if not any(_scope(f) < _scope(e) for f in remaining)]
    if not deciding:
        return "none", []
    latest = max(e["_recorded"] for e in deciding)
    top = [e for e in deciding if e["_recorded"] == latest]
    if any(e["event"] != "given" for e in top):
        return "refused", []
    return "granted", sorted(e["id"] for e in top)


def fold(
    events: list[dict[str, Any]],
    sender: str,
    recipient: str,
    purpose: str,
    category: str,
    at: datetime,
) -> tuple[bool, list[str]]:
    """Whether the events (from :func:`prepare`) allow the exchange at ``at``, and the
    consent reference."""
    known = [e for e in events if e["_recorded"] <= at]
    if not known:
        return False, []
    latest = max(e["_recorded"] for e in known)
    order = {"under-12": 0, "12-15": 1, "16-plus": 2}
    band = min((e["age_band"] for e in known if e["_recorded"] == latest), key=order.__getitem__)
    cell = (sender, recipient, category)
    verdicts = {r: _role(events, r, cell, purpose, at) for r in ("youth", "parent", "guardian")}
    counted = {
        "under-12": ("parent", "guardian"),
        "12-15": ("youth", "parent", "guardian"),
        "16-plus": ("youth",),
    }[band]
    if any(verdicts[r][0] == "refused" for r in counted):
        return False, []
    if "youth" in counted and verdicts["youth"][0] == "none":
        return False, []
    if "parent" in counted and all(verdicts[r][0] == "none" for r in ("parent", "guardian")):
        return False, []
    return True, sorted(i for r in counted for i in verdicts[r][1])


def justification_problem(justification: Any) -> str | None:
    """What is wrong with the written justification of a legal ground, or ``None``: at least
    100 characters and three sentences of three or more words, at most 4000 characters, no
    run of nine digits (surrounding white space not counted)."""
    if not isinstance(justification, str):
        return "the justification must be text"
    text = justification.strip()
    if len(text) < MIN_JUSTIFICATION_CHARS:
        return f"the justification must be at least {MIN_JUSTIFICATION_CHARS} characters"
    if len(text) > MAX_JUSTIFICATION_CHARS:
        return f"the justification must be at most {MAX_JUSTIFICATION_CHARS} characters"
    sentences = [
        p for p in (part.strip() for part in SENTENCE_END.split(text)) if len(p.split()) >= 3
    ]
    if len(sentences) < MIN_JUSTIFICATION_SENTENCES:
        return f"the justification must have at least {MIN_JUSTIFICATION_SENTENCES} sentences"
    if NINE_DIGITS.search(text):
        return "the justification must not contain a BSN or other long number"
    return None


def exchange_problems(
    record: dict[str, Any], events: list[dict[str, Any]], personal: Any
) -> list[str]:
    """What is wrong with an exchange record, given the prepared consent events of its match
    recorded before it and its opened personal fields (``None`` once erased). Raises
    ``KeyError``, ``TypeError`` or ``ValueError`` for a malformed consent-based record."""
    if record.get("basis") == "legal-ground":
        ground = record.get("legal_ground")
        problems = []
        if ground not in LEGAL_GROUNDS:
            problems.append("exchange on an unknown legal ground")
        if record.get("flagged_for_review") is not True:
            problems.append("legal-ground exchange not flagged for review")
        if record.get("consent_reference") != [f"legal-ground:{ground}"]:
            problems.append("legal-ground exchange with a wrong reference")
        if personal is not None:
            problem = justification_problem(
                personal.get("justification") if isinstance(personal, dict) else None
            )
            if problem is not None:
                problems.append(f"legal ground without a valid written justification ({problem})")
        return problems
    if record.get("basis") != "consent":
        return ["exchange without a basis"]
    sender, recipient = record["sender_organisation_id"], record["recipient_organisation_id"]
    purpose = _code(record["purpose"], PURPOSES, "purpose")
    category = _code(record["data_category"], CATEGORIES, "category")
    at = _aware(record["created_at"], "created_at")
    if sender == recipient:
        raise ValueError("sender and recipient must be different organisations")
    allowed, reference = fold(events, sender, recipient, purpose, category, at)
    if not allowed:
        return ["exchange not covered by consent at its time"]
    if reference != record.get("consent_reference"):
        return ["exchange cites consent events other than those covering it"]
    return []


# --- the verification --------------------------------------------------------------------


def canonical(document: Any) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


@dataclass
class Report:
    checkpoint: Checkpoint | None = None
    entries: int = 0
    consent_events: int = 0
    exchanges: int = 0
    flagged: list[int] = field(default_factory=list)
    erased: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def text(self) -> str:
        lines = []
        if self.checkpoint is not None:
            lines.append(
                f"checkpoint: {self.checkpoint.origin} size {self.checkpoint.size} "
                f"root {base64.b64encode(self.checkpoint.root).decode()}"
            )
        lines.append(
            f"entries replayed: {self.entries} ({self.consent_events} consent events, "
            f"{self.exchanges} exchanges, {self.erased} with erased personal fields)"
        )
        lines.append(
            "exchanges on a legal ground, flagged for review: "
            + (", ".join(f"entry {i}" for i in self.flagged) or "none")
        )
        for v in self.violations:
            lines.append(f"VIOLATION: {v}")
        lines.append("RESULT: OK" if self.ok else f"RESULT: FAILED ({len(self.violations)})")
        return "\n".join(lines)


def _get_json(fetch: Fetch, path: str) -> Any:
    return json.loads(fetch(path))


def _load_state(state: Path | None) -> tuple[dict[str, Any] | None, list[bytes]]:
    if state is None or not state.exists():
        return None, []
    document = json.loads(state.read_text(encoding="utf-8"))
    leaves_path = state.with_name(state.name + ".leaves")
    raw = leaves_path.read_bytes() if leaves_path.exists() else b""
    return document, [raw[i : i + 32] for i in range(0, len(raw), 32)]


def _save_state(state: Path, checkpoint: Checkpoint, leaves: Sequence[bytes]) -> None:
    state.parent.mkdir(parents=True, exist_ok=True)
    state.with_name(state.name + ".leaves").write_bytes(b"".join(leaves))
    state.write_text(
        json.dumps(
            {
                "origin": checkpoint.origin,
                "size": checkpoint.size,
                "root": base64.b64encode(checkpoint.root).decode(),
                "note": checkpoint.note,
            },
            indent=2,
        ),
        encoding="utf-8",
    )


def check_entries(
    entries: Sequence[dict[str, Any]],
    report: Report,
    records: dict[int, dict[str, Any]] | None = None,
) -> list[bytes]:
    """Per-entry checks and business rules; return the leaf hashes recomputed from records
    (and collect the parsed records by their served index in ``records``)."""
    leaves: list[bytes] = []
    events: dict[str, list[dict[str, Any]]] = {}
    for position, entry in enumerate(entries):
        index = entry.get("index")
        name = f"entry {position}"
        if index != position:
            report.violations.append(f"{name}: served with index {index} (gap or reordering)")
        data = entry["data"].encode("utf-8")
        computed = leaf_hash(data)
        leaves.append(computed)
        if base64.b64decode(entry["leaf_hash"]) != computed:
            report.violations.append(f"{name}: stored leaf hash does not match its record")
        try:
            record = json.loads(data)
        except ValueError:
            report.violations.append(f"{name}: record is not JSON")
            continue
        if canonical(record) != data:
            report.violations.append(f"{name}: record is not canonical JSON")
        if not isinstance(record, dict):
            report.violations.append(f"{name}: record is not a JSON object")
            continue
        if records is not None and isinstance(index, int):
            records.setdefault(index, record)
        salt, personal = entry.get("salt"), entry.get("personal")
        opened: Any = None
        if salt is None and personal is None:
            report.erased += 1
        elif salt is None or personal is None:
            report.violations.append(f"{name}: commitment is half erased")
        else:
            digest = hashlib.sha256(base64.b64decode(salt) + personal.encode("utf-8")).hexdigest()
            if digest != record.get("commitment"):
                report.violations.append(f"{name}: commitment does not open to its personal fields")
            opened = json.loads(personal)
        kind = record.get("type")
        try:
            if kind == "consent-event":
                report.consent_events += 1
                events.setdefault(record["match_id"], []).append(prepare(record))
            elif kind == "exchange":
                report.exchanges += 1
                problems = exchange_problems(record, events.get(record["match_id"], []), opened)
                report.violations.extend(f"{name}: {problem}" for problem in problems)
                if record.get("basis") == "legal-ground":
                    report.flagged.append(position)
            else:
                report.violations.append(f"{name}: unknown record type")
        except (KeyError, ValueError, TypeError):
            report.violations.append(f"{name}: malformed {kind} record")
    return leaves


# --- the tables against the ledger -------------------------------------------------------

TABLES = {"consent-event": "consent_events", "exchange": "exchanges"}
TIMESTAMP_KEYS = frozenset({"recorded_at", "created_at", "valid_from", "valid_until"})
LEDGER_ONLY_KEYS = frozenset({"v", "commitment"})
_ABSENT = object()


def _same(key: str, a: object, b: object) -> bool:
    if key in TIMESTAMP_KEYS and isinstance(a, str) and isinstance(b, str):
        try:
            return datetime.fromisoformat(a) == datetime.fromisoformat(b)
        except ValueError:
            pass
    return a == b


def _show(value: object) -> str:
    if value is _ABSENT:
        return "absent"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fetch_table_records(fetch: Fetch) -> tuple[list[dict[str, Any]], int]:
    """All rows of ``/v1/audit/table-records`` and the stored ledger's size."""
    rows: list[dict[str, Any]] = []
    start: int | None = 0
    size = 0
    while start is not None:
        page = _get_json(fetch, f"/v1/audit/table-records?start={start}")
        rows.extend(page["records"])
        size = int(page["tree_size"])
        start = page["next_start"]
    return rows, size


def compare_tables(
    records: dict[int, dict[str, Any]], rows: Sequence[dict[str, Any]], size: int, served: int
) -> list[tuple[int, str]]:
    """Where the tables and the ledger's first ``size`` entries disagree, by entry index.
    ``served`` is the stored log's size: a row past it claims an entry that does not exist."""
    problems: list[tuple[int, str]] = []
    present: set[tuple[int, str]] = set()
    for row in rows:
        index, table, record = int(row["ledger_index"]), str(row["table"]), row["record"]
        if index >= size:
            if index >= served:
                problems.append(
                    (
                        index,
                        f"entry {index}: a {table} row (id {_show(record.get('id'))}) claims an"
                        f" entry past the end of the log (tree size {served})",
                    )
                )
            continue
        entry = records.get(index)
        kind = None if entry is None else entry.get("type")
        if entry is None or TABLES.get(str(kind)) != table:
            what = "no entry" if entry is None else f"an entry of type {kind}"
            problems.append(
                (
                    index,
                    f"entry {index}: a {table} row (id {_show(record.get('id'))}) claims this"
                    f" entry, which records {what} (a forged or moved row)",
                )
            )
            continue
        present.add((index, table))
        keys = sorted((set(record) | set(entry)) - LEDGER_ONLY_KEYS)
        differ = [
            f"{k}: table {_show(record.get(k, _ABSENT))}, ledger {_show(entry.get(k, _ABSENT))}"
            for k in keys
            if not _same(k, record.get(k, _ABSENT), entry.get(k, _ABSENT))
        ]
        if differ:
            problems.append(
                (
                    index,
                    f"entry {index}: the {table} row differs from the ledger ({'; '.join(differ)})",
                )
            )
    for index in sorted(records):
        table = TABLES.get(str(records[index].get("type")))
        if index < size and table is not None and (index, table) not in present:
            problems.append(
                (index, f"entry {index}: the {records[index]['type']} has no row in {table}")
            )
    problems.sort(key=lambda p: p[0])
    return problems


def served_size(fetch: Fetch) -> int:
    """The size of the log the service holds now (which may be below its checkpoint)."""
    return int(_get_json(fetch, "/v1/audit/entries?start=0&end=0")["tree_size"])


def shrink_message(now: int, checkpointed: int, which: str) -> str:
    return (
        f"checkpoint: the log shrank: tree size {now} is now smaller than the checkpointed"
        f" {checkpointed} ({which}; entries {now}..{checkpointed - 1} are gone)"
    )


def verify(fetch: Fetch, *, verifier_key: str, state: Path | None) -> Report:
    """Run every check against the API reached through ``fetch(path) -> body``."""
    report = Report()
    key = parse_verifier_key(verifier_key)
    try:
        checkpoint = verify_checkpoint(fetch("/v1/audit/checkpoint").decode("utf-8"), key)
    except VerificationError as exc:
        report.violations.append(f"checkpoint: {exc}")
        return report
    report.checkpoint = checkpoint
    previous, known_leaves = _load_state(state)
    served = served_size(fetch)
    if previous is not None:
        old_size, old_root = int(previous["size"]), base64.b64decode(previous["root"])
        if previous["origin"] != checkpoint.origin:
            report.violations.append("checkpoint: another log than the stored checkpoint")
            return report
        if min(served, checkpoint.size) < old_size:
            report.violations.append(
                shrink_message(min(served, checkpoint.size), old_size, "stored by an earlier run")
            )
            return report
    if served < checkpoint.size:
        report.violations.append(shrink_message(served, checkpoint.size, "the served checkpoint"))
        return report
    if previous is not None:
        proof = _get_json(
            fetch, f"/v1/audit/proofs/consistency?first={old_size}&second={checkpoint.size}"
        )["proof"]
        if not verify_consistency(
            old_size,
            checkpoint.size,
            old_root,
            checkpoint.root,
            [base64.b64decode(p) for p in proof],
        ):
            report.violations.append(
                f"checkpoint: size {checkpoint.size} is not consistent with the stored checkpoint"
                f" of size {old_size} (the log was rewritten)"
            )
            return report
    entries: list[dict[str, Any]] = []
    while len(entries) < checkpoint.size:
        start = len(entries)
        end = min(checkpoint.size, start + PAGE)
        page = _get_json(fetch, f"/v1/audit/entries?start={start}&end={end}")["entries"]
        if not page:
            report.violations.append(f"entry {start}: missing from the served log")
            return report
        entries.extend(page)
    report.entries = len(entries)
    records: dict[int, dict[str, Any]] = {}
    leaves = check_entries(entries, report, records)
    rows, served = fetch_table_records(fetch)
    problems = compare_tables(records, rows, checkpoint.size, served)
    report.violations.extend(message for _, message in problems)
    if root_hash(leaves) != checkpoint.root:
        report.violations.extend(root_mismatch(leaves, known_leaves, problems, checkpoint.size))
    if report.ok and state is not None:
        _save_state(state, checkpoint, leaves)
    return report


def root_mismatch(
    leaves: Sequence[bytes],
    known_leaves: Sequence[bytes],
    problems: Sequence[tuple[int, str]],
    size: int,
) -> list[str]:
    """Name the first diverging entry when the replayed records miss the signed root: from
    the leaf hashes of an earlier run, else the first entry that differs from its table row."""
    changed = [i for i, h in enumerate(known_leaves) if i < len(leaves) and leaves[i] != h]
    if changed:
        return [f"entry {i}: changed since it was last verified" for i in changed]
    first = len(known_leaves)
    suspects = [i for i, _ in problems if first <= i < size]
    if suspects:
        return [
            f"entry {suspects[0]}: the first diverging entry: replayed records do not give the"
            " checkpoint's root hash and this is the first that differs from its table row"
            " (a record was changed after it was signed)"
        ]
    return [
        f"entries {first}..{size - 1}: replayed records do not give the checkpoint's root hash"
        " (a record was changed after it was signed; it agrees with its table row, and no"
        " earlier run stored these entries' leaf hashes to name it: keep a --state file)"
    ]


def http_fetch(base_url: str, api_key: str, timeout: float = 30.0) -> Fetch:
    def fetch(path: str) -> bytes:
        request = urllib.request.Request(
            base_url.rstrip("/") + path, headers={"Authorization": f"Bearer {api_key}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            raise VerificationError(f"GET {path.split('?')[0]}: HTTP {exc.code}") from exc

    return fetch


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="base URL of the verwijsindex API")
    parser.add_argument("--api-key", required=True, help="an API key with role auditor")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--public-key", help="the pinned verifier key string")
    group.add_argument("--public-key-file", type=Path, help="file holding the verifier key")
    parser.add_argument(
        "--state", type=Path, default=Path("ledger-state.json"), help="local state file"
    )
    args = parser.parse_args(argv)
    vkey = args.public_key or args.public_key_file.read_text(encoding="utf-8").strip()
    try:
        report = verify(http_fetch(args.url, args.api_key), verifier_key=vkey, state=args.state)
    except VerificationError as exc:
        print(f"VIOLATION: {exc}\nRESULT: FAILED (1)")
        return 1
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
