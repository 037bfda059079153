"""Match notifications: webhook endpoints, transactional outbox, delivery worker, and the
professionals' e-mail alerts through the same outbox (:class:`AlertWorker`, SMTP).

Standard Webhooks 1.0 signing and delivery. Imports ``crypto`` and SQLAlchemy, never
``verwijsindex`` or FastAPI.

Example::

    from notifier import EventType, enqueue

    await enqueue(session, event_type=EventType.MATCH_CREATED, organisation_id=org_id,
                  data={"match_id": m, "registration_id": r}, occurred_at=now, match_id=m)

    validate_webhook_url(url, allow_http=False, allow_private=False)   # at registration
    worker = DeliveryWorker(transaction=db.transaction, box=box,
                            config=WorkerConfig(allow_http=False, allow_private=False))
    await worker.run()                                                 # until cancelled
"""

from notifier._alerts import (
    ALERTS,
    QUIET_EVENT_TYPES,
    AlertAttempt,
    AlertLog,
    AlertMessage,
    AlertStatus,
    AlertTopic,
    alert_topic,
)
from notifier._db import NotifierBase
from notifier._endpoints import CreatedEndpoint, EndpointService
from notifier._errors import AlertNotFound, EndpointNotFound, MessageNotFound, NotifierError
from notifier._mail import (
    AddressBook,
    AlertWorker,
    MailConfig,
    MailSecurity,
    Recipient,
    alert_texts,
    classify_smtp_error,
    render_alert,
)
from notifier._models import DeliveryAttempt, MessageStatus, WebhookEndpoint, WebhookMessage
from notifier._outbox import (
    DELIVERABLE,
    Event,
    EventType,
    OutboxEvent,
    enqueue,
    enqueue_many,
    mark_deliverable,
    new_event_id,
    outbox_row,
)
from notifier._retry import (
    STANDARD_WEBHOOKS_SCHEDULE,
    ErrorKind,
    Outcome,
    RetryPolicy,
    classify_response,
    parse_retry_after,
)
from notifier._sealing import SealedSecretError, SecretBox
from notifier._ssrf import (
    IPAddress,
    ParsedURL,
    Resolver,
    UnsafeWebhookURL,
    check_address,
    resolve_and_check,
    system_resolver,
    unsafe_address_reason,
    validate_webhook_url,
)
from notifier._transport import (
    DEFAULT_TIMEOUT_SECONDS,
    WebhookTransport,
    build_webhook_client,
    classify_exception,
)
from notifier._worker import DeliveryWorker, WorkerConfig

__all__ = [
    "ALERTS",
    "DEFAULT_TIMEOUT_SECONDS",
    "DELIVERABLE",
    "QUIET_EVENT_TYPES",
    "STANDARD_WEBHOOKS_SCHEDULE",
    "AddressBook",
    "AlertAttempt",
    "AlertLog",
    "AlertMessage",
    "AlertNotFound",
    "AlertStatus",
    "AlertTopic",
    "AlertWorker",
    "CreatedEndpoint",
    "DeliveryAttempt",
    "DeliveryWorker",
    "EndpointNotFound",
    "EndpointService",
    "ErrorKind",
    "Event",
    "EventType",
    "IPAddress",
    "MailConfig",
    "MailSecurity",
    "MessageNotFound",
    "MessageStatus",
    "NotifierBase",
    "NotifierError",
    "OutboxEvent",
    "Outcome",
    "ParsedURL",
    "Recipient",
    "Resolver",
    "RetryPolicy",
    "SealedSecretError",
    "SecretBox",
    "UnsafeWebhookURL",
    "WebhookEndpoint",
    "WebhookMessage",
    "WebhookTransport",
    "WorkerConfig",
    "alert_texts",
    "alert_topic",
    "build_webhook_client",
    "check_address",
    "classify_exception",
    "classify_response",
    "classify_smtp_error",
    "enqueue",
    "enqueue_many",
    "mark_deliverable",
    "new_event_id",
    "outbox_row",
    "parse_retry_after",
    "render_alert",
    "resolve_and_check",
    "system_resolver",
    "unsafe_address_reason",
    "validate_webhook_url",
]
