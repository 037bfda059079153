"""Match notifications: webhook endpoints, transactional outbox, delivery worker.

Standard Webhooks 1.0 signing and delivery. Imports ``crypto`` and SQLAlchemy, never
``verwijsindex`` or FastAPI.

Example::

    from notifier import validate_webhook_url

    validate_webhook_url(url, allow_http=False, allow_private=False)   # at registration
"""

from notifier._errors import NotifierError
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
    "IPAddress",
    "NotifierError",
    "ParsedURL",
    "Resolver",
    "UnsafeWebhookURL",
    "check_address",
    "resolve_and_check",
    "system_resolver",
    "unsafe_address_reason",
    "validate_webhook_url",
]
