"""The verwijsindex service: domain (registrations, matches, lifecycle), API app, CLI, settings.

Example::

    from verwijsindex.settings import Settings
    from verwijsindex.http.app import create_app

    app = create_app(Settings(database_url="sqlite+aiosqlite:///./var/verwijsindex.db"))
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
