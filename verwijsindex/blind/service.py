"""The index's side of the blind pseudonyms: obtaining a BSN's subject tokens from the key
service on the direct path, and admitting registrations by subject token on the blind path.

The blind path is open when (1) a key service is configured, so that the direct path stores
the very pseudonym the blind path does, and (2) no active registration is still under a
pseudonym of the BSN itself (``p<v>.``, written before the key service was configured), which
a subject token cannot find. Until then a subject token is refused (409
``blind-path-closed``) rather than risk a lost or a duplicate match; each registration on the
direct path moves the youth's ``p<v>.`` registrations over, as a key rotation does.
Once open it stays open for the life of the process: with a key service configured nothing
writes ``p<v>.`` pseudonyms any more (the direct path waits for the key service, 503, rather
than fall back).
"""

from __future__ import annotations

from collections.abc import Sequence

import crypto
from verwijsindex.errors import BlindPathClosed, KeyServiceUnavailable, SubjectTokenOutdated
from verwijsindex.keyservice.client import (
    AsyncKeyServiceClient,
    KeyServiceError,
    YouthTokens,
    parse_pins,
)
from verwijsindex.logging import get_logger
from verwijsindex.registrations import repository as repo
from verwijsindex.settings import Settings
from verwijsindex.storage import Database

log = get_logger(__name__)


class BlindPath:
    """The key-service client of the direct path and the gate of the blind path."""

    def __init__(
        self,
        *,
        database: Database,
        client: AsyncKeyServiceClient | None,
        accept_tokens: bool,
    ) -> None:
        self._database = database
        self._client = client
        self._accept_tokens = accept_tokens
        self._open = False
        self._versions: frozenset[int] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, database: Database) -> BlindPath:
        client = None
        if settings.keyservice_url is not None and settings.keyservice_api_key is not None:
            try:
                pins = parse_pins(settings.keyservice_public_keys)
            except KeyServiceError as exc:
                raise ValueError(str(exc)) from None
            client = AsyncKeyServiceClient(
                settings.keyservice_url,
                api_key=settings.keyservice_api_key.get_secret_value(),
                pinned=pins,
            )
        return cls(database=database, client=client, accept_tokens=settings.blind_path)

    @property
    def configured(self) -> bool:
        """Whether a key service is configured (the direct path then obtains tokens)."""
        return self._client is not None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def tokens_for(self, bsns: Sequence[crypto.BSN]) -> list[YouthTokens]:
        """The subject tokens of checked BSNs (the index blinds them itself: the key service
        sees neither BSN nor token). Raises :class:`KeyServiceUnavailable`."""
        if self._client is None:
            raise KeyServiceUnavailable("no key service is configured")
        try:
            tokens = await self._client.tokens(bsns)
        except KeyServiceError as exc:
            log.warning("keyservice_unavailable", reason=str(exc))
            raise KeyServiceUnavailable("the key service is unavailable; retry later") from None
        if tokens:
            self._versions = frozenset(
                crypto.parse_subject_token(t)[0] for t in (tokens[0].current, *tokens[0].earlier)
            )
        return tokens

    async def admit(self, token_versions: Sequence[Sequence[int]]) -> None:
        """Admit registrations by subject token (each item: the versions of its current and
        earlier tokens). Raises :class:`BlindPathClosed` or :class:`SubjectTokenOutdated`."""
        if not token_versions:
            return
        if not self._accept_tokens or self._client is None:
            raise BlindPathClosed(
                "this index does not accept subject tokens (no key service is configured)"
            )
        await self._ensure_open()
        known = await self._known_versions(max(max(v) for v in token_versions))
        if any(frozenset(v) != known for v in token_versions):
            # A version may have been retired since: ask the key service once more.
            known = await self._known_versions(None)
        for versions in token_versions:
            if frozenset(versions) != known:
                raise SubjectTokenOutdated(
                    "send a token under every key version the key service offers"
                    f" ({', '.join(str(v) for v in sorted(known, reverse=True))}); fetch its"
                    " keys again and retry"
                )

    async def _known_versions(self, newest_seen: int | None) -> frozenset[int]:
        """The key service's versions, fetched again when a token names a newer one than
        known, or always (``newest_seen`` None)."""
        assert self._client is not None
        if self._versions is None or newest_seen is None or newest_seen > max(self._versions):
            try:
                self._versions = frozenset(await self._client.public_keys())
            except KeyServiceError as exc:
                log.warning("keyservice_unavailable", reason=str(exc))
                raise KeyServiceUnavailable("the key service is unavailable; retry later") from None
        return self._versions

    async def _ensure_open(self) -> None:
        if self._open:
            return
        async with self._database.read() as session:
            waiting = await repo.any_active_direct_pseudonym(session)
        if waiting:
            raise BlindPathClosed(
                "active registrations are still under a pseudonym of the BSN, or name a"
                " parent under one (verwijsindex keys blind-status counts them); the blind"
                " path opens when they have been presented again on the direct path or have"
                " ended"
            )
        self._open = True

    async def direct_pseudonyms_remaining(self) -> int:
        """Active registrations the blind path cannot find yet."""
        async with self._database.read() as session:
            return await repo.active_direct_pseudonym_count(session)
