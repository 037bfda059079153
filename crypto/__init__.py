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
from crypto._checkpoint import (
    Checkpoint,
    InvalidCheckpoint,
    format_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from crypto._errors import CryptoError
from crypto._merkle import (
    EMPTY_ROOT_HASH,
    HASH_SIZE,
    InvalidProof,
    LeafHashReader,
    MerkleFrontier,
    MerkleRangeError,
    SubtreeHasher,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from crypto._note import (
    InvalidNoteKey,
    InvalidNoteSignature,
    MalformedNote,
    NoteVerifierKey,
    format_signer_key,
    format_verifier_key,
    note_key_id,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    verify_note,
)
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
    "EMPTY_ROOT_HASH",
    "HASH_SIZE",
    "PSEUDONYM_PURPOSE_ACCESS_LOG",
    "PSEUDONYM_PURPOSE_MATCH",
    "Checkpoint",
    "CryptoError",
    "Ed25519WebhookKeyPair",
    "InvalidBSN",
    "InvalidCheckpoint",
    "InvalidNoteKey",
    "InvalidNoteSignature",
    "InvalidProof",
    "InvalidWebhookMessage",
    "InvalidWebhookSecret",
    "InvalidWebhookSignature",
    "LeafHashReader",
    "MalformedNote",
    "MerkleFrontier",
    "MerkleRangeError",
    "NoteVerifierKey",
    "Pseudonym",
    "PseudonymKey",
    "SubtreeHasher",
    "consistency_proof",
    "derive_subkey",
    "format_checkpoint",
    "format_signer_key",
    "format_verifier_key",
    "generate_ed25519_signing_key",
    "generate_webhook_secret",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "note_key_id",
    "parse_bsn",
    "parse_checkpoint",
    "parse_ed25519_public_key",
    "parse_ed25519_signing_key",
    "parse_signer_key",
    "parse_verifier_key",
    "parse_webhook_secret",
    "pseudonym_version",
    "root_hash",
    "sign_checkpoint",
    "sign_note",
    "sign_v1",
    "sign_v1a",
    "signature_header",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_note",
    "verify_webhook",
    "verify_webhook_ed25519",
]
