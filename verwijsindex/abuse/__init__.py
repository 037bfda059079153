"""Enumeration defence: registration rate limits and anomaly flags for auditors.

Example::

    await ctx.abuse.check_registration_rate(
        session, organisation_id=org_id, professional_id=pro_id
    )  # raises RateLimited
"""

from verwijsindex.abuse._models import AnomalyFlag, RateLimitCounter
from verwijsindex.abuse._service import (
    RULE_QUICK_WITHDRAWAL,
    RULE_VOLUME,
    AbuseGuard,
    RateLimited,
    list_flags,
)

__all__ = [
    "RULE_QUICK_WITHDRAWAL",
    "RULE_VOLUME",
    "AbuseGuard",
    "AnomalyFlag",
    "RateLimitCounter",
    "RateLimited",
    "list_flags",
]
