"""Consent events, the tamper-evident ledger and the exchange gate.

Imports ``crypto`` and SQLAlchemy, never ``verwijsindex`` or FastAPI.
"""

__all__: list[str] = []
