"""The index's domain: organisations, professionals, API keys, registrations, matches."""

__all__: list[str] = []
