"""``/docs`` loads nothing from another origin: every asset it references is served by the
service with the right content type, and its Content-Security-Policy names no other host."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from verwijsindex.http.middleware import SECURITY_HEADERS


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.inline = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for attribute in ("src", "href"):
            value = values.get(attribute)
            if value is not None:
                self.urls.append((tag, value))
        if tag == "script" and values.get("src") is None:
            self._in_script = True
        if tag == "style" or values.get("style"):
            self.inline += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline += 1


EXPECTED_TYPES = {
    "text/javascript; charset=utf-8",
    "text/css; charset=utf-8",
    "image/png",
}


async def test_docs_references_only_same_origin_assets_served_with_their_types(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    refs = _References()
    refs.feed(page.text)
    assert refs.inline == 0
    assert {tag for tag, _ in refs.urls} == {"link", "script"}
    assert len(refs.urls) == 4
    seen_types = set()
    for tag, url in refs.urls:
        assert url.startswith("/docs/assets/"), url  # same origin, no scheme or host
        asset = await client.get(url)
        assert asset.status_code == 200, url
        content_type = asset.headers["content-type"]
        seen_types.add(content_type)
        if tag == "script":
            assert content_type == "text/javascript; charset=utf-8"
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert len(asset.content) > 0
    assert seen_types == EXPECTED_TYPES
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert b"SwaggerUIBundle" in bundle.content and len(bundle.content) > 500_000
    init = await client.get("/docs/assets/init.js")
    assert b'"/openapi.json"' in init.content
    for name in ("../pyproject.toml", "missing.js", "index.html"):
        missing = await client.get(f"/docs/assets/{name}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_docs_csp_names_no_other_host_and_allows_no_inline_script(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    csp = page.headers["content-security-policy"]
    directives = dict(
        (parts[0], parts[1:]) for parts in (d.split() for d in csp.split(";") if d.strip())
    )
    sources = {s for values in directives.values() for s in values}
    assert sources <= {"'self'", "'none'", "data:"}, sources
    assert not re.search(r"https?:|\*|unsafe-", csp)
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    # Every other answer keeps the API's strict policy.
    for path in ("/docs/assets/init.js", "/openapi.json", "/redoc", "/docs/oauth2-redirect"):
        r = await client.get(path)
        assert (
            r.headers["content-security-policy"]
            == dict(SECURITY_HEADERS)[b"content-security-policy"].decode()
        )
    assert (await client.get("/redoc")).status_code == 404


async def test_openapi_schema_does_not_list_the_docs_page(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not any(p.startswith("/docs") for p in paths)
