"""Storage: the declarative base, engine set-up for SQLite and PostgreSQL, migrations."""

from verwijsindex.storage.base import Base
from verwijsindex.storage.engine import Database, create_database

__all__ = ["Base", "Database", "create_database"]
