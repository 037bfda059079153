"""Control characters are refused at the edge, before routing, authentication or a database.

No identifier, filter, header or JSON string of this API has a use for a control character,
and some do harm: PostgreSQL refuses a NUL in text (the request failed with a 500 and its
access-log record could not be written), and a control character in a log or an export is a
way to forge lines. :class:`~verwijsindex.http.middleware.RequestContextMiddleware` answers 400
(``…/problems/control-character``) when

- the path or the query string (after percent-decoding) holds a character of Unicode category
  Cc: U+0000-U+001F, U+007F-U+009F;
- a header value holds a byte 0x00-0x1F other than a tab, or 0x7F (a real server's HTTP
  parser refuses these already; the check keeps it so under any server);
- a string or key of the JSON body holds a Cc character other than tab, line feed and carriage
  return (free text such as a justification may have lines), or an unpaired surrogate
  (``"\\ud800"``), which is not a character and cannot be stored as UTF-8.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import Scope

__all__ = ["control_character_in_json", "control_character_in_request"]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_HEADER_CONTROL = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")
_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def control_character_in_request(scope: Scope) -> str | None:
    """Where the request's path, query string or headers hold a control character (``"path"``,
    ``"query string"`` or ``"<name> header"``), or None."""
    if _CONTROL.search(scope.get("path", "")):
        return "path"
    query: bytes = scope.get("query_string", b"")
    # As Starlette reads it: latin-1 bytes, then percent-decoded as UTF-8.
    if query and _CONTROL.search(unquote_plus(query.decode("latin-1"), errors="replace")):
        return "query string"
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    # One search over all values (a tab is allowed, so it can join them); which header, only
    # when there is one.
    if _HEADER_CONTROL.search(b"\t".join([value for _, value in headers])):
        for name, value in headers:
            if _HEADER_CONTROL.search(value):
                return name.decode("latin-1") + " header"
    return None


def control_character_in_json(body: bytes, document: Any) -> bool:
    """Whether a string or key of ``document`` (parsed from ``body``) holds a refused
    character. Most bodies hold none of the bytes that could make one (a backslash starting
    an escape, a DEL, or 0xC2, the UTF-8 lead byte of U+0080-U+00BF; a raw C0 control is
    refused by the JSON parser), and are not walked."""
    if b"\\" not in body and b"\x7f" not in body and b"\xc2" not in body:
        return False
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if _TEXT_CONTROL.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
