"""One base class for every error this package raises."""


class CryptoError(Exception):
    """Base class of all errors raised by :mod:`crypto`."""
