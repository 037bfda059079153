"""``/docs`` in a real browser (Debian's Chromium, driven by Playwright, no browser download):
Swagger UI renders the schema, every request the page makes stays on the service's origin, and
the browser reports no Content-Security-Policy violation."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)  # the page does not depend on the database


def test_docs_render_from_the_service_alone(server: Server, tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "make test installs Debian's chromium"
    origin = urlsplit(server.base_url).netloc
    requested: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.goto(server.base_url + "/docs")
            title = page.locator(".swagger-ui .info .title")
            title.wait_for(timeout=20_000)
            assert "Verwijsindex" in title.inner_text()
            page.locator(".opblock-summary-path", has_text="/v1/registrations").first.wait_for()
            page.screenshot(path=str(tmp_path / "docs.png"))
        finally:
            browser.close()
    hosts = {urlsplit(url).netloc for url in requested if not url.startswith("data:")}
    assert hosts == {origin}, hosts
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in requested)
    assert any(url.endswith("/openapi.json") for url in requested)
    violations = [m for m in console if "Content Security Policy" in m or "Refused" in m]
    assert violations == []
