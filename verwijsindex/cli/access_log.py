"""``access-log``: verify the access log's chain, sign its head, print its public key."""

from __future__ import annotations

import base64
import sys
from typing import TYPE_CHECKING, Any

import click

from verwijsindex.context import AppContext

if TYPE_CHECKING:
    pass


from verwijsindex.cli.common import _print, _run, _settings


@click.group("access-log")
def access_log() -> None:
    """The access log: verify the hash chain, sign its head, show the head key."""


@access_log.command("verify")
def access_log_verify() -> None:
    """Recompute the hash chain and check every signed head; exit 1 on tampering."""
    from verwijsindex.accesslog import AccessLogTampered

    async def work(ctx: AppContext) -> dict[str, Any]:
        try:
            report = await ctx.access_log.verify_database(ctx.database)
        except AccessLogTampered as exc:
            return {"ok": False, "error": exc.detail, "seq": exc.seq}
        return {
            "ok": True,
            "records": report.records,
            "head_hash": report.head_hash,
            "signed_heads": report.signed_heads,
        }

    result = _run(work)
    _print(result)
    if not result["ok"]:
        sys.exit(1)


@access_log.command("sign-head")
def access_log_sign_head() -> None:
    """Sign the current head (record count and hash) with the access-log Ed25519 key."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            head = await ctx.access_log.sign_head(session)
        return {
            "count": head.count,
            "head_hash": head.head_hash,
            "signed_at": head.signed_at.isoformat(),
            "key_id": head.key_id,
            "signature": head.signature,
        }

    _print(_run(work))


@access_log.command("public-key")
def access_log_public_key() -> None:
    """Print the public keys (base64 raw Ed25519) that verify signed heads."""

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from verwijsindex.keys import KeyRing

    keys = KeyRing.load(_settings())
    _print(
        {
            "keys": [
                base64.b64encode(k.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
                for k in keys.access_log_public_keys()
            ]
        }
    )
