"""What the key service does per request: authenticate the caller, apply its rate limit,
evaluate a batch under the asked (or current) key version with one VOPRF proof, and count.

The usage log holds counts per caller and key version, never an element, input or output:
each evaluation is one log line (caller, count, key version), and the running totals are
logged every ``usage_report_seconds`` and on shutdown.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crypto import Evaluation, InvalidElement, OprfError
from verwijsindex.abuse import RateLimited
from verwijsindex.errors import InvalidInput, NotFound
from verwijsindex.keyservice.callers import Caller, hash_key, read_callers
from verwijsindex.keyservice.keys import KeyServiceRing, load_ring
from verwijsindex.keyservice.settings import KeyServiceSettings
from verwijsindex.logging import get_logger

log = get_logger("verwijsindex.keyservice")


@dataclass
class _Bucket:
    """A token bucket: ``capacity`` evaluations, refilled at capacity per minute."""

    capacity: float
    tokens: float
    updated: float

    def take(self, count: int, now: float) -> float:
        """Take ``count`` tokens; 0 when granted, else the seconds until they would be."""
        rate = self.capacity / 60.0
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if count > self.capacity:
            return math.inf
        if self.tokens >= count:
            self.tokens -= count
            return 0.0
        return (count - self.tokens) / rate


@dataclass
class Usage:
    """Counts per caller (requests, evaluations per key version); never inputs."""

    requests: Counter[str] = field(default_factory=Counter)
    evaluations: Counter[tuple[str, int]] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)

    def of(self, caller_id: str) -> dict[str, object]:
        by_version = {
            str(version): count
            for (caller, version), count in sorted(self.evaluations.items())
            if caller == caller_id
        }
        return {
            "caller": caller_id,
            "requests": self.requests[caller_id],
            "evaluations": sum(by_version.values()),
            "evaluations_by_key_version": by_version,
            "rate_limited": self.refused[caller_id],
        }

    def report(self) -> None:
        callers = sorted(set(self.requests) | set(self.refused))
        for caller in callers:
            log.info("keyservice_usage", **self.of(caller))


class Unauthenticated(Exception):
    """No or an unknown API key (the routes answer 401)."""


class KeyService:
    """The key service's state: its keys, its callers, their buckets and the usage counts.
    Key and caller files are re-read when the data directory changes (a rotation or a new
    caller takes effect without a restart)."""

    def __init__(
        self, settings: KeyServiceSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._stamp: tuple[int, ...] = ()
        self._ring: KeyServiceRing = load_ring(settings)
        self._callers: dict[str, Caller] = {}
        self._buckets: dict[str, _Bucket] = {}
        self.usage = Usage()
        self._refresh()

    def _stamp_now(self) -> tuple[int, ...]:
        data_dir = self._settings.data_dir
        callers = data_dir / "callers.json"
        return (
            data_dir.stat().st_mtime_ns,
            callers.stat().st_mtime_ns if callers.exists() else 0,
        )

    def _refresh(self) -> None:
        stamp = self._stamp_now()
        if stamp == self._stamp:
            return
        self._ring = load_ring(self._settings)
        self._callers = {c.key_hash: c for c in read_callers(self._settings)}
        self._stamp = stamp

    @property
    def ring(self) -> KeyServiceRing:
        self._refresh()
        return self._ring

    def authenticate(self, api_key: str | None) -> Caller:
        self._refresh()
        if not api_key:
            raise Unauthenticated("a key-service API key is required")
        digest = hash_key(api_key)
        caller = self._callers.get(digest)
        if caller is None or not hmac.compare_digest(caller.key_hash, digest):
            raise Unauthenticated("unknown key-service API key")
        return caller

    def evaluate(
        self, caller: Caller, blinded: Sequence[bytes], *, version: int | None
    ) -> tuple[int, Evaluation]:
        """Evaluate a batch for ``caller`` under ``version`` (default current)."""
        count = len(blinded)
        if not 1 <= count <= self._settings.max_batch:
            raise InvalidInput(f"a batch holds 1 to {self._settings.max_batch} blinded elements")
        ring = self.ring
        key = ring.current if version is None else ring.get(version)
        if key is None:
            raise NotFound("no such key version (see GET /v1/keys)")
        self._admit(caller, count)
        try:
            evaluation = key.key.blind_evaluate(blinded)
        except (InvalidElement, OprfError):
            raise InvalidInput("a blinded element is not a valid ristretto255 element") from None
        self.usage.requests[caller.id] += 1
        self.usage.evaluations[(caller.id, key.version)] += count
        log.info("oprf_evaluated", caller=caller.id, count=count, key_version=key.version)
        return key.version, evaluation

    def _admit(self, caller: Caller, count: int) -> None:
        limit = caller.rate_per_minute or self._settings.default_rate_per_minute
        now = self._clock()
        bucket = self._buckets.get(caller.id)
        if bucket is None or bucket.capacity != limit:
            bucket = self._buckets[caller.id] = _Bucket(capacity=limit, tokens=limit, updated=now)
        wait = bucket.take(count, now)
        if wait:
            self.usage.refused[caller.id] += 1
            log.info("oprf_rate_limited", caller=caller.id, count=count)
            if math.isinf(wait):
                raise InvalidInput(f"a batch above the caller's rate limit ({limit} a minute)")
            raise RateLimited(
                "the caller's evaluation rate limit is reached", retry_after=math.ceil(wait)
            )
