"""OpenID Connect sign-in against the organisation's identity provider: the authorization
code flow with PKCE (RFC 7636, S256), a state and a nonce, through authlib's client; the ID
token's signature (the provider's JWKS), issuer, audience, expiry and nonce checked with
joserfc. The claim named by ``portal_oidc_claim`` is the portal account's user name."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from verwijsindex.errors import VerwijsindexError
from verwijsindex.settings import Settings

_METADATA_TTL = 300.0


class OidcFailed(VerwijsindexError):
    code = "oidc-failed"


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    pending: dict[str, str]
    """What the callback needs: state, nonce, PKCE verifier and redirect URI."""


class OidcClient:
    def __init__(self, settings: Settings) -> None:
        assert settings.portal_oidc_issuer and settings.portal_oidc_client_id
        assert settings.portal_oidc_client_secret is not None
        self.issuer = settings.portal_oidc_issuer.rstrip("/")
        self.client_id = settings.portal_oidc_client_id
        self._secret = settings.portal_oidc_client_secret.get_secret_value()
        self.scope = settings.portal_oidc_scope
        self.claim = settings.portal_oidc_claim
        self.redirect_uri = settings.portal_oidc_redirect_uri
        self.label = settings.portal_oidc_label
        self._metadata: tuple[float, dict[str, Any]] | None = None

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._secret,
            scope=self.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106
            timeout=10.0,
        )

    async def metadata(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._metadata is not None and now - self._metadata[0] < _METADATA_TTL:
            return self._metadata[1]
        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                answer = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                answer.raise_for_status()
                found: dict[str, Any] = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcFailed("the identity provider's configuration could not be read") from exc
        if found.get("issuer", "").rstrip("/") != self.issuer:
            raise OidcFailed("the identity provider names another issuer")
        self._metadata = (now, found)
        return found

    async def start(self, default_redirect_uri: str) -> Redirect:
        metadata = await self.metadata()
        redirect_uri = self.redirect_uri or default_redirect_uri
        verifier = generate_token(64)
        nonce = generate_token(32)
        async with self._client(redirect_uri) as client:
            url, state = client.create_authorization_url(
                metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
        pending = {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "redirect_uri": redirect_uri,
        }
        return Redirect(url=url, pending=pending)

    async def finish(self, pending: dict[str, str], *, state: str, code: str) -> str:
        """The account's user name from the provider's ID token for ``code``."""
        if not state or state != pending.get("state") or not code:
            raise OidcFailed("the sign-in's state does not match")
        metadata = await self.metadata()
        try:
            async with self._client(pending["redirect_uri"]) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending["verifier"],
                )
            async with httpx.AsyncClient(timeout=10.0) as http:
                answer = await http.get(metadata["jwks_uri"])
                answer.raise_for_status()
                keys = KeySet.import_key_set(answer.json())
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise OidcFailed("the identity provider did not give a token") from exc
        except Exception as exc:  # authlib's OAuthError and its kin
            raise OidcFailed("the identity provider refused the code") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcFailed("the identity provider gave no ID token")
        try:
            decoded = jwt.decode(id_token, keys)
            registry = jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": pending["nonce"]},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise OidcFailed("the ID token did not verify") from exc
        value = decoded.claims.get(self.claim)
        if value is None and metadata.get("userinfo_endpoint"):
            value = await self._from_userinfo(
                metadata["userinfo_endpoint"], token.get("access_token"), decoded.claims["sub"]
            )
        if not isinstance(value, str) or not value:
            raise OidcFailed("the ID token lacks the configured claim")
        return value

    async def _from_userinfo(self, endpoint: str, access_token: object, sub: object) -> object:
        """The claim from the UserInfo endpoint (providers that keep scope claims out of the
        ID token); its ``sub`` must be the ID token's (OpenID Connect Core 5.3.2)."""
        if not isinstance(access_token, str):
            return None
        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                answer = await http.get(
                    endpoint, headers={"Authorization": f"Bearer {access_token}"}
                )
                answer.raise_for_status()
                info = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcFailed("the identity provider's user info could not be read") from exc
        if not isinstance(info, dict) or info.get("sub") != sub:
            raise OidcFailed("the user info is of another subject")
        return info.get(self.claim)
