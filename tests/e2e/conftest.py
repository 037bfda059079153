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
    database_url: str,
    data_dir: Path,
    *args: str,
    port: int | None = None,
    command: tuple[str, ...] = ("serve",),
    **extra_env: str,
) -> Server:
    """``verwijsindex serve [args]`` (or another ``command``) on ``port`` (default a free
    one), once it answers ``/readyz``."""
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
    log = log_path.open("ab")  # a restart on the same port appends
    process = subprocess.Popen(
        [sys.executable, "-m", "verwijsindex.cli", *command, *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    _wait_ready(process, base_url + "/readyz", log_path)
    return Server(base_url, env, log_path, process)


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Until ``url`` answers 200; raises with the process's log when it exits or hangs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("process exited:\n" + log_path.read_text())
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("process did not become ready:\n" + log_path.read_text())


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    srv = start_server(database_url, tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


class KeyServiceProcess(Server):
    """A real ``verwijsindex keyservice serve`` process (its own data directory)."""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return super().cli("keyservice", *args)

    def add_caller(self, caller_id: str, *extra: str) -> str:
        import json

        return str(json.loads(self.cli("callers", "add", caller_id, *extra).stdout)["api_key"])


def start_keyservice(data_dir: Path, **extra_env: str) -> KeyServiceProcess:
    """``verwijsindex keyservice serve`` on a free loopback port, once it answers."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "VERWIJSINDEX_KEYSERVICE_DATA_DIR": str(data_dir),
        "VERWIJSINDEX_KEYSERVICE_PORT": str(port),
        **extra_env,
    }
    log_path = data_dir / f"keyservice-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "verwijsindex.cli", "keyservice", "serve"],
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    _wait_ready(process, base_url + "/healthz", log_path)
    return KeyServiceProcess(base_url, env, log_path, process)
