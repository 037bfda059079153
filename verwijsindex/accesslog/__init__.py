"""The access log (NEN 7513 / Logius "Logboek Dataverwerkingen"): one hash-chained record per
data subject per operation, with W3C trace context, actor, organisation, role and a keyed
access-log pseudonym of the subject (never the index's match pseudonym).

Example::

    from verwijsindex.accesslog import Operation, Subject

    async with ctx.database.transaction() as session:
        registration = await ctx.index.withdraw(session, ...)
        await ctx.access_log.record(
            session, access, operation=Operation.REGISTRATION_WITHDRAW,
            subject=Subject.registration(registration.id),
        )

A new kind of operation adds a member to :class:`Operation` and maps it to a processing
activity in ``_activities.py``. See docs/access-log.md.
"""

from verwijsindex.accesslog._activities import (
    ACTIVITIES,
    Operation,
    ProcessingActivity,
    Status,
    activity_of,
)
from verwijsindex.accesslog._chain import GENESIS_HASH, canonical_record, record_hash
from verwijsindex.accesslog._logger import (
    AccessContext,
    AccessLogger,
    AccessLogTampered,
    Entry,
    SignedHead,
    Subject,
    VerificationReport,
)
from verwijsindex.accesslog._models import AccessLogHead, AccessLogRecord
from verwijsindex.accesslog._reads import record_read
from verwijsindex.accesslog._repository import query_records, records_about
from verwijsindex.accesslog._trace import TraceContext, start_span

__all__ = [
    "ACTIVITIES",
    "GENESIS_HASH",
    "AccessContext",
    "AccessLogHead",
    "AccessLogRecord",
    "AccessLogTampered",
    "AccessLogger",
    "Entry",
    "Operation",
    "ProcessingActivity",
    "SignedHead",
    "Status",
    "Subject",
    "TraceContext",
    "VerificationReport",
    "activity_of",
    "canonical_record",
    "query_records",
    "record_hash",
    "record_read",
    "records_about",
    "start_span",
]
