"""Row ids: UUIDv7, in time order, and never repeated by a forked process."""

from __future__ import annotations

import os
import time
import uuid

from verwijsindex.storage.base import new_id


def _random_tail(identifier: str) -> str:
    """The last 48 bits of an id: random in a UUIDv7, never the time or a counter."""
    return identifier[-12:]


def test_ids_are_uuid7_and_sort_in_the_order_they_were_made() -> None:
    made = []
    for _ in range(5):
        made.append(new_id())
        time.sleep(0.002)
    assert all(uuid.UUID(i).version == 7 for i in made)
    assert made == sorted(made)
    # The leading 48 bits are the time in milliseconds.
    made_at_ms = int(uuid.UUID(made[0]).hex[:12], 16)
    assert abs(made_at_ms - time.time() * 1000) < 60_000
    assert len({_random_tail(i) for i in made}) == len(made)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id()  # the generator has its state before the fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write_end, ",".join(new_id() for _ in range(20)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    parent = [new_id() for _ in range(20)]
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode().split(",")
    os.waitpid(pid, 0)
    assert len(child) == 20
    assert not {_random_tail(i) for i in parent} & {_random_tail(i) for i in child}
