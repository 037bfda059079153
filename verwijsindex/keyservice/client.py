"""Calling the key service: blind BSNs, have them evaluated, verify the proof and finalise them
into subject tokens. Used by the organisation's side (the importer, ``register``) and by the
index's direct path; it knows nothing of either's storage.

Example::

    with KeyServiceClient("https://keys.example", api_key="vks_...") as keys:
        (tokens,) = keys.tokens([crypto.parse_bsn("111222333")])
        tokens.current      # "t1.…": send as subject_token
        tokens.earlier      # tokens under older key versions: earlier_subject_tokens

Every version the service offers is evaluated (one request each), so a youth stored under a
key that has since been rotated is moved over by the index. Each answer names the service's
current version; a client that sees a newer one than it knows fetches the keys again and
starts over, so no client goes on with a rotated-out key list. Public keys can be pinned
(``pinned={version: public_key}``); without pins the client trusts the keys the service
publishes at first use and keeps them for its lifetime.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

import crypto
from crypto import BSN, Evaluation, SubjectToken


class KeyServiceError(Exception):
    """The key service could not be used: unreachable, refused the call, or answered with a
    proof that does not verify. The message never holds a BSN or an element."""


class _KeyVersionGone(KeyServiceError):
    """The service no longer offers a version the client knows (it was retired)."""


class KeyServiceRateLimited(KeyServiceError):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class YouthTokens:
    """One youth's subject token under the current key and under every earlier one."""

    current: SubjectToken
    earlier: tuple[SubjectToken, ...] = ()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise KeyServiceError("the key service answered with a malformed body")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise KeyServiceError("the key service answered with a malformed body") from None


def parse_pins(text: str | None) -> dict[int, bytes]:
    """``"1:<base64url>,2:<base64url>"`` (the CLI's and settings' form) as a pin map."""
    pins: dict[int, bytes] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        version, sep, key = part.strip().partition(":")
        if not sep or not version.isdigit():
            raise KeyServiceError("a pinned key is <version>:<base64url public key>")
        pins[int(version)] = _unb64(key)
    return pins


