"""An in-process key service for tests: an organisation's client of it (with the index's own
client beside it), and configuring a running index with it as the settings would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from verwijsindex.blind.service import BlindPath
from verwijsindex.context import AppContext
from verwijsindex.keyservice import callers as caller_files
from verwijsindex.keyservice.client import AsyncKeyServiceClient
from verwijsindex.keyservice.routes import create_keyservice_app
from verwijsindex.keyservice.settings import KeyServiceSettings


@asynccontextmanager
async def in_process_key_service(data_dir: Path) -> AsyncIterator[AsyncKeyServiceClient]:
    """An organisation's client of an in-process key service (the index gets its own:
    ``client.index_client``)."""
    settings = KeyServiceSettings(data_dir=data_dir)
    app = create_keyservice_app(settings)
    key = caller_files.issue(settings, "organisation", rate_per_minute=None, replace=False)
    index_key = caller_files.issue(settings, "index", rate_per_minute=None, replace=False)
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://keys.test")
    index_http = httpx.AsyncClient(transport=transport, base_url="http://keys.test")
    client = AsyncKeyServiceClient("http://keys.test", api_key=key, http=http)
    client.index_client = AsyncKeyServiceClient(  # type: ignore[attr-defined]
        "http://keys.test", api_key=index_key, http=index_http
    )
    yield client
    await client.aclose()
    await client.index_client.aclose()  # type: ignore[attr-defined]


def attach_key_service(ctx: AppContext, client: AsyncKeyServiceClient | None) -> BlindPath:
    """Configure the running index with a key service (as the settings would)."""
    blind = BlindPath(database=ctx.database, client=client, accept_tokens=True)
    ctx.blind = blind
    ctx.registrations._blind = blind
    ctx.subject_rights._blind = blind
    ctx.parent_rights._blind = blind
    return blind
