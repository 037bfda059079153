"""A small client for organisations: send and read end-to-end encrypted exchanges.

It speaks the HTTP API with ``httpx`` and does the HPKE work with :mod:`crypto`, so an
organisation's system never has to write cryptographic code.

Example::

    import asyncio
    from verwijsindex.client.exchange import ExchangeClient

    async def main() -> None:
        async with ExchangeClient(base_url="https://vi.example", api_key=key,
                                  professional_id=pro_id, private_key=raw_x25519) as c:
            await c.register_key(admin_api_key=admin_key)     # once, with an org-admin key
            sent = await c.send(match_id, recipient_org, "care-coordination", "care", b"...")
            for item in await c.inbox():
                plaintext = await c.read(item["id"])           # decrypts and acknowledges

    asyncio.run(main())
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from crypto import HPKEError, exchange_info, hpke_open, hpke_seal, public_key_from_private

__all__ = ["ClientError", "ExchangeClient", "ReceivedExchange", "SentExchange"]


class ClientError(Exception):
    """The API answered with a problem. ``problem`` is the RFC 9457 body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('type', '')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem


@dataclass(frozen=True, kw_only=True)
class SentExchange:
    id: str
    ledger_index: int
    consent_reference: list[str]
    flagged_for_review: bool


@dataclass(frozen=True, kw_only=True)
class ReceivedExchange:
    id: str
    match_id: str
    sender_organisation_id: str
    purpose: str
    data_category: str
    legal_ground: str | None
    plaintext: bytes


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


class ExchangeClient:
    """Client of one organisation's system, acting for one professional."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        professional_id: str,
        private_key: bytes,
        previous_private_keys: Sequence[bytes] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        """``previous_private_keys`` open exchanges sealed to keys retired by rotation."""
        self._private_key = private_key
        self._previous_keys = tuple(previous_private_keys)
        self.public_key = public_key_from_private(private_key)
        self._api_key = api_key
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}", "X-Professional-Id": professional_id},
        )

    async def __aenter__(self) -> ExchangeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        response = await self._http.request(method, url, headers=headers, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:200]}
            raise ClientError(response.status_code, problem)
        return response.json()

    async def register_key(self, *, admin_api_key: str) -> dict[str, Any]:
        """Register (or rotate to) this client's public key; needs an org-admin key."""
        result: dict[str, Any] = await self._request(
            "PUT",
            "/v1/organisations/me/encryption-key",
            json={"public_key": _b64(self.public_key)},
            headers={"Authorization": f"Bearer {admin_api_key}", "X-Professional-Id": ""},
        )
        return result

    async def send(
        self,
        match_id: str,
        recipient_organisation_id: str,
        purpose: str,
        data_category: str,
        plaintext: bytes,
        *,
        legal_ground: tuple[str, str] | None = None,
    ) -> SentExchange:
        """Fetch the recipient's key and the consent reference, seal, and post.

        Without a legal ground the consent decision must allow the exchange; otherwise
        :class:`ClientError` with status 403 and the problem naming the missing party.
        """
        key = await self._request(
            "GET", f"/v1/organisations/{recipient_organisation_id}/encryption-key"
        )
        decision = await self._request(
            "GET",
            f"/v1/matches/{match_id}/consents/decision",
            params={
                "recipient_organisation_id": recipient_organisation_id,
                "purpose": purpose,
                "data_category": data_category,
            },
        )
        sender: str = decision["sender_organisation_id"]
        if legal_ground is not None:
            reference = [f"legal-ground:{legal_ground[0]}"]
        elif decision["allowed"]:
            reference = list(decision["consent_reference"])
        else:
            raise ClientError(
                403,
                {
                    "type": "https://verwijsindex.nl/problems/consent-required",
                    "detail": decision["explanation"],
                    "missing": decision["missing"],
                    "refused_by": decision["refused_by"],
                },
            )
        info = exchange_info(
            match_id=match_id,
            consent_reference=reference,
            sender_org=sender,
            recipient_org=recipient_organisation_id,
        )
        enc, ciphertext = hpke_seal(
            recipient_public_key=base64.b64decode(key["public_key"]),
            info=info,
            plaintext=plaintext,
        )
        body: dict[str, Any] = {
            "recipient_organisation_id": recipient_organisation_id,
            "purpose": purpose,
            "data_category": data_category,
            "enc": _b64(enc),
            "ciphertext": _b64(ciphertext),
            "consent_reference": reference,
            "recipient_key_id": key["key_id"],
        }
        if legal_ground is not None:
            body["legal_ground"] = {"code": legal_ground[0], "justification": legal_ground[1]}
        created = await self._request("POST", f"/v1/matches/{match_id}/exchanges", json=body)
        return SentExchange(
            id=created["id"],
            ledger_index=created["ledger_index"],
            consent_reference=created["consent_reference"],
            flagged_for_review=created["flagged_for_review"],
        )

    async def inbox(self, *, include_done: bool = False) -> list[dict[str, Any]]:
        result = await self._request(
            "GET", "/v1/exchanges", params={"include_done": str(include_done).lower()}
        )
        items: list[dict[str, Any]] = result["items"]
        return items

    async def read(self, exchange_id: str, *, acknowledge: bool = True) -> ReceivedExchange:
        """Fetch, decrypt with this client's private key and (by default) acknowledge."""
        e = await self._request("GET", f"/v1/exchanges/{exchange_id}")
        info = exchange_info(
            match_id=e["info"]["match_id"],
            consent_reference=e["info"]["consent_reference"],
            sender_org=e["info"]["sender_org"],
            recipient_org=e["info"]["recipient_org"],
        )
        enc, ciphertext = base64.b64decode(e["enc"]), base64.b64decode(e["ciphertext"])
        keys = (self._private_key, *self._previous_keys)
        for n, key in enumerate(keys):
            try:
                plaintext = hpke_open(private_key=key, enc=enc, info=info, ciphertext=ciphertext)
                break
            except HPKEError:
                if n == len(keys) - 1:
                    raise
        if acknowledge:
            await self._request("POST", f"/v1/exchanges/{exchange_id}/acknowledge")
        return ReceivedExchange(
            id=e["id"],
            match_id=e["match_id"],
            sender_organisation_id=e["sender_organisation_id"],
            purpose=e["purpose"],
            data_category=e["data_category"],
            legal_ground=e["legal_ground"],
            plaintext=plaintext,
        )
