"""Import registrations from CSV through the batch endpoint, as an organisation's system would.

Columns (header row required): ``bsn``, ``birth_date`` and optionally ``municipality``,
``professional_id``, ``term`` (an ISO 8601 duration such as ``P1Y``) and the parents' or
guardians' numbers ``parent1_bsn`` … ``parent4_bsn`` (empty cells are left out). Rows are
sent in batches of up to 1,000; a row that fails is reported by its line number and problem
type, never by its values.

With a key service (``keyservice=``) the import takes the blind path: each BSN's 11-test is
checked here (a failing row is reported as ``invalid-bsn`` and never sent), the BSNs are
blinded and evaluated by the key service, and the index receives subject tokens only
(docs/blind-pseudonyms.md).
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from verwijsindex.client.blind import InvalidYouth, Youth, blind_bodies, check
from verwijsindex.keyservice.client import KeyServiceClient

REQUIRED = ("bsn", "birth_date")
_TOKENISE_AHEAD = 2
"""Batches tokenised ahead of the one being sent on the blind path."""
OPTIONAL = ("municipality", "professional_id", "term")
PARENTS = tuple(f"parent{n}_bsn" for n in range(1, 5))
MAX_BATCH = 1000


class ImportFailed(Exception):
    """The import cannot go on (bad file, refused credentials, server error)."""


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    existing: int = 0
    failed: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)  # (line, problem type)


def _rows(handle: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(handle)
    columns = set(reader.fieldnames or ())
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ImportFailed(f"the CSV header lacks column(s): {', '.join(missing)}")
    unknown = columns - set(REQUIRED) - set(OPTIONAL) - set(PARENTS)
    if unknown:
        raise ImportFailed(f"unknown CSV column(s): {', '.join(sorted(unknown))}")
    for row in reader:
        item = {k: (row.get(k) or "").strip() for k in (*REQUIRED, *OPTIONAL)}
        out: dict[str, Any] = {k: v for k, v in item.items() if v or k in REQUIRED}
        parents = [(row.get(k) or "").strip() for k in PARENTS]
        if any(parents):
            out["parents"] = [{"bsn": p} for p in parents if p]
        yield reader.line_num, out


def _youth(item: dict[str, Any]) -> Youth:
    return Youth(
        bsn=item["bsn"],
        birth_date=item["birth_date"],
        municipality=item.get("municipality"),
        professional_id=item.get("professional_id"),
        parents=tuple(parent["bsn"] for parent in item.get("parents", ())),
        term=item.get("term"),
    )


def _checked(
    batch: list[tuple[int, dict[str, Any]]], report: ImportReport
) -> list[tuple[int, dict[str, Any]]]:
    """The rows whose BSN passes the 11-test; the others are failures, never sent."""
    kept = []
    for line, item in batch:
        try:
            check(_youth(item))
        except InvalidYouth:
            report.rows += 1
            report.failed += 1
            report.failures.append((line, InvalidYouth.code))
            continue
        kept.append((line, item))
    return kept


def _outdated(response: httpx.Response) -> bool:
    if response.status_code != 409:
        return False
    try:
        return str(response.json().get("type", "")).endswith("/subject-token-outdated")
    except ValueError:
        return False


def import_csv(
    path: Path,
    *,
    client: httpx.Client,
    api_key: str,
    professional_id: str,
    batch_size: int = MAX_BATCH,
    progress: Callable[[int], Any] | None = None,
    keyservice: KeyServiceClient | None = None,
) -> ImportReport:
    """Send every row of ``path``; return counts and the failed lines. With ``keyservice``
    the rows take the blind path."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ImportFailed(f"batch size must be 1 to {MAX_BATCH}")
    headers = {"Authorization": f"Bearer {api_key}", "X-Professional-Id": professional_id}
    report = ImportReport()

    def tokenised(batch: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        assert keyservice is not None
        return blind_bodies(keyservice, [_youth(item) for _, item in batch])

    def post(items: list[dict[str, Any]]) -> httpx.Response:
        return client.post("/v1/registrations:batch", json={"items": items}, headers=headers)

    def send(batch: list[tuple[int, dict[str, Any]]], items: Future[list[dict[str, Any]]]) -> None:
        response = post(items.result())
        if keyservice is not None and _outdated(response):
            keyservice.public_keys()  # the key service rotated: fetch its keys, try again
            response = post(tokenised(batch))
        if response.status_code != 200:
            try:
                problem = response.json().get("type", "")
            except ValueError:
                problem = ""
            raise ImportFailed(f"the server refused a batch: HTTP {response.status_code} {problem}")
        body = response.json()
        report.created += body["created"]
        report.existing += body["existing"]
        report.failed += body["failed"]
        for result in body["results"]:
            if result["status"] >= 400:
                line = batch[result["index"]][0]
                report.failures.append((line, result["problem"]["type"].rsplit("/", 1)[-1]))
        report.rows += len(batch)
        if progress is not None:
            progress(len(batch))

    # On the blind path the next batches are tokenised (blinded, evaluated by the key
    # service, finalised) while the index registers the one before: the key service and the
    # index are other processes, and libsodium releases the interpreter lock, so two batches
    # are prepared at once. Batches are still sent in file order.
    ahead = _TOKENISE_AHEAD if keyservice is not None else 0
    with (
        path.open(newline="", encoding="utf-8-sig") as handle,
        ThreadPoolExecutor(max_workers=max(ahead, 1)) as pool,
    ):
        waiting: deque[tuple[list[tuple[int, dict[str, Any]]], Future[list[dict[str, Any]]]]]
        waiting = deque()
        for batch in _batches(_rows(handle), batch_size):
            if keyservice is not None:
                batch = _checked(batch, report)
                if not batch:
                    continue
                items = pool.submit(tokenised, batch)
            else:
                items = Future()
                items.set_result([item for _, item in batch])
            waiting.append((batch, items))
            while len(waiting) > ahead:
                send(*waiting.popleft())
        while waiting:
            send(*waiting.popleft())
    return report


def _batches(
    rows: Iterator[tuple[int, dict[str, Any]]], size: int
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    batch: list[tuple[int, dict[str, Any]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
