"""The ``verwijsindex`` command line: one module per audience (``serve``, ``admin``, ``keys``,
``access_log``, ``notifier``, ``audit``, ``statistics``, ``keyservice``, ``hub``, and the
organisation-side tools in
``organisation``)."""

from __future__ import annotations

import click

from verwijsindex.cli import (
    access_log,
    admin,
    audit,
    hub,
    keys,
    keyservice,
    notifier,
    organisation,
    serve,
    statistics,
)


@click.group()
@click.version_option(package_name="verwijsindex")
def main() -> None:
    """Verwijsindex: a privacy-preserving match index for at-risk youths."""


for _command in (
    serve.serve,
    serve.sweep,
    serve.db,
    serve.demo,
    admin.admin,
    keys.keys,
    organisation.import_registrations,
    organisation.register,
    keyservice.keyservice,
    access_log.access_log,
    notifier.notifier,
    audit.audit,
    organisation.exchange,
    statistics.statistics,
    hub.hub,
):
    main.add_command(_command)
