"""consents."""
