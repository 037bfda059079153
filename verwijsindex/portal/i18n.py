"""The portal's languages: Dutch first, English second, through gettext catalogues.

The message ids in the templates and code are English; ``locale/nl/LC_MESSAGES/messages.po``
translates them to Dutch (``messages.pot`` is extracted with Babel, see docs/portal.md). The
catalogues are compiled in memory with Babel when the app starts, so no compiled ``.mo``
file can be out of step with its ``.po``. Each language has its own Jinja environment."""

from __future__ import annotations

import gettext
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).resolve().parent
LOCALES = HERE / "locale"
TEMPLATES = HERE / "templates"
LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
_AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def translations(language: str) -> gettext.NullTranslations:
    """The language's catalogue compiled from its ``.po`` (English: the message ids)."""
    po = LOCALES / language / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(_AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def local_date(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(_AMSTERDAM).strftime("%d-%m-%Y")


def environments() -> dict[str, Environment]:
    """One Jinja environment per language, autoescaping HTML."""
    out: dict[str, Environment] = {}
    for language in LANGUAGES:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
        env.filters["time"] = local_time
        env.filters["date"] = local_date
        env.globals["lang"] = language
        out[language] = env
    return out
