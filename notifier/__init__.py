"""Match notifications: webhook endpoints, transactional outbox, delivery worker.

Standard Webhooks 1.0 signing and delivery. Imports ``crypto`` and SQLAlchemy, never
``verwijsindex`` or FastAPI.

Example::

    from notifier import RetryPolicy, build_webhook_client, validate_webhook_url

    validate_webhook_url(url, allow_http=False, allow_private=False)   # at registration
    async with build_webhook_client(allow_http=False, allow_private=False) as client:
        response = await client.post(url, content=body, headers=headers)
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
from notifier._transport import (
    DEFAULT_TIMEOUT_SECONDS,
    WebhookTransport,
    build_webhook_client,
    classify_exception,
)

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "STANDARD_WEBHOOKS_SCHEDULE",
    "ErrorKind",
    "IPAddress",
    "NotifierError",
    "Outcome",
    "ParsedURL",
    "Resolver",
    "RetryPolicy",
    "UnsafeWebhookURL",
    "WebhookTransport",
    "build_webhook_client",
    "check_address",
    "classify_exception",
    "classify_response",
    "parse_retry_after",
    "resolve_and_check",
    "system_resolver",
    "unsafe_address_reason",
    "validate_webhook_url",
]
