"""Pure cryptographic building blocks of the verwijsindex.

This package imports only the standard library and ``cryptography``. It knows nothing
about databases, HTTP or settings, so every recipe here can be tested with known-answer
vectors and reused by the independent verifier scripts.

Example::

    from crypto import parse_bsn, PseudonymKey

    bsn = parse_bsn("111222333")
    key = PseudonymKey.derive(master_key=b"\\x00" * 32, version=1)
    pseudonym = key.pseudonymise(bsn)   # "p1.<base64url HMAC>"
"""

from crypto._bsn import BSN, InvalidBSN, parse_bsn
from crypto._errors import CryptoError
from crypto._pseudonym import (
    PSEUDONYM_PURPOSE_ACCESS_LOG,
    PSEUDONYM_PURPOSE_MATCH,
    Pseudonym,
    PseudonymKey,
    derive_subkey,
    pseudonym_version,
)
from crypto._webhook_signature import (
    Ed25519WebhookKeyPair,
    InvalidWebhookMessage,
    InvalidWebhookSecret,
    InvalidWebhookSignature,
    generate_ed25519_signing_key,
    generate_webhook_secret,
    parse_ed25519_public_key,
    parse_ed25519_signing_key,
    parse_webhook_secret,
    sign_v1,
    sign_v1a,
    signature_header,
    verify_webhook,
    verify_webhook_ed25519,
)

__all__ = [
    "BSN",
    "PSEUDONYM_PURPOSE_ACCESS_LOG",
    "PSEUDONYM_PURPOSE_MATCH",
    "CryptoError",
    "Ed25519WebhookKeyPair",
    "InvalidBSN",
    "InvalidWebhookMessage",
    "InvalidWebhookSecret",
    "InvalidWebhookSignature",
    "Pseudonym",
    "PseudonymKey",
    "derive_subkey",
    "generate_ed25519_signing_key",
    "generate_webhook_secret",
    "parse_bsn",
    "parse_ed25519_public_key",
    "parse_ed25519_signing_key",
    "parse_webhook_secret",
    "pseudonym_version",
    "sign_v1",
    "sign_v1a",
    "signature_header",
    "verify_webhook",
    "verify_webhook_ed25519",
]
