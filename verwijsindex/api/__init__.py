"""The HTTP API (FastAPI). Nothing outside this package imports FastAPI."""

from verwijsindex.api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]
