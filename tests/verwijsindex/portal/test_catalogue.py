"""The Dutch catalogue covers every message the portal shows, and the templates use it."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from verwijsindex.portal.i18n import HERE, environments, translations

METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _message_ids() -> set[str]:
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(HERE), METHOD_MAP, options_map=OPTIONS, keywords={"_": None, "N_": None}
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_message_has_its_dutch() -> None:
    po = HERE / "locale" / "nl" / "LC_MESSAGES" / "messages.po"
    with Path(po).open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string}
    ids = _message_ids()
    assert len(ids) > 150  # the templates and messages.py were read
    missing = sorted(ids - translated)
    assert not missing, f"message ids without Dutch (see docs/portal.md, Languages): {missing}"
    assert translations("nl").gettext("Sign in") == "Aanmelden"


def test_dutch_first_english_second() -> None:
    envs = environments()
    assert list(envs) == ["nl", "en"]
    sign_in = envs["nl"].get_template("error.html").render(kind="csrf", user=None, nav=[])
    assert '<html lang="nl">' in sign_in and "Dit formulier is verlopen" in sign_in
    english = envs["en"].get_template("error.html").render(kind="csrf", user=None, nav=[])
    assert '<html lang="en">' in english and "This form has expired" in english
