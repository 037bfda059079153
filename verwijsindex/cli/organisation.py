"""Tools an organisation runs against the index: ``import-registrations`` (CSV through the
batch endpoint) and ``exchange`` (end-to-end encrypted exchanges). They talk to the API over
HTTP only, through :mod:`verwijsindex.client`."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from verwijsindex.client.exchange import ExchangeClient as ExchangeClientT


from verwijsindex.cli.common import _API_KEY, _URL, T, _print


@click.command("import-registrations")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--url", default="http://127.0.0.1:8080", show_default=True, help="The API's base URL"
)
@click.option("--api-key", envvar="VERWIJSINDEX_API_KEY", required=True, help="A professional key")
@click.option("--professional-id", required=True, help="The professional registering")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 1000))
def import_registrations(
    csv_file: Path, url: str, api_key: str, professional_id: str, batch_size: int
) -> None:
    """Register every row of CSV_FILE (columns bsn, birth_date[, municipality,
    professional_id, term, parent1_bsn … parent4_bsn]) through the batch endpoint, with a
    progress bar. Failed rows are listed by line number and problem type, never by value."""
    import httpx

    from verwijsindex.client.importer import ImportFailed, import_csv

    with csv_file.open(encoding="utf-8-sig") as fh:
        total = max(sum(1 for _ in fh) - 1, 0)
    with (
        httpx.Client(base_url=url, timeout=120) as client,
        click.progressbar(length=total, label="registering", file=sys.stderr) as bar,
    ):
        try:
            report = import_csv(
                csv_file,
                client=client,
                api_key=api_key,
                professional_id=professional_id,
                batch_size=batch_size,
                progress=bar.update,
            )
        except (ImportFailed, httpx.HTTPError) as exc:
            raise click.ClickException(str(exc)) from None
    _print(
        {
            "rows": report.rows,
            "created": report.created,
            "existing": report.existing,
            "failed": report.failed,
            "failures": [{"line": line, "problem": code} for line, code in report.failures],
        }
    )
    if any(code == "rate-limited" for _line, code in report.failures):
        click.echo(
            "some rows were refused by the rate limits on registrations; for a bulk import an"
            " operator grants the organisation a quota: verwijsindex admin grant-bulk-import"
            " --organisation ID --items N",
            err=True,
        )
    if report.failed:
        sys.exit(1)


@click.group()
def exchange() -> None:
    """Send and read end-to-end encrypted exchanges without writing crypto code."""


_PROFESSIONAL = click.option(
    "--professional",
    envvar="VERWIJSINDEX_CLIENT_PROFESSIONAL",
    required=True,
    help="The acting professional's id (X-Professional-Id)",
)
_KEY_FILE = click.option(
    "--key-file",
    envvar="VERWIJSINDEX_CLIENT_KEY_FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The organisation's X25519 key file from 'exchange keygen'",
)


def _read_key_file(path: Path) -> bytes:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return base64.b64decode(document["private_key"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"key file {path.name} is unreadable or malformed") from exc


def _client(url: str, api_key: str, professional: str, key_file: Path) -> ExchangeClientT:
    from verwijsindex.client.exchange import ExchangeClient

    return ExchangeClient(
        base_url=url,
        api_key=api_key,
        professional_id=professional,
        private_key=_read_key_file(key_file),
    )


def _run_client(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from verwijsindex.client.exchange import ClientError

    try:
        return asyncio.run(work())
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None


@exchange.command("keygen")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def exchange_keygen(out: Path) -> None:
    """Write a new X25519 key pair (mode 0600) and print the public key (base64)."""

    from crypto import hpke_generate_keypair

    private, public = hpke_generate_keypair()
    document = {
        "kind": "verwijsindex-exchange-key",
        "private_key": base64.b64encode(private).decode(),
        "public_key": base64.b64encode(public).decode(),
    }
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{out} exists already") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(document, indent=2) + "\n")
    click.echo(document["public_key"])


@exchange.command("register-key")
@_URL
@click.option("--admin-api-key", envvar="VERWIJSINDEX_CLIENT_ADMIN_API_KEY", required=True)
@_KEY_FILE
def exchange_register_key(url: str, admin_api_key: str, key_file: Path) -> None:
    """Register (or rotate to) the key file's public key; needs an org-admin API key."""

    async def work() -> dict[str, Any]:
        async with _client(url, admin_api_key, "", key_file) as client:
            return await client.register_key(admin_api_key=admin_api_key)

    _print(_run_client(work))


@exchange.command("send")
@_URL
@_API_KEY
@_PROFESSIONAL
@_KEY_FILE
@click.option("--match", "match_id", required=True)
@click.option("--recipient", required=True, help="Recipient organisation id")
@click.option("--purpose", required=True, help="care-coordination, safety-assessment, …")
@click.option("--category", required=True, help="care, education, safety, health, justice")
@click.option("--legal-ground", default=None, help="meldrecht, court-measure or legal-duty")
@click.option("--justification-file", type=click.File("r", encoding="utf-8"), default=None)
@click.option("--in", "infile", type=click.File("rb"), default="-", help="Content (default stdin)")
def exchange_send(
    url: str,
    api_key: str,
    professional: str,
    key_file: Path,
    match_id: str,
    recipient: str,
    purpose: str,
    category: str,
    legal_ground: str | None,
    justification_file: Any,
    infile: Any,
) -> None:
    """Encrypt content to the recipient organisation and send it through the gate."""
    plaintext: bytes = infile.read()
    ground: tuple[str, str] | None = None
    if legal_ground is not None:
        if justification_file is None:
            raise click.UsageError("a legal ground needs --justification-file")
        ground = (legal_ground, justification_file.read())

    async def work() -> dict[str, Any]:
        async with _client(url, api_key, professional, key_file) as client:
            sent = await client.send(
                match_id, recipient, purpose, category, plaintext, legal_ground=ground
            )
        return {
            "id": sent.id,
            "ledger_index": sent.ledger_index,
            "consent_reference": sent.consent_reference,
            "flagged_for_review": sent.flagged_for_review,
        }

    _print(_run_client(work))


@exchange.command("inbox")
@_URL
@_API_KEY
@_PROFESSIONAL
@_KEY_FILE
def exchange_inbox(url: str, api_key: str, professional: str, key_file: Path) -> None:
    """List the exchanges waiting for this organisation."""

    async def work() -> list[dict[str, Any]]:
        async with _client(url, api_key, professional, key_file) as client:
            return await client.inbox()

    click.echo(json.dumps(_run_client(work), indent=2))


@exchange.command("read")
@_URL
@_API_KEY
@_PROFESSIONAL
@_KEY_FILE
@click.argument("exchange_id")
@click.option("--out", type=click.File("wb"), default="-", help="Where to write the content")
@click.option("--no-ack", is_flag=True, help="Do not acknowledge (the ciphertext is kept)")
def exchange_read(
    url: str,
    api_key: str,
    professional: str,
    key_file: Path,
    exchange_id: str,
    out: Any,
    no_ack: bool,
) -> None:
    """Fetch, decrypt and acknowledge one exchange (the service then deletes it)."""

    async def work() -> bytes:
        async with _client(url, api_key, professional, key_file) as client:
            received = await client.read(exchange_id, acknowledge=not no_ack)
        return received.plaintext

    out.write(_run_client(work))
