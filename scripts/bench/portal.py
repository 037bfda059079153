"""The portal's pages under load: render latency at 8 concurrent signed-in sessions.

A fresh ``verwijsindex serve`` with the demo (``verwijsindex demo``); its org admin adds eight
professionals through the portal, each signs in (password and TOTP code) and registers a few
youths, half of them matched by a professional of the other organisation. Then eight
sessions at once request the professional's pages in turn (my registrations, my matches, a
match with its consent, the exchange inbox, the registration form) for the duration, each
as fast as its answers come; the figure is each page's p50 and p99 (ms), over all sessions.
Must hold: p99 < 100 ms (docs/portal.md).

    python -m scripts.bench.portal --quick
    python -m scripts.bench.portal --duration 30 --backends sqlite,postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pyotp

from scripts.bench.common import log
from scripts.bench.databases import create_database, drop_database
from scripts.bench.processes import service_env, start_service

SESSIONS = 8
YOUTHS_PER_PROFESSIONAL = 6
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ISSUED = re.compile(r'id="issued-(password|secret)">([^<]+)<')
_DEMO = re.compile(
    r"^  (\S+@\S+) \((professional|org-admin)\)\n\s+password : (\S+)\n\s+secret   : (\S+)", re.M
)


def _bsn(n: int) -> str:
    base = 20_000_000 + n * 13
    while True:
        digits = f"{base:08d}"
        check = sum(int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2), strict=True)) % 11
        if check < 10:
            return digits + str(check)
        base += 1


async def _form(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    shown = await client.get(page)
    found = _CSRF.search(shown.text)
    assert found, f"{page}: no CSRF token ({shown.status_code})"
    return await client.post(action, data={"csrf_token": found.group(1), **data})


async def _sign_in(client: httpx.AsyncClient, username: str, password: str, secret: str) -> None:
    code = pyotp.TOTP(secret).now()
    answer = await _form(
        client,
        "/portal/aanmelden",
        "/portal/aanmelden",
        {"username": username, "password": password, "code": code},
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in of {username}: {answer.status_code}")


async def _prepare(base: str, demo: str) -> list[httpx.AsyncClient]:
    accounts = {m[0]: (m[2], m[3]) for m in _DEMO.findall(demo)}
    admin_name = next(m[0] for m in _DEMO.findall(demo) if m[1] == "org-admin")
    other_name = next(u for u in accounts if not u.endswith("@jeugdteam.example"))
    admin = httpx.AsyncClient(base_url=base, timeout=30)
    other = httpx.AsyncClient(base_url=base, timeout=30)
    await _sign_in(admin, admin_name, *accounts[admin_name])
    await _sign_in(other, other_name, *accounts[other_name])
    sessions = []
    for n in range(SESSIONS):
        added = await _form(
            admin,
            "/portal/beheer/professionals",
            "/portal/beheer/professionals",
            {
                "name": f"Bench {n}",
                "email": f"bench{n}@jeugdteam.example",
                "phone": f"+31 20 555 {2000 + n}",
            },
        )
        issued = dict(_ISSUED.findall(added.text))
        client = httpx.AsyncClient(base_url=base, timeout=30)
        await _sign_in(client, f"bench{n}@jeugdteam.example", issued["password"], issued["secret"])
        for y in range(YOUTHS_PER_PROFESSIONAL):
            body = {"bsn": _bsn(n * 100 + y), "birth_date": "2012-05-01"}
            await _form(client, "/portal/registraties/nieuw", "/portal/registraties/nieuw", body)
            if y % 2 == 0:
                await _form(other, "/portal/registraties/nieuw", "/portal/registraties/nieuw", body)
        sessions.append(client)
    await admin.aclose()
    await other.aclose()
    return sessions


async def _pages_of(client: httpx.AsyncClient) -> list[str]:
    matches = await client.get("/portal/matches")
    match = re.search(r'href="(/portal/matches/[0-9a-f-]{36})"', matches.text)
    pages = [
        "/portal/registraties",
        "/portal/matches",
        "/portal/uitwisselingen",
        "/portal/registraties/nieuw",
    ]
    if match:
        pages.insert(2, match.group(1))
    return pages


async def _load(sessions: list[httpx.AsyncClient], duration: float) -> dict[str, Any]:
    timings: dict[str, list[float]] = {}
    errors = 0
    page_lists = [await _pages_of(c) for c in sessions]
    deadline = time.monotonic() + duration

    async def one(client: httpx.AsyncClient, pages: list[str]) -> None:
        nonlocal errors
        i = 0
        while time.monotonic() < deadline:
            path = pages[i % len(pages)]
            i += 1
            started = time.perf_counter()
            answer = await client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                errors += 1
            name = re.sub(r"/[0-9a-f-]{36}$", "/{id}", path)
            timings.setdefault(name, []).append(elapsed)

    await asyncio.gather(*(one(c, p) for c, p in zip(sessions, page_lists, strict=True)))
    out: dict[str, Any] = {
        "sessions": len(sessions),
        "seconds": duration,
        "errors": errors,
        "pages": {},
    }
    everything: list[float] = []
    for name, values in sorted(timings.items()):
        values.sort()
        everything += values
        out["pages"][name] = _summary(values)
    everything.sort()
    out["all"] = _summary(everything)
    return out


def _summary(values: list[float]) -> dict[str, float]:
    def pct(p: float) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))], 2)

    return {
        "requests": len(values),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": round(values[-1], 2),
    }


def run_portal(backend: str, workdir: Path, log_dir: Path, duration: float) -> dict[str, Any]:
    label = f"portal-{backend}"
    db = create_database(backend, workdir, label, seed=False)
    server = None
    try:
        server = start_service(db.url, db.data_dir, log_dir, f"service-{label}")
        demo = subprocess.run(
            [sys.executable, "-m", "verwijsindex.cli", "demo"],
            env=service_env(db.url, db.data_dir, int(server.base_url.rsplit(":", 1)[1])),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        if not _DEMO.search(demo):
            raise RuntimeError("the demo was not seeded:\n" + demo)

        async def measure() -> dict[str, Any]:
            sessions = await _prepare(server.base_url, demo)
            try:
                return await _load(sessions, duration)
            finally:
                for client in sessions:
                    await client.aclose()

        result = asyncio.run(measure())
        result["backend"] = backend
        log(
            f"{label}: {SESSIONS} sessions, p50 {result['all']['p50_ms']} ms, "
            f"p99 {result['all']['p99_ms']} ms, errors {result['errors']}"
        )
        return result
    finally:
        if server is not None:
            server.stop()
        drop_database(db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s per backend (default 20 s)")
    parser.add_argument("--duration", type=float)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    duration = args.duration or (5.0 if args.quick else 20.0)
    workdir = Path(tempfile.mkdtemp(prefix="vi-bench-portal-"))
    try:
        results = [
            run_portal(b.strip(), workdir, workdir / "logs", duration)
            for b in args.backends.split(",")
            if b.strip()
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "portal.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
