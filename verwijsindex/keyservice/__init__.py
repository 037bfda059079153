"""The key service: a separate process and deployment that holds the OPRF key of the blind
pseudonyms (RFC 9497 VOPRF, ristretto255-SHA512) and evaluates blinded elements for
authenticated callers (docs/blind-pseudonyms.md, docs/adr/0020).

Modules: ``settings`` (its own settings class), ``keys`` (versioned key files, rotation),
``callers`` (API keys issued for the key service, per-caller rate limits), ``service`` (the
evaluation, rate limits and the usage log), ``routes`` (its small FastAPI app), and
``client`` (what organisations and the index call it with; no server code).
"""
