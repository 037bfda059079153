"""The organisation's commands start without the server: ``register`` and
``import-registrations`` (and the client modules they run) load neither the database layer nor
the app, and every command is still listed and found."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from verwijsindex.cli import _COMMANDS, main

_SERVER_MODULES = ("sqlalchemy", "fastapi", "verwijsindex.context", "verwijsindex.storage")


def _loaded_after(code: str) -> set[str]:
    """The server modules loaded in a fresh interpreter after running ``code``."""
    report = "print('LOADED:' + ','.join(m for m in MODULES if m in sys.modules))"
    probe = f"{code}\nimport sys\nMODULES = {_SERVER_MODULES!r}\n{report}"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("LOADED:")
    return {m for m in last.removeprefix("LOADED:").split(",") if m}


def test_the_organisation_commands_do_not_load_the_server() -> None:
    for command in ("register", "import-registrations", "exchange"):
        code = (
            "from verwijsindex.cli import main\n"
            f"main([{command!r}, '--help'], standalone_mode=False)\n"
            "import verwijsindex.client.importer, verwijsindex.client.blind"
        )
        assert _loaded_after(code) == set(), command


def test_a_server_command_loads_what_it_needs() -> None:
    code = "from verwijsindex.cli import main\nmain(['admin', '--help'], standalone_mode=False)"
    assert "verwijsindex.context" in _loaded_after(code)


def test_every_command_is_listed_and_found() -> None:
    listed = CliRunner().invoke(main, ["--help"])
    assert listed.exit_code == 0
    for name in _COMMANDS:
        assert f"  {name} " in listed.output
        assert CliRunner().invoke(main, [name, "--help"]).exit_code == 0, name
    unknown = CliRunner().invoke(main, ["no-such-command"])
    assert unknown.exit_code == 2 and "No such command" in unknown.output
