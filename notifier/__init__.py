"""Match notifications: webhook endpoints, transactional outbox, delivery worker.

Standard Webhooks 1.0 signing and delivery. Imports ``crypto`` and SQLAlchemy, never
``verwijsindex`` or FastAPI.

Example::

    from notifier import EventType, enqueue

    await enqueue(session, event_type=EventType.MATCH_CREATED, organisation_id=org_id,
                  data={"match_id": m, "registration_id": r}, occurred_at=now, match_id=m)
"""

from notifier._db import NotifierBase
from notifier._outbox import EventType, OutboxEvent, enqueue

__all__ = ["EventType", "NotifierBase", "OutboxEvent", "enqueue"]
