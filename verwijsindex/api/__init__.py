"""The HTTP API (FastAPI). Nothing outside this package imports FastAPI."""

from verwijsindex.api.app import create_app

__all__ = ["create_app"]
