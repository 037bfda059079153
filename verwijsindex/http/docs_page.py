"""``/docs``: Swagger UI served entirely by the service itself.

The page and every asset it loads come from this origin: Swagger UI's script, style sheet and
icon are the copies bundled in the ``fastapi-offline`` package, and the few lines that start
Swagger UI are a script of ours (``/docs/assets/init.js``) rather than an inline one. So the
page works in a closed network, no visit is announced to a third party, and its
Content-Security-Policy (:data:`DOCS_CSP`) names no other host and allows no inline script.
ReDoc is not offered.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response

from verwijsindex.errors import NotFound

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"

DOCS_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    b"frame-ancestors 'none'"
)
"""The page's policy: only this origin, no inline script or style, no framing."""

_INIT_JS = """\
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
});
"""


@dataclass(frozen=True)
class _Asset:
    resource: str | None
    media_type: str


_ASSETS = {
    "swagger-ui-bundle.js": _Asset("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": _Asset("swagger-ui.css", "text/css; charset=utf-8"),
    "favicon.png": _Asset("favicon.png", "image/png"),
    "init.js": _Asset(None, "text/javascript; charset=utf-8"),
}


@cache
def _asset_bytes(name: str) -> bytes:
    asset = _ASSETS[name]
    if asset.resource is None:
        return _INIT_JS.encode()
    return (files("fastapi_offline") / "static" / asset.resource).read_bytes()


def _page(title: str) -> str:
    t = html.escape(title)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{t} – API</title>
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon.png">
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/init.js"></script>
</body>
</html>
"""


def docs_router(title: str) -> APIRouter:
    """The page and its assets (left out of the OpenAPI schema)."""
    router = APIRouter(include_in_schema=False)
    page = _page(title)

    @router.get(DOCS_PATH)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get(ASSETS_PATH + "/{name}")
    async def asset(name: str = Path(max_length=64)) -> Response:
        if name not in _ASSETS:
            raise NotFound("no such asset")
        return Response(_asset_bytes(name), media_type=_ASSETS[name].media_type)

    return router
