"""A real ``verwijsindex serve`` process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "verwijsindex.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    database_url: str, data_dir: Path, *args: str, port: int | None = None, **extra_env: str
) -> Server:
    """``verwijsindex serve [args]`` on ``port`` (default a free one), once it answers
    ``/readyz``."""
    port = port or free_port()
    env = {
        **os.environ,
        "VERWIJSINDEX_DATABASE_URL": database_url,
        "VERWIJSINDEX_DATA_DIR": str(data_dir),
        "VERWIJSINDEX_PORT": str(port),
        "VERWIJSINDEX_LOG_LEVEL": "debug",
        **extra_env,
    }
    log_path = data_dir / f"server-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "verwijsindex.cli", "serve", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited:\n" + log_path.read_text())
        try:
            if httpx.get(base_url + "/readyz", timeout=1).status_code == 200:
                return Server(base_url, env, log_path, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not become ready:\n" + log_path.read_text())


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    srv = start_server(database_url, tmp_path)
    try:
        yield srv
    finally:
        srv.stop()
