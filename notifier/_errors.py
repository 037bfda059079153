"""One base class for every error this package raises."""


class NotifierError(Exception):
    """Base class of all errors raised by :mod:`notifier`."""


class EndpointNotFound(NotifierError):
    """No such webhook endpoint for this organisation (another organisation's looks the same)."""


class MessageNotFound(NotifierError):
    """No such webhook message for this organisation."""


class AlertNotFound(NotifierError):
    """No such e-mail alert for this organisation."""