class _Core:
    """What both clients share: headers, the key list, and turning answers into tokens."""

    def __init__(self, api_key: str, *, pinned: Mapping[int, bytes] | None, max_batch: int) -> None:
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._pinned = dict(pinned or {})
        self._keys: dict[int, bytes] | None = None
        self.max_batch = max_batch

    def _check(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code == 429:
            retry = response.headers.get("Retry-After", "1")
            raise KeyServiceRateLimited(
                "the key service's rate limit is reached",
                retry_after=int(retry) if retry.isdigit() else 1,
            )
        if response.status_code == 404 and what == "the evaluation":
            raise _KeyVersionGone("the key service no longer offers a key version")
        if response.status_code != 200:
            raise KeyServiceError(f"the key service refused {what}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise KeyServiceError("the key service answered with a malformed body") from None
        if not isinstance(body, dict):
            raise KeyServiceError("the key service answered with a malformed body")
        return body

    def _accept_keys(self, body: dict[str, Any]) -> dict[int, bytes]:
        if body.get("suite") != "ristretto255-SHA512" or body.get("mode") != "VOPRF":
            raise KeyServiceError("the key service offers another suite or mode")
        keys = {int(k["version"]): _unb64(k["public_key"]) for k in body.get("keys", [])}
        if not keys or int(body.get("current_version", 0)) != max(keys):
            raise KeyServiceError("the key service lists no current key")
        for version, pinned in self._pinned.items():
            if version in keys and keys[version] != pinned:
                raise KeyServiceError(f"key version {version} differs from the pinned key")
        if self._pinned and max(keys) not in self._pinned:
            raise KeyServiceError("the key service's current key is not pinned")
        if self._keys is not None:
            for version, known in self._keys.items():
                if version in keys and keys[version] != known:
                    raise KeyServiceError(f"key version {version} changed")
        self._keys = keys
        return keys

    @staticmethod
    def _request(blinded: Sequence[crypto.BlindedInput], version: int) -> dict[str, Any]:
        return {"key_version": version, "blinded_elements": [_b64(b.element) for b in blinded]}

    @staticmethod
    def _finish(
        body: dict[str, Any],
        blinded: Sequence[crypto.BlindedInput],
        version: int,
        public_key: bytes,
    ) -> list[SubjectToken]:
        if body.get("key_version") != version:
            raise KeyServiceError("the key service answered under another key version")
        elements = body.get("evaluated_elements")
        if not isinstance(elements, list) or len(elements) != len(blinded):
            raise KeyServiceError("the key service did not answer every element")
        evaluation = Evaluation(
            elements=tuple(_unb64(e) for e in elements), proof=_unb64(body.get("proof"))
        )
        try:
            outputs = crypto.oprf_finalize(blinded, evaluation, public_key=public_key)
        except crypto.OprfError as exc:
            raise KeyServiceError(
                "the key service's proof does not verify against its public key"
            ) from exc
        return [crypto.format_subject_token(version=version, output=o) for o in outputs]

    def _stale(self, body: dict[str, Any], keys: dict[int, bytes]) -> bool:
        current = body.get("current_version")
        return isinstance(current, int) and current > max(keys)

    @staticmethod
    def _assemble(per_version: list[list[SubjectToken]], count: int) -> list[YouthTokens]:
        return [
            YouthTokens(current=per_version[0][i], earlier=tuple(v[i] for v in per_version[1:]))
            for i in range(count)
        ]

    def _chunks(self, bsns: Sequence[BSN]) -> list[Sequence[BSN]]:
        return [bsns[i : i + self.max_batch] for i in range(0, len(bsns), self.max_batch)]

    def _exchanges(
        self, bsns: Sequence[BSN], keys: dict[int, bytes]
    ) -> Generator[dict[str, Any], dict[str, Any], list[YouthTokens] | None]:
        """The requests to send, one batch and key version at a time (each answer is sent
        back in); returns the tokens, or None when an answer shows a newer key version."""
        result: list[YouthTokens] = []
        for chunk in self._chunks(bsns):
            per_version = []
            for version in sorted(keys, reverse=True):
                blinded = _blinded(chunk)
                body = yield self._request(blinded, version)
                if self._stale(body, keys):
                    return None
                per_version.append(self._finish(body, blinded, version, keys[version]))
            result.extend(self._assemble(per_version, len(chunk)))
        return result


def _unreachable(exc: Exception) -> KeyServiceError:
    return KeyServiceError(f"the key service is unreachable ({type(exc).__name__})")


def _blinded(bsns: Sequence[BSN]) -> list[crypto.BlindedInput]:
    return crypto.oprf_blind([crypto.oprf_input(b) for b in bsns])


class KeyServiceClient(_Core):
    """The synchronous client (the organisation's command line and importer)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        pinned: Mapping[int, bytes] | None = None,
        http: httpx.Client | None = None,
        max_batch: int = 1000,
    ) -> None:
        super().__init__(api_key, pinned=pinned, max_batch=max_batch)
        self._http = http or httpx.Client(base_url=base_url, timeout=30)

    def __enter__(self) -> KeyServiceClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def public_keys(self) -> dict[int, bytes]:
        try:
            response = self._http.get("/v1/keys")
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc
        return self._accept_keys(self._check(response, "the key list"))

    def tokens(self, bsns: Sequence[BSN]) -> list[YouthTokens]:
        """Each (checked) BSN's tokens, in order."""
        if not bsns:
            return []
        for _attempt in range(3):
            keys = self._keys or self.public_keys()
            try:
                result = self._tokens(bsns, keys)
            except _KeyVersionGone:
                result = None
            if result is not None:
                return result
            self.public_keys()
        raise KeyServiceError("the key service's keys keep changing")

    def _tokens(self, bsns: Sequence[BSN], keys: dict[int, bytes]) -> list[YouthTokens] | None:
        exchanges = self._exchanges(bsns, keys)
        try:
            request = next(exchanges)
            while True:
                try:
                    response = self._http.post("/v1/evaluate", json=request, headers=self._headers)
                except httpx.HTTPError as exc:
                    raise _unreachable(exc) from exc
                request = exchanges.send(self._check(response, "the evaluation"))
        except StopIteration as done:
            result: list[YouthTokens] | None = done.value
            return result


class AsyncKeyServiceClient(_Core):
    """The asynchronous client (the index's direct path)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        pinned: Mapping[int, bytes] | None = None,
        http: httpx.AsyncClient | None = None,
        max_batch: int = 1000,
    ) -> None:
        super().__init__(api_key, pinned=pinned, max_batch=max_batch)
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=30)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def public_keys(self) -> dict[int, bytes]:
        try:
            response = await self._http.get("/v1/keys")
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc
        return self._accept_keys(self._check(response, "the key list"))

    async def tokens(self, bsns: Sequence[BSN]) -> list[YouthTokens]:
        """Each (checked) BSN's tokens, in order."""
        if not bsns:
            return []
        for _attempt in range(3):
            keys = self._keys or await self.public_keys()
            try:
                result = await self._tokens(bsns, keys)
            except _KeyVersionGone:
                result = None
            if result is not None:
                return result
            await self.public_keys()
        raise KeyServiceError("the key service's keys keep changing")

    async def _tokens(
        self, bsns: Sequence[BSN], keys: dict[int, bytes]
    ) -> list[YouthTokens] | None:
        exchanges = self._exchanges(bsns, keys)
        # Blinding and finalising take about 0.25 ms of group operations a BSN. For a batch
        # they run in a thread, so the event loop (every other request of the index) is not
        # held for as long; libsodium releases the interpreter lock meanwhile.
        offload = len(bsns) >= _THREAD_FROM
        answer: dict[str, Any] | None = None
        while True:
            step = (
                await asyncio.to_thread(_step, exchanges, answer)
                if offload
                else _step(exchanges, answer)
            )
            if isinstance(step, _Done):
                return step.tokens
            try:
                response = await self._http.post("/v1/evaluate", json=step, headers=self._headers)
            except httpx.HTTPError as exc:
                raise _unreachable(exc) from exc
            answer = self._check(response, "the evaluation")


_THREAD_FROM = 16
"""From this many BSNs the asynchronous client does its group operations in a thread (a
thread's hand-over costs about as much as the operations for one BSN)."""


@dataclass(frozen=True)
class _Done:
    tokens: list[YouthTokens] | None


def _step(
    exchanges: Generator[dict[str, Any], dict[str, Any], list[YouthTokens] | None],
    answer: dict[str, Any] | None,
) -> dict[str, Any] | _Done:
    """The next request of ``exchanges`` given the answer to the last (``None`` at first), or
    its result (a generator's end cannot cross a thread's future as ``StopIteration``)."""
    try:
        return next(exchanges) if answer is None else exchanges.send(answer)
    except StopIteration as done:
        return _Done(done.value)
