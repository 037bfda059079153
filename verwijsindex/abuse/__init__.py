"""Enumeration defence: registration rate limits and anomaly flags for auditors.

Example::

    admissions = await ctx.abuse.admit_registrations(session, [(org_id, pro_id)])
    # admissions[0].refused is a RateLimited, or None; release() what then failed
    await ctx.abuse.settle(session, admissions)

Batch items count against the same limits unless the organisation holds a bulk-import grant
(``grant_bulk_import``, an operator's decision); pass it per attempt as ``grants=``.
"""

from verwijsindex.abuse._models import AnomalyFlag, BulkImportGrant, RateLimitCounter
from verwijsindex.abuse._service import (
    RULE_QUICK_WITHDRAWAL,
    RULE_VOLUME,
    AbuseGuard,
    Admission,
    BulkGrant,
    RateLimited,
    list_flags,
)

__all__ = [
    "RULE_QUICK_WITHDRAWAL",
    "RULE_VOLUME",
    "AbuseGuard",
    "Admission",
    "AnomalyFlag",
    "BulkGrant",
    "BulkImportGrant",
    "RateLimitCounter",
    "RateLimited",
    "list_flags",
]
