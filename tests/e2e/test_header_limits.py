"""A real ``verwijsindex serve`` bounds the request head: an oversized request target gets 414,
oversized or too many header fields 431, before the application sees the request; memory
stays bounded while a header field that never ends arrives, and /healthz keeps answering.

Regression: a 256 MB header got 200, the process grew to 470 MB and /healthz stalled."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, start_server

pytestmark = [pytest.mark.e2e]

_CHUNK = b"a" * 65536


@pytest.fixture(scope="module", params=[(), ("--workers", "2")], ids=["one-process", "workers"])
def head_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("head-limits")
    srv = start_server(
        f"sqlite+aiosqlite:///{tmp_path / 'vi.db'}",
        tmp_path,
        *request.param,
        "--no-sweeper",
        "--no-webhook-worker",
        VERWIJSINDEX_LOG_LEVEL="info",
    )
    try:
        # /readyz answers once one worker is up; the memory test measures every process, so
        # it starts only when every worker has started (a worker still importing grows by
        # tens of MiB between the two readings).
        workers = int(request.param[1]) if request.param else 1
        _wait_until_started(srv, workers)
        yield srv
    finally:
        srv.stop()


def _wait_until_started(server: Server, processes: int) -> None:
    """Wait (bounded) until ``processes`` processes have logged that they started."""
    deadline = time.monotonic() + 60
    while True:
        started = 0
        for line in server.logs().splitlines():
            if line.startswith("{") and json.loads(line).get("event") == "started":
                started += 1
        if started >= processes:
            return
        assert time.monotonic() < deadline, f"{started} of {processes} processes started"
        time.sleep(0.1)


def _address(server: Server) -> tuple[str, int]:
    host, port = server.base_url.removeprefix("http://").split(":")
    return host, int(port)


def _exchange(server: Server, head: bytes, *, stream: int = 0) -> bytes:
    """Send ``head`` (then ``stream`` chunks of 64 KiB, as long as the server reads them) and
    return everything the server answers before it closes the connection."""
    with socket.create_connection(_address(server), timeout=10) as conn:
        try:
            conn.sendall(head)
            for _ in range(stream):
                conn.sendall(_CHUNK)
        except OSError:
            pass  # the server answered and closed while the request was still arriving
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def _status_and_problem(response: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    problem: dict[str, object] = json.loads(body)
    return status, problem


def _rss_kib(server: Server) -> int:
    """The resident memory of the server's process and its worker processes."""
    pids = [server.process.pid]
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    pids += [int(p) for p in children.read_text().split()]
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def _healthz_answers(server: Server) -> None:
    started = time.monotonic()
    assert httpx.get(server.base_url + "/healthz", timeout=5).status_code == 200
    assert time.monotonic() - started < 2


class TestRequestHeadLimits:
    def test_header_field_that_never_ends_gets_431_with_bounded_memory(
        self, head_server: Server
    ) -> None:
        before = _rss_kib(head_server)
        # 64 MiB of one header's value, as fast as the server takes it.
        response = _exchange(
            head_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", stream=1024
        )
        status, problem = _status_and_problem(response)
        assert status == 431
        assert problem["type"] == "https://verwijsindex.nl/problems/header-fields-too-large"
        _healthz_answers(head_server)
        assert _rss_kib(head_server) - before < 16 * 1024

    def test_one_header_field_over_the_line_limit_gets_431(self, head_server: Server) -> None:
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n"
        status, problem = _status_and_problem(_exchange(head_server, head))
        assert status == 431
        assert problem["detail"] == "a header field is too large"
        _healthz_answers(head_server)

    def test_header_fields_over_the_total_limit_get_431(self, head_server: Server) -> None:
        fields = b"".join(b"X-%d: %s\r\n" % (i, b"b" * 7000) for i in range(5))
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"
        status, problem = _status_and_problem(_exchange(head_server, head))
        assert status == 431
        assert problem["detail"] == "the request's header fields are too large"

    def test_more_than_100_header_fields_get_431(self, head_server: Server) -> None:
        fields = b"".join(b"X-%d: 1\r\n" % i for i in range(100))
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"
        status, problem = _status_and_problem(_exchange(head_server, head))
        assert status == 431
        assert problem["detail"] == "the request has too many header fields"

    def test_long_request_target_gets_414(self, head_server: Server) -> None:
        head = b"GET /healthz?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        status, problem = _status_and_problem(_exchange(head_server, head))
        assert status == 414
        assert problem["type"] == "https://verwijsindex.nl/problems/uri-too-long"

    def test_heads_within_the_limits_are_served(self, head_server: Server) -> None:
        headers = {f"X-{i}": "1" for i in range(90)}
        headers["X-Large"] = "c" * 7000
        response = httpx.get(
            head_server.base_url + "/healthz?" + "q" * 7000, headers=headers, timeout=5
        )
        assert response.status_code == 200

    def test_pipelined_requests_are_each_counted_on_their_own(self, head_server: Server) -> None:
        one = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 6000 + b"\r\n\r\n"
        last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        response = _exchange(head_server, one * 10 + last)
        assert response.count(b"HTTP/1.1 200 OK") == 11
