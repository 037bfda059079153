"""Signed requests between a region and the hub: Standard Webhooks ``v1`` signatures with the
direction's key, sent through the webhook transport (SSRF checks, the checked address pinned,
no redirects). ``X-Federation-Region`` names the region on both directions."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from crypto import InvalidWebhookSignature, signature_header, verify_webhook
from notifier import build_webhook_client, validate_webhook_url
from verwijsindex.errors import ConfigurationError, Unauthenticated
from verwijsindex.settings import Settings
from verwijsindex.storage.base import new_id

REGION_HEADER = "x-federation-region"


def check_url(url: str, settings: Settings) -> None:
    """A configured hub or callback URL passes the checks a webhook URL passes."""
    from notifier import UnsafeWebhookURL

    try:
        validate_webhook_url(
            url,
            allow_http=bool(settings.allow_http_webhooks),
            allow_private=settings.allow_private_webhook_addresses,
            allow_loopback=bool(settings.allow_loopback_webhook_addresses),
        )
    except UnsafeWebhookURL as exc:
        raise ConfigurationError(f"the federation URL is refused: {exc}") from None


def client(settings: Settings) -> httpx.AsyncClient:
    return build_webhook_client(
        allow_http=bool(settings.allow_http_webhooks),
        allow_private=settings.allow_private_webhook_addresses,
        allow_loopback=bool(settings.allow_loopback_webhook_addresses),
        timeout=settings.federation_timeout_seconds,
    )


async def post_signed(
    http: httpx.AsyncClient, url: str, document: Mapping[str, Any], *, region: str, key: bytes
) -> httpx.Response:
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    msg_id = "fed_" + new_id()
    now = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header(
            msg_id=msg_id, timestamp=now, body=body, secrets=[key]
        ),
        REGION_HEADER: region,
    }
    return await http.post(url, content=body, headers=headers)


def verify_signed(headers: Mapping[str, str], body: bytes, *, key: bytes) -> None:
    try:
        verify_webhook(secret=key, headers=headers, body=body, now=time.time())
    except InvalidWebhookSignature as exc:
        raise Unauthenticated(f"the request's signature is not valid ({exc.reason})") from None
