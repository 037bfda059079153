"""The blind path's group operations in process, per element of a batch of 1,000 (best of
three): what each party spends on one BSN.

    .venv/bin/python docs/benchmarks/2026-12-07-round5/group-ops.py
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from crypto import _oprf as oprf
from crypto import _ristretto as group

N = 1_000


def best(label: str, run: Callable[[], Any]) -> Any:
    fastest, result = float("inf"), None
    for _ in range(3):
        started = time.perf_counter()
        result = run()
        fastest = min(fastest, time.perf_counter() - started)
    print(f"{label:40} {fastest * 1e6 / N:7.1f} µs per element")
    return result


def main() -> None:
    key = oprf.OprfKey.derive(seed=secrets.token_bytes(32), info=b"bench")
    inputs = [str(100_000_000 + i).encode() for i in range(N)]
    suite = oprf._SUITES[oprf.OprfMode.VOPRF]
    blinded = best("organisation: blind", lambda: oprf.blind(inputs))
    best("  of which hash to group", lambda: [suite.hash_to_group(x) for x in inputs])
    elements = [b.element for b in blinded]
    evaluation = best("key service: evaluate and prove", lambda: key.blind_evaluate(elements))
    best(
        "organisation: verify and finalise",
        lambda: oprf.finalize(blinded, evaluation, public_key=key.public_key),
    )
    best("scalar multiplication", lambda: [group.multiply(12_345_678_901, e) for e in elements])
    best("addition of encoded elements", lambda: [group.add(e, e) for e in elements])


if __name__ == "__main__":
    main()
