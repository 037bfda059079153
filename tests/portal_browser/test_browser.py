"""The portal in a real browser: Debian's Chromium driven by Playwright (the system browser
through its executable path; nothing downloaded), against a real ``verwijsindex serve``
seeded by ``verwijsindex demo`` and a real OpenID Connect provider (oidc-provider under
node). Every page is scanned with axe-core (no serious or critical violation); the HTML
after each submit, the browser's history, the database and the server's log are scanned for
the youth's BSN and birth date. Both databases.

Set ``VERWIJSINDEX_PORTAL_SCREENSHOTS=docs/portal`` to write the screenshots of
docs/portal.md (they go to the test's temporary directory otherwise)."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.at_rest import database_at_rest, needles
from tests.e2e.conftest import Server, free_port, start_server
from tests.portal_browser.oidc_provider import CLIENT_ID, CLIENT_SECRET, running_provider

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BSN = "111222333"
BIRTH = date(2012, 5, 1)
_AXE = Axe()


@dataclass
class DemoAccount:
    username: str
    password: str
    secret: str

    def code(self) -> str:
        totp = pyotp.TOTP(self.secret)
        # Not the last seconds of a step: the code must still hold when the form arrives.
        if 30 - time.time() % 30 < 3:
            time.sleep(3.5)
        return totp.now()


@dataclass
class Portal:
    server: Server
    accounts: dict[str, DemoAccount]
    database_url: str
    tmp_path: Path


def _demo_accounts(output: str) -> dict[str, DemoAccount]:
    found = re.findall(
        r"^  (\S+@\S+) \((?:professional|org-admin|municipality-admin)\)\n"
        r"\s+password : (\S+)\n\s+secret   : (\S+)",
        output,
        re.M,
    )
    assert len(found) == 4, output
    return {u: DemoAccount(u, p, s) for u, p, s in found}


@pytest.fixture
def browser(database_url: str) -> Iterator[Browser]:
    """Chromium, launched after the test's database exists: Playwright's synchronous API
    runs an event loop of its own, and the database fixtures are asynchronous."""
    if not Path(CHROMIUM).exists():
        pytest.fail("the browser tests need Debian's chromium: run `make test` (as root)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def portal(database_url: str, tmp_path: Path) -> Iterator[Portal]:
    port = free_port()
    callback = f"http://127.0.0.1:{port}/portal/oidc/callback"
    with running_provider([callback], tmp_path / "oidc.log") as provider:
        server = start_server(
            database_url,
            tmp_path,
            port=port,
            VERWIJSINDEX_PORTAL_OIDC_ISSUER=provider.issuer,
            VERWIJSINDEX_PORTAL_OIDC_CLIENT_ID=CLIENT_ID,
            VERWIJSINDEX_PORTAL_OIDC_CLIENT_SECRET=CLIENT_SECRET,
            VERWIJSINDEX_PORTAL_OIDC_LABEL="Test-IdP",
        )
        try:
            accounts = _demo_accounts(server.cli("demo").stdout)
            yield Portal(server, accounts, database_url, tmp_path)
        finally:
            server.stop()


class Shots:
    def __init__(self, tmp_path: Path) -> None:
        target = os.environ.get("VERWIJSINDEX_PORTAL_SCREENSHOTS")
        self.dir = Path(target) if target else tmp_path / "shots"
        self.dir.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.dir / f"{name}.png"), full_page=True)


def check_accessible(page: Page) -> None:
    """axe-core on the page as shown: no serious or critical violation (WCAG 2.1 AA)."""
    results = _AXE.run(
        page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}
    )
    bad = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"


def no_personal_data(page: Page) -> None:
    html = page.content()
    for needle in needles(BSN, BIRTH):
        assert needle.decode("utf-8", "ignore") not in html, page.url


def sign_in_locally(page: Page, base: str, account: DemoAccount) -> None:
    # The code first: its wait for a fresh step must not idle the sign-in form's session
    # (the idle test's timeout is three seconds).
    code = account.code()
    page.goto(base + "/portal/aanmelden")
    page.get_by_label("Gebruikersnaam (je e-mailadres)").fill(account.username)
    page.get_by_label("Wachtwoord").fill(account.password)
    page.get_by_label("Code uit je authenticator-app").fill(code)
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url(base + "/portal/registraties")


def sign_in_at_the_provider(page: Page, base: str, login: str) -> None:
    page.goto(base + "/portal/aanmelden")
    page.get_by_role("link", name="Aanmelden met Test-IdP").click()
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill("anything")
    page.locator('button[type="submit"]').click()
    page.locator('button[type="submit"]').click()  # the provider's consent page
    page.wait_for_url(base + "/portal/registraties")


def register(page: Page, base: str) -> None:
    page.goto(base + "/portal/registraties/nieuw")
    page.get_by_label("BSN van de jeugdige").fill(BSN)
    page.get_by_label("Geboortedatum van de jeugdige").fill(BIRTH.isoformat())
    page.get_by_role("button", name="Registreren").click()
    page.wait_for_url(re.compile(r".*/portal/registraties/[0-9a-f-]{36}$"))


def test_professionals_and_an_admin_in_the_browser(browser: Browser, portal: Portal) -> None:
    base = portal.server.base_url
    shots = Shots(portal.tmp_path)
    accounts = portal.accounts
    visited: list[str] = []
    console_errors: list[str] = []

    def on_console(page: Page, message: ConsoleMessage) -> None:
        expected = "the server responded with a status of 4" in message.text  # e.g. the forgery
        if message.type == "error" and page.url.startswith(base) and not expected:
            console_errors.append(f"{page.url}: {message.text}")

    def context() -> tuple[BrowserContext, Page]:
        ctx = browser.new_context(locale="nl-NL")
        page = ctx.new_page()
        page.on("framenavigated", lambda frame: visited.append(frame.url))
        page.on("console", lambda message: on_console(page, message))
        return ctx, page

    # --- professional A: local sign-in, the 11-test hint, registering a worry ---------------
    ctx_a, a = context()
    a.goto(base + "/portal/aanmelden")
    assert a.locator("html").get_attribute("lang") == "nl"
    check_accessible(a)
    shots.take(a, "aanmelden")
    sign_in_locally(a, base, accounts["jeugdwerker@jeugdteam.example"])
    check_accessible(a)
    a.goto(base + "/portal/registraties/nieuw")
    check_accessible(a)
    bsn = a.get_by_label("BSN van de jeugdige")
    assert bsn.get_attribute("autocomplete") == "off"
    bsn.fill("123456789")  # fails the 11-test
    a.get_by_label("Geboortedatum van de jeugdige").focus()
    assert a.locator("#bsn-check").is_visible()
    assert bsn.get_attribute("aria-invalid") == "true"
    check_accessible(a)
    shots.take(a, "zorg-registreren")
    bsn.fill(BSN)
    assert not a.locator("#bsn-check").is_visible()
    a.get_by_label("Geboortedatum van de jeugdige").fill(BIRTH.isoformat())
    a.get_by_role("button", name="Registreren").click()
    a.wait_for_url(re.compile(r".*/portal/registraties/[0-9a-f-]{36}$"))
    assert "actief" in a.locator("#status").inner_text()
    registration_url = a.url
    no_personal_data(a)
    check_accessible(a)
    # Back in history: the form page comes back empty (autocomplete off, nothing kept).
    a.go_back()
    assert a.get_by_label("BSN van de jeugdige").input_value() == ""
    no_personal_data(a)
    a.goto(registration_url)
    # Informing postponed: a coded reason and the day to look again.
    a.get_by_label("Reden van uitstel").select_option("unreachable")
    a.get_by_label("Opnieuw bekijken op").fill(date.today().replace(day=1).isoformat())
    a.get_by_role("button", name="Uitstel vastleggen").click()
    a.wait_for_load_state()
    assert a.locator(".error-summary").is_visible()  # not after today
    check_accessible(a)
    no_personal_data(a)
    a.get_by_label("Reden van uitstel").select_option("unreachable")
    a.get_by_label("Opnieuw bekijken op").fill(
        date.fromordinal(date.today().toordinal() + 30).isoformat()
    )
    a.get_by_role("button", name="Uitstel vastleggen").click()
    a.wait_for_load_state()
    assert "Informeren uitgesteld." in a.locator("#informing-state").inner_text()
    check_accessible(a)
    no_personal_data(a)
    # The professional's own e-mail alert switch, and the portal's 404 page.
    a.goto(base + "/portal/meldingen")
    a.get_by_label("Mail me als er iets nieuws voor mij is").uncheck()
    a.get_by_role("button", name="Opslaan").click()
    a.wait_for_url(re.compile(r".*/portal/meldingen\?opgeslagen=1$"))
    assert "staan uit" in a.locator("#alerts-state").inner_text()
    check_accessible(a)
    a.get_by_label("Mail me als er iets nieuws voor mij is").check()
    a.get_by_role("button", name="Opslaan").click()
    a.wait_for_url(re.compile(r".*/portal/meldingen\?opgeslagen=1$"))
    assert "staan aan" in a.locator("#alerts-state").inner_text()
    missing = a.goto(base + "/portal/bestaat-niet")
    assert missing is not None and missing.status == 404
    assert a.get_by_role("heading", name="Pagina niet gevonden").is_visible()
    check_accessible(a)

    # --- professional B signs in with the organisation's identity provider, registers the
    # same youth and sees A's contact details ------------------------------------------------
    ctx_b, b = context()
    sign_in_at_the_provider(b, base, "ib@regenboog.example")
    register(b, base)
    no_personal_data(b)
    b.get_by_role("link", name="Er is ook een andere professional betrokken").click()
    b.wait_for_url(re.compile(r".*/portal/matches/[0-9a-f-]{36}$"))
    assert "Demo Jeugdwerker" in b.content() and "jeugdwerker@jeugdteam.example" in b.content()
    check_accessible(b)
    # Consent, recorded by B for A's organisation.
    b.get_by_label("Met organisatie").select_option(label="Jeugdteam Amsterdam-Noord")
    b.get_by_label("Besluit").select_option("given")
    b.get_by_label("Besloten door").select_option("parent")
    b.get_by_label("Doel", exact=True).select_option("care-coordination")
    b.get_by_label("Richting").select_option("both")
    b.get_by_label("Hoe gegeven").select_option("written")
    b.get_by_label("zorg", exact=True).check()
    b.locator("#subject_birth_date").fill(BIRTH.isoformat())
    b.get_by_role("button", name="Toestemming vastleggen").click()
    b.wait_for_load_state()
    assert "zorgcoördinatie" in b.locator("table").first.inner_text()
    no_personal_data(b)
    check_accessible(b)
    shots.take(b, "match")
    b.goto(base + "/portal/matches")
    check_accessible(b)
    b.goto(base + "/portal/uitwisselingen")
    check_accessible(b)
    b.goto(base + "/portal/registraties")
    check_accessible(b)
    shots.take(b, "mijn-registraties")

    # A sees the match too.
    a.goto(base + "/portal/matches")
    a.get_by_role("link", name=re.compile("Bekijk de professionals")).first.click()
    assert "Demo Intern Begeleider" in a.content() and "ib@regenboog.example" in a.content()

    # Coordination: the organisation the covenant proposes accepts it.
    match_url = a.url
    for candidate in (a, b):
        candidate.goto(match_url)
        accept = candidate.get_by_role("button", name="Regie accepteren")
        if accept.count():
            accept.click()
            candidate.wait_for_load_state()
            assert candidate.locator("#regie-status").inner_text() == "geaccepteerd"
            check_accessible(candidate)
            break
    else:
        raise AssertionError("neither participant was proposed as coordinator")

    # --- the org admin adds a professional --------------------------------------------------
    ctx_admin, admin = context()
    sign_in_locally(admin, base, accounts["beheer@jeugdteam.example"])
    admin.get_by_role("link", name="Professionals").click()
    admin.get_by_label("Naam", exact=True).fill("Nieuwe Collega")
    admin.get_by_label("E-mailadres (ook de gebruikersnaam)").fill("collega@jeugdteam.example")
    admin.get_by_label("Telefoon", exact=True).fill("+31 20 555 0303")
    admin.get_by_role("button", name="Professional toevoegen").click()
    admin.wait_for_load_state()
    password = admin.locator("#issued-password").inner_text()
    secret = admin.locator("#issued-secret").inner_text()
    assert "Nieuwe Collega" in admin.locator("#list").inner_text()
    check_accessible(admin)
    shots.take(admin, "beheer-professionals")
    for path in ("/portal/beheer/webhooks", "/portal/beheer/api-sleutels"):
        admin.goto(base + path)
        check_accessible(admin)
    admin.get_by_role("button", name="Sleutel uitgeven").click()
    admin.wait_for_load_state()
    assert admin.locator("#issued-key").inner_text().startswith("vi_test_")
    check_accessible(admin)

    # The new professional signs in with what the admin was shown once.
    ctx_new, new = context()
    sign_in_locally(new, base, DemoAccount("collega@jeugdteam.example", password, secret))
    assert "Aangemeld als Nieuwe Collega" in new.content()

    # --- the municipality edits its covenant and reads its statistics ----------------------
    ctx_gemeente, gemeente = context()
    sign_in_locally(gemeente, base, accounts["convenant@amsterdam.example"])
    gemeente.get_by_role("link", name="Convenant").click()
    gemeente.wait_for_url(base + "/portal/gemeente/convenant")
    check_accessible(gemeente)
    gemeente.get_by_label("Reageren binnen").fill("P3D")
    gemeente.get_by_label("Veilig Thuis", exact=True).select_option("1")
    gemeente.get_by_label("jeugdbescherming", exact=True).select_option("1")
    gemeente.get_by_role("button", name="Opslaan als nieuwe versie").click()
    gemeente.wait_for_load_state()
    assert gemeente.locator(".error-summary").is_visible()  # position 1 twice
    check_accessible(gemeente)
    gemeente.get_by_label("jeugdbescherming", exact=True).select_option("2")
    gemeente.get_by_role("button", name="Opslaan als nieuwe versie").click()
    gemeente.wait_for_url(base + "/portal/gemeente/convenant?opgeslagen=1")
    history = gemeente.locator("#versions").inner_text()
    assert "Demo Gemeente (portaal)" in history and "P3D" in history
    check_accessible(gemeente)
    shots.take(gemeente, "gemeente-convenant")
    gemeente.get_by_role("link", name="Statistieken").click()
    gemeente.wait_for_url(re.compile(r".*/portal/gemeente/statistieken$"))
    check_accessible(gemeente)
    no_personal_data(gemeente)
    shots.take(gemeente, "gemeente-statistieken")
    with gemeente.expect_download() as download:
        gemeente.get_by_role("link", name="Alle maten downloaden als CSV").click()
    assert download.value.suggested_filename == "statistics-0363.csv"
    ctx_gemeente.close()

    # --- a forged form without the CSRF token is refused -----------------------------------
    with new.expect_navigation():
        new.evaluate(
            """() => {
        const f = document.createElement('form');
        f.method = 'post'; f.action = '/portal/registraties/nieuw';
        for (const [k, v] of [['bsn', '999999990'], ['birth_date', '2010-01-01']]) {
            const i = document.createElement('input'); i.name = k; i.value = v; f.append(i);
        }
        document.body.append(f); f.submit();
        }"""
        )
    assert "Dit formulier is verlopen" in new.content()

    # --- sign-out ----------------------------------------------------------------------------
    a.goto(base + "/portal/registraties")
    a.get_by_role("button", name="Afmelden").click()
    a.wait_for_url(re.compile(r".*/portal/aanmelden\?afgemeld=1$"))
    assert "Je bent afgemeld." in a.content()
    check_accessible(a)
    a.goto(base + "/portal/registraties")
    assert a.url.startswith(base + "/portal/aanmelden")

    # English second.
    a.get_by_role("link", name="English").click()
    assert a.locator("html").get_attribute("lang") == "en"
    assert a.get_by_role("heading", name="Sign in").is_visible()
    check_accessible(a)

    for ctx in (ctx_a, ctx_b, ctx_admin, ctx_new):
        ctx.close()
    # Every script and style sheet came from the portal itself: no CSP refusal, no error.
    assert console_errors == []

    # --- nothing personal in a URL, the database or the log --------------------------------
    for url in visited:
        for needle in needles(BSN, BIRTH):
            assert needle.decode("utf-8", "ignore") not in url
    portal.server.stop()
    logs = portal.server.logs().encode()
    assert b"portal/registraties/nieuw" in logs
    at_rest = database_at_rest(portal.database_url)
    for needle in needles(BSN, BIRTH):
        assert not at_rest.holds(needle), "personal data in the database"
        assert needle not in logs, "personal data in the log"


def test_an_idle_session_expires_in_the_browser(
    browser: Browser, database_url: str, tmp_path: Path
) -> None:
    server = start_server(database_url, tmp_path, VERWIJSINDEX_PORTAL_IDLE_MINUTES="0.05")
    try:
        accounts = _demo_accounts(server.cli("demo").stdout)
        ctx = browser.new_context()
        page = ctx.new_page()
        sign_in_locally(page, server.base_url, accounts["ib@regenboog.example"])
        time.sleep(3.5)
        page.goto(server.base_url + "/portal/registraties/nieuw")
        assert page.url == server.base_url + "/portal/aanmelden?verlopen=1"
        assert "Je sessie is beëindigd. Meld je opnieuw aan." in page.content()
        check_accessible(page)
        ctx.close()
    finally:
        server.stop()
    assert shutil.which("node")
