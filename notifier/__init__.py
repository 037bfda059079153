"""Match notifications: webhook endpoints, transactional outbox, delivery worker.

Standard Webhooks 1.0 signing and delivery. Imports ``crypto`` and SQLAlchemy, never
``verwijsindex`` or FastAPI.

Example::

    from notifier import validate_webhook_url

    validate_webhook_url(url, allow_http=False, allow_private=False)   # at registration
"""

from notifier._errors import NotifierError
from notifier._retry import (
    STANDARD_WEBHOOKS_SCHEDULE,
    ErrorKind,
    Outcome,
    RetryPolicy,
    classify_response,
    parse_retry_after,
)
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

__all__ = [
    "STANDARD_WEBHOOKS_SCHEDULE",
    "ErrorKind",
    "IPAddress",
    "NotifierError",
    "Outcome",
    "ParsedURL",
    "Resolver",
    "RetryPolicy",
    "UnsafeWebhookURL",
    "check_address",
    "classify_response",
    "parse_retry_after",
    "resolve_and_check",
    "system_resolver",
    "unsafe_address_reason",
    "validate_webhook_url",
]
