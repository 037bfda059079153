"""One base class for every error this package raises."""


class NotifierError(Exception):
    """Base class of all errors raised by :mod:`notifier`."""
