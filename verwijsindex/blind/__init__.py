"""Blind pseudonyms on the index's side (docs/blind-pseudonyms.md, docs/adr/0020).

The seam for cross-region matching is :func:`federation_input`: for a registration being
processed it gives the youth's subject token (the OPRF output of the national key service),
from which a federated pseudonym is derived without the BSN.

Example::

    outcome = await registrations.register(access, request)
    token = federation_input(outcome)      # SubjectToken | None
    if token is not None:
        federated = hmac(hub_key, b"federation:" + token.encode())  # the federation's recipe
"""

from __future__ import annotations

from crypto import SubjectToken
from verwijsindex.registrations.index import RegisterResult

__all__ = ["federation_input"]


def federation_input(result: RegisterResult) -> SubjectToken | None:
    """The per-youth value from which a cross-region federated pseudonym is derived.

    It is the youth's subject token: ``t<v>.<OPRF output>`` under the key service's current
    key. On the blind path it is the token the organisation sent; on the direct path with a
    key service configured it is the same value, obtained by the index itself by blinding the
    BSN and having the key service evaluate it (the key service sees neither BSN nor token).
    So one youth has one value on both paths and in every region that uses the same key
    service. ``None`` when the registration came on the direct path to an index without a key
    service: such a youth cannot take part in federation.

    The value is as identifying as the BSN for whoever holds the key service's help: keep it
    in memory, derive from it with a key of the federation's own (HMAC/HKDF with a purpose of
    its own), and never store, log or send it.
    """
    return result.subject_token
