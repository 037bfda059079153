"""``audit``: verify the consent ledger as an auditor; its signing key as an operator."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from verwijsindex.errors import VerwijsindexError

if TYPE_CHECKING:
    pass


from verwijsindex.cli.common import _API_KEY, _URL, _settings


@click.group()
def audit() -> None:
    """Consent ledger: verify it as an auditor; manage its signing key as an operator."""


@audit.command("verify")
@_URL
@_API_KEY
@click.option("--public-key", "verifier_key", default=None, help="Pinned verifier key string")
@click.option(
    "--public-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File holding the pinned verifier key",
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("ledger-state.json"),
    show_default=True,
    help="Local state: the last verified checkpoint and leaf hashes",
)
def audit_verify(
    url: str, api_key: str, verifier_key: str | None, public_key_file: Path | None, state: Path
) -> None:
    """Verify the checkpoint signature, consistency with the last run, every entry, the
    root and the business rules. Exits 1 naming the entry on any violation."""
    import httpx

    from verwijsindex.client.ledger_audit import http_fetch, verify_ledger

    if (verifier_key is None) == (public_key_file is None):
        raise click.UsageError("give exactly one of --public-key and --public-key-file")
    vkey = verifier_key or public_key_file.read_text(encoding="utf-8").strip()  # type: ignore[union-attr]
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60) as client:
            report = verify_ledger(http_fetch(client), verifier_key=vkey, state=state)
    except (RuntimeError, httpx.HTTPError, ValueError) as exc:
        click.echo(f"VIOLATION: {exc}\nRESULT: FAILED (1)")
        sys.exit(1)
    click.echo(report.text())
    sys.exit(0 if report.ok else 1)


@audit.command("generate-signing-key")
def audit_generate_signing_key() -> None:
    """Write the Ed25519 checkpoint signing key (mode 0600) and print its verifier key."""
    from crypto import format_verifier_key
    from verwijsindex.keys import generate_ledger_key_file, load_ledger_signing_key

    settings = _settings()
    try:
        path = generate_ledger_key_file(
            settings.resolved_keys_dir, development=not settings.is_production
        )
    except FileExistsError:
        raise click.ClickException("a ledger signing key exists already") from None
    key = load_ledger_signing_key(settings)
    click.echo(f"wrote {path}")
    click.echo(
        format_verifier_key(name=settings.resolved_ledger_origin, public_key=key.public_key())
    )


@audit.command("public-key")
def audit_public_key() -> None:
    """Print the verifier key of the configured signing key (publish it to auditors)."""
    from crypto import format_verifier_key
    from verwijsindex.keys import load_ledger_signing_key

    settings = _settings()
    try:
        key = load_ledger_signing_key(settings)
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(
        format_verifier_key(name=settings.resolved_ledger_origin, public_key=key.public_key())
    )


# --- encrypted exchange (organisations' systems) ------------------------------------------
