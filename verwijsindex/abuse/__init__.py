"""Enumeration defence: registration rate limits and anomaly flags for auditors.

Example::

    admissions = await ctx.abuse.admit_registrations(session, [(org_id, pro_id)])
    # admissions[0].refused is a RateLimited, or None; release() what then failed
    await ctx.abuse.settle(session, admissions)
"""

from verwijsindex.abuse._models import AnomalyFlag, RateLimitCounter
from verwijsindex.abuse._service import (
    RULE_QUICK_WITHDRAWAL,
    RULE_VOLUME,
    AbuseGuard,
    Admission,
    RateLimited,
    list_flags,
)

__all__ = [
    "RULE_QUICK_WITHDRAWAL",
    "RULE_VOLUME",
    "AbuseGuard",
    "Admission",
    "AnomalyFlag",
    "RateLimitCounter",
    "RateLimited",
    "list_flags",
]
