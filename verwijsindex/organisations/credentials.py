"""A short-lived, in-process cache of authenticated API keys and professionals.

Authenticating a request reads the API key and the acting professional from the database;
at thousands of requests a second those two reads cost more than the registration itself.
The cache keeps what a lookup found for ``ttl`` seconds (``VERWIJSINDEX_AUTH_CACHE_SECONDS``,
default 2; 0 disables it):

- only keys that authenticated are cached (by their SHA-256 digest, never the key itself);
  an unknown or revoked key is looked up every time;
- a key's expiry is checked on every request against the service clock, cached or not;
- revoking a key through this process forgets it at once; a revocation by another process
  (the CLI, another API worker) takes effect within ``ttl`` seconds;
- the last use of a key is still recorded at most once a minute (per process);
- concurrent requests that miss the cache for the same key or professional share one
  lookup (:meth:`CredentialCache.once`): when an entry expires under load, the requests in
  flight with that key would otherwise each read it again at the same moment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from verwijsindex.organisations.service import Principal

_MAX_ENTRIES = 10_000
_E = TypeVar("_E", "CachedKey", "CachedProfessional")
_T = TypeVar("_T")


@dataclass
class CachedKey:
    principal: Principal
    fetched: float
    last_used_at: datetime | None
    """When this process last recorded the key's use (or the database's value)."""


@dataclass(frozen=True)
class CachedProfessional:
    id: str
    organisation_id: str
    active: bool
    fetched: float


class CredentialCache:
    def __init__(self, *, ttl: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._monotonic = monotonic
        self._keys: dict[str, CachedKey] = {}
        self._professionals: dict[str, CachedProfessional] = {}
        self._lookups: dict[tuple[str, str], asyncio.Future[Any]] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def _fresh(self, store: dict[str, _E], name: str) -> _E | None:
        entry = store.get(name)
        if entry is not None and self._monotonic() - entry.fetched >= self.ttl:
            del store[name]
            return None
        return entry

    def _store(self, store: dict[str, _E], name: str, entry: _E) -> _E:
        if self.enabled:
            if len(store) >= _MAX_ENTRIES:
                store.clear()
            store[name] = entry
        return entry

    async def once(self, kind: str, name: str, lookup: Callable[[], Awaitable[_T]]) -> _T:
        """``lookup()``, shared by the callers that ask for the same ``kind`` and ``name``
        while it runs (when the cache is enabled): they all get its result or its error. It
        runs in a task of its own, so a caller that is cancelled does not cancel the others'."""
        if not self.enabled:
            return await lookup()
        slot = (kind, name)
        running = self._lookups.get(slot)
        if running is None:
            task: asyncio.Future[Any] = asyncio.ensure_future(lookup())
            task.add_done_callback(lambda _: self._lookups.pop(slot, None))
            self._lookups[slot] = running = task
        return cast(_T, await asyncio.shield(running))

    def key(self, digest: str) -> CachedKey | None:
        return self._fresh(self._keys, digest)

    def remember_key(self, digest: str, principal: Principal) -> CachedKey:
        """Cache a key that authenticated (when the cache is enabled) and return the entry.
        Its expiry travels in ``principal.expires_at``."""
        return self._store(
            self._keys, digest, CachedKey(principal, self._monotonic(), principal.last_used_at)
        )

    def forget_key(self, api_key_id: str) -> None:
        """Forget a key (revoked) in this process at once."""
        for digest in [d for d, e in self._keys.items() if e.principal.api_key_id == api_key_id]:
            del self._keys[digest]

    def professional(self, professional_id: str) -> CachedProfessional | None:
        return self._fresh(self._professionals, professional_id)

    def remember_professional(
        self, professional_id: str, *, organisation_id: str, active: bool
    ) -> CachedProfessional:
        """Cache what a lookup found (when the cache is enabled) and return it."""
        entry = CachedProfessional(professional_id, organisation_id, active, self._monotonic())
        return self._store(self._professionals, professional_id, entry)

    def clear(self) -> None:
        self._keys.clear()
        self._professionals.clear()
