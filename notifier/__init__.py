"""Match notifications: webhook endpoints, transactional outbox, delivery worker.

Standard Webhooks 1.0 signing and delivery. Imports ``crypto`` and SQLAlchemy, never
``verwijsindex`` or FastAPI.
"""

__all__: list[str] = []
