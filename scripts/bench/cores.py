"""The organisation's side on a core of its own: the service under test (its processes, every
thread, and on PostgreSQL the database server's processes) on the first CPU, the
organisation's command on the second, for as long as a measurement lasts.

On this two-core machine the blind path's organisation-side work (blinding, checking the key
service's proof, finalising: about two thirds of the path's CPU) otherwise competes with the
index and the key service for the same cores, which in a deployment it never does: it runs on
the organisation's own machines. Both paths are measured with the same split, so their
ratio compares what the index and the key service (the operator's side) can take."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

SERVICE_CPUS = frozenset({0})
ORGANISATION_CPUS = frozenset({1})


def available() -> bool:
    """Whether this machine has the two CPUs to split between the two sides."""
    cpus = os.sched_getaffinity(0)
    return SERVICE_CPUS <= cpus and ORGANISATION_CPUS <= cpus


def _tasks(pid: int) -> list[int]:
    try:
        return [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return []


def _database_server_pids() -> list[int]:
    """The local PostgreSQL server's processes (the postmaster first, so that backends it
    starts during the measurement inherit its CPUs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


def _pin(pids: Sequence[int], cpus: frozenset[int]) -> None:
    for pid in pids:
        for task in _tasks(pid):
            try:
                os.sched_setaffinity(task, cpus)
            except OSError:
                continue  # the task ended meanwhile


@contextmanager
def service_on_its_own_core(pids: Sequence[int], *, postgresql: bool) -> Iterator[None]:
    """Pin the service's processes (and the PostgreSQL server's) to :data:`SERVICE_CPUS`
    for the block; every CPU is given back afterwards, also to backends started meanwhile."""
    everything = frozenset(os.sched_getaffinity(0))
    service = [*pids, *(_database_server_pids() if postgresql else [])]
    try:
        _pin(service, SERVICE_CPUS)
        yield
    finally:
        _pin([*pids, *(_database_server_pids() if postgresql else [])], everything)


def organisation_core() -> None:
    """``preexec_fn`` of the organisation's command: run it on :data:`ORGANISATION_CPUS`."""
    os.sched_setaffinity(0, ORGANISATION_CPUS)
