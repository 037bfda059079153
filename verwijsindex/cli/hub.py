"""``verwijsindex hub``: the hub of federated regions (``hub serve``, ``hub add-region``)."""

from __future__ import annotations

import os

import click

from verwijsindex.cli.common import _print, _run
from verwijsindex.context import AppContext


@click.group()
def hub() -> None:
    """The hub that matches across regional indexes (docs/federation.md). Every command of
    this group runs with VERWIJSINDEX_ROLE=hub."""
    os.environ["VERWIJSINDEX_ROLE"] = "hub"


@hub.command("serve")
@click.pass_context
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="Port (default 8080)")
def hub_serve(click_ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the hub: the same service with VERWIJSINDEX_ROLE=hub."""
    from verwijsindex.cli.serve import serve

    click_ctx.invoke(serve, host=host, port=port)


@hub.command("add-region")
@click.option("--region", required=True, help="The region's id ([a-z0-9-], up to 32)")
@click.option("--callback-url", required=True, help="The region's base URL for reports")
def add_region(region: str, callback_url: str) -> None:
    """Register a region and print its key (whsec_…, shown once): the region sets it as
    VERWIJSINDEX_FEDERATION_REGION_KEY."""

    async def work(ctx: AppContext) -> str:
        assert ctx.hub is not None  # the group set the role
        return await ctx.hub.add_region(region, callback_url)

    key = _run(work)
    _print({"region": region, "key": key})
