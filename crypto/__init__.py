"""Pure cryptographic building blocks of the verwijsindex.

This package imports only the standard library and ``cryptography``. It knows nothing
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
from crypto._pseudonym import (
    PSEUDONYM_PURPOSE_ACCESS_LOG,
    PSEUDONYM_PURPOSE_MATCH,
    Pseudonym,
    PseudonymKey,
    derive_subkey,
    pseudonym_version,
)

__all__ = [
    "BSN",
    "EXCHANGE_INFO_LABEL",
    "PSEUDONYM_PURPOSE_ACCESS_LOG",
    "PSEUDONYM_PURPOSE_MATCH",
    "CryptoError",
    "HPKEError",
    "InvalidBSN",
    "Pseudonym",
    "PseudonymKey",
    "derive_subkey",
    "exchange_info",
    "hpke_generate_keypair",
    "hpke_open",
    "hpke_seal",
    "parse_bsn",
    "pseudonym_version",
    "public_key_from_private",
]
