"""Consent events, the tamper-evident ledger and the exchange gate.

Imports ``crypto`` and SQLAlchemy, never ``verwijsindex`` or FastAPI.
"""

from consent._db import ConsentBase

__all__ = ["ConsentBase"]
