"""Pure cryptographic building blocks of the verwijsindex.

This package imports only the standard library, ``cryptography`` and, in ``_ristretto``
alone, ``pysodium`` for the ristretto255 group (docs/adr/0020). It knows nothing
about databases, HTTP or settings, so every recipe here can be tested with known-answer
vectors and reused by the independent verifier scripts.

Example::

    from crypto import parse_bsn, PseudonymKey

    bsn = parse_bsn("111222333")
    key = PseudonymKey.derive(master_key=b"\\x00" * 32, version=1)
    pseudonym = key.pseudonymise(bsn)   # "p1.<base64url HMAC>"

    private_key, public_key = hpke_generate_keypair()
    info = exchange_info(match_id="m1", consent_reference=["ev1"],
                         sender_org="org-a", recipient_org="org-b")
    enc, ciphertext = hpke_seal(recipient_public_key=public_key, info=info, plaintext=b"...")
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
from crypto._hpke import (
    EXCHANGE_INFO_LABEL,
    HPKEError,
    exchange_info,
    public_key_from_private,
)
from crypto._hpke import generate_keypair as hpke_generate_keypair
from crypto._hpke import open as hpke_open
from crypto._hpke import seal as hpke_seal
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
from crypto._oprf import (
    BlindedInput,
    Evaluation,
    InvalidOprfProof,
    OprfError,
    OprfKey,
    OprfMode,
    verify_proof,
)
from crypto._oprf import blind as oprf_blind
from crypto._oprf import finalize as oprf_finalize
from crypto._pseudonym import (
    PSEUDONYM_PURPOSE_ACCESS_LOG,
    PSEUDONYM_PURPOSE_ACCESS_LOG_SCOPED,
    PSEUDONYM_PURPOSE_BLIND,
    PSEUDONYM_PURPOSE_BLIND_PARENT,
    PSEUDONYM_PURPOSE_MATCH,
    PSEUDONYM_PURPOSE_PARENT,
    Pseudonym,
    PseudonymKey,
    derive_subkey,
    pseudonym_version,
)
from crypto._ristretto import InvalidElement
from crypto._subject_token import (
    InvalidSubjectToken,
    SubjectToken,
    format_subject_token,
    oprf_input,
    parse_subject_token,
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
    "EXCHANGE_INFO_LABEL",
    "HASH_SIZE",
    "PSEUDONYM_PURPOSE_ACCESS_LOG",
    "PSEUDONYM_PURPOSE_ACCESS_LOG_SCOPED",
    "PSEUDONYM_PURPOSE_BLIND",
    "PSEUDONYM_PURPOSE_BLIND_PARENT",
    "PSEUDONYM_PURPOSE_MATCH",
    "PSEUDONYM_PURPOSE_PARENT",
    "BlindedInput",
    "Checkpoint",
    "CryptoError",
    "Ed25519WebhookKeyPair",
    "Evaluation",
    "HPKEError",
    "InvalidBSN",
    "InvalidCheckpoint",
    "InvalidElement",
    "InvalidNoteKey",
    "InvalidNoteSignature",
    "InvalidOprfProof",
    "InvalidProof",
    "InvalidSubjectToken",
    "InvalidWebhookMessage",
    "InvalidWebhookSecret",
    "InvalidWebhookSignature",
    "LeafHashReader",
    "MalformedNote",
    "MerkleFrontier",
    "MerkleRangeError",
    "NoteVerifierKey",
    "OprfError",
    "OprfKey",
    "OprfMode",
    "Pseudonym",
    "PseudonymKey",
    "SubjectToken",
    "SubtreeHasher",
    "consistency_proof",
    "derive_subkey",
    "exchange_info",
    "format_checkpoint",
    "format_signer_key",
    "format_subject_token",
    "format_verifier_key",
    "generate_ed25519_signing_key",
    "generate_webhook_secret",
    "hpke_generate_keypair",
    "hpke_open",
    "hpke_seal",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "note_key_id",
    "oprf_blind",
    "oprf_finalize",
    "oprf_input",
    "parse_bsn",
    "parse_checkpoint",
    "parse_ed25519_public_key",
    "parse_ed25519_signing_key",
    "parse_signer_key",
    "parse_subject_token",
    "parse_verifier_key",
    "parse_webhook_secret",
    "pseudonym_version",
    "public_key_from_private",
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
    "verify_proof",
    "verify_webhook",
    "verify_webhook_ed25519",
]
