"""The ``verwijsindex`` command line: one module per audience (``serve``, ``admin``, ``keys``,
``access_log``, ``notifier``, ``audit``, ``statistics``, ``keyservice``, ``hub``, and the
organisation-side tools in
``organisation``).

A command's module is imported when the command runs (or ``--help`` lists them): an
organisation's ``register`` or ``import-registrations`` does not load the server (its
database layer, app and services), which took over a second of every such command's start."""

from __future__ import annotations

import importlib

import click

# The command's name → its module and attribute, in the order ``--help`` lists them.
_COMMANDS = {
    "serve": "serve:serve",
    "sweep": "serve:sweep",
    "db": "serve:db",
    "demo": "serve:demo",
    "admin": "admin:admin",
    "keys": "keys:keys",
    "import-registrations": "organisation:import_registrations",
    "register": "organisation:register",
    "keyservice": "keyservice:keyservice",
    "access-log": "access_log:access_log",
    "notifier": "notifier:notifier",
    "audit": "audit:audit",
    "exchange": "organisation:exchange",
    "statistics": "statistics:statistics",
    "hub": "hub:hub",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(f"verwijsindex.cli.{module}"), attribute)
        assert isinstance(command, click.Command) and command.name == cmd_name
        return command


@click.group(cls=_LazyGroup)
@click.version_option(package_name="verwijsindex")
def main() -> None:
    """Verwijsindex: a privacy-preserving match index for at-risk youths."""
