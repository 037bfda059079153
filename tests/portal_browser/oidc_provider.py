"""The test OpenID Connect provider: ``oidc/provider.mjs`` (the npm package ``oidc-provider``)
under the machine's node, on a free loopback port. ``make test`` installs its node_modules."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port

HERE = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "verwijsindex-portal"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen[bytes]


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("the OpenID Connect tests need node (apt-get install nodejs)")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            "oidc-provider is not installed: run `make test`, or"
            " `npm install --prefix tests/portal_browser/oidc`"
        )
    return node


@contextmanager
def running_provider(redirect_uris: list[str], log: Path) -> Iterator[Provider]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                _node(),
                str(HERE / "provider.mjs"),
                str(port),
                ",".join(redirect_uris),
                CLIENT_SECRET,
            ],
            cwd=HERE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError("oidc-provider exited:\n" + log.read_text())
            try:
                if httpx.get(issuer + "/.well-known/openid-configuration", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("oidc-provider did not start:\n" + log.read_text())
            time.sleep(0.1)
        yield Provider(issuer, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
