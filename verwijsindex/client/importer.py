"""Import registrations from CSV through the batch endpoint, as an organisation's system would.

Columns (header row required): ``bsn``, ``birth_date`` and optionally ``municipality``,
``professional_id``, ``term`` (an ISO 8601 duration such as ``P1Y``) and the parents' or
guardians' numbers ``parent1_bsn`` … ``parent4_bsn`` (empty cells are left out). Rows are
sent in batches of up to 1,000; a row that fails is reported by its line number and problem
type, never by its values.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

REQUIRED = ("bsn", "birth_date")
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


def import_csv(
    path: Path,
    *,
    client: httpx.Client,
    api_key: str,
    professional_id: str,
    batch_size: int = MAX_BATCH,
    progress: Callable[[int], Any] | None = None,
) -> ImportReport:
    """Send every row of ``path``; return counts and the failed lines."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ImportFailed(f"batch size must be 1 to {MAX_BATCH}")
    headers = {"Authorization": f"Bearer {api_key}", "X-Professional-Id": professional_id}
    report = ImportReport()

    def send(batch: list[tuple[int, dict[str, Any]]]) -> None:
        response = client.post(
            "/v1/registrations:batch",
            json={"items": [item for _, item in batch]},
            headers=headers,
        )
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

    with path.open(newline="", encoding="utf-8-sig") as handle:
        batch: list[tuple[int, dict[str, Any]]] = []
        for line, item in _rows(handle):
            batch.append((line, item))
            if len(batch) == batch_size:
                send(batch)
                batch = []
        if batch:
            send(batch)
    return report
