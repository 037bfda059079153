"""Storage: the declarative base, engine set-up for SQLite and PostgreSQL, migrations."""

from verwijsindex.db.base import Base
from verwijsindex.db.engine import Database, create_database

__all__ = ["Base", "Database", "create_database"]
