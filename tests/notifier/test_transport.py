"""The delivery transport, against a real HTTP server on 127.0.0.1 (no other network)."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifier import (
    DEFAULT_TIMEOUT_SECONDS,
    ErrorKind,
    UnsafeWebhookURL,
    build_webhook_client,
    classify_exception,
)


@dataclass
class _Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    peer: str


@dataclass
class _Receiver:
    """A minimal HTTP/1.1 server that records what reaches it."""

    port: int = 0
    connections: int = 0
    requests: list[_Seen] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one connection until the client closes it (HTTP/1.1 keep-alive)."""
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                peer = writer.get_extra_info("peername")[0]
                self.requests.append(_Seen(method, target, headers, body, peer))
                if target == "/slow":
                    await asyncio.sleep(1)
                if target == "/redirect":
                    writer.write(
                        b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n"
                    )
                elif target == "/gone":
                    writer.write(b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


class _StubResolver:
    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


async def _serve(receiver: _Receiver, ssl_context: ssl.SSLContext | None = None) -> asyncio.Server:
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0, ssl=ssl_context)
    receiver.port = server.sockets[0].getsockname()[1]
    return server


@pytest.fixture
async def receiver() -> AsyncIterator[_Receiver]:
    rec = _Receiver()
    server = await _serve(rec)
    async with server:
        yield rec
        server.close()


def _server_context(hostname: str, directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Return (server context with a self-signed certificate for hostname, client context)."""
    cert_pem, key_pem = _certificate(hostname)
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(key_pem)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())
    return server_ctx, client_ctx


def _certificate(hostname: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class TestWebhookTransport:
    async def test_connects_to_validated_ip_and_keeps_host_header(
        self, receiver: _Receiver
    ) -> None:
        # "receiver.test" exists only in the stub resolver, so reaching the server proves the
        # transport dialled the address that the check returned.
        resolver = _StubResolver({"receiver.test": ["127.0.0.1"]})
        async with build_webhook_client(
            allow_http=True, allow_private=True, resolver=resolver
        ) as client:
            response = await client.post(
                f"http://receiver.test:{receiver.port}/ok",
                content=b'{"type":"match.created"}',
                headers={"webhook-id": "msg_1"},
            )
        assert response.status_code == 200
        assert response.text == "ok"
        [seen] = receiver.requests
        assert seen.headers["host"] == f"receiver.test:{receiver.port}"
        assert seen.headers["webhook-id"] == "msg_1"
        assert seen.body == b'{"type":"match.created"}'
        assert seen.peer == "127.0.0.1"
        assert resolver.calls == ["receiver.test"]

    async def test_each_delivery_resolves_and_checks_again(self, receiver: _Receiver) -> None:
        resolver = _StubResolver({"receiver.test": ["127.0.0.1"]})
        async with build_webhook_client(
            allow_http=True, allow_private=True, resolver=resolver
        ) as client:
            url = f"http://receiver.test:{receiver.port}/ok"
            await client.post(url, content=b"1")
            resolver.table["receiver.test"] = ["169.254.169.254"]  # the DNS answer changes
            with pytest.raises(UnsafeWebhookURL) as info:
                await client.post(url, content=b"2")
        assert info.value.reason == "link-local"
        assert resolver.calls == ["receiver.test", "receiver.test"]
        assert len(receiver.requests) == 1
        # The server keeps connections open; the transport still opened a fresh one.
        assert receiver.connections == 1

    async def test_refuses_loopback_name_before_connecting(self, receiver: _Receiver) -> None:
        resolver = _StubResolver({"receiver.test": ["127.0.0.1"]})
        async with build_webhook_client(
            allow_http=True, allow_private=False, resolver=resolver
        ) as client:
            with pytest.raises(UnsafeWebhookURL) as info:
                await client.post(f"http://receiver.test:{receiver.port}/ok", content=b"x")
        assert info.value.reason == "loopback"
        assert classify_exception(info.value) is ErrorKind.UNSAFE_ADDRESS
        assert receiver.connections == 0

    @pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "[::ffff:127.0.0.1]"])
    async def test_refuses_literal_loopback_before_connecting(
        self, receiver: _Receiver, host: str
    ) -> None:
        resolver = _StubResolver({})
        async with build_webhook_client(
            allow_http=True, allow_private=False, resolver=resolver
        ) as client:
            with pytest.raises(UnsafeWebhookURL) as info:
                await client.post(f"http://{host}:{receiver.port}/ok", content=b"x")
        assert info.value.reason == "loopback"
        assert receiver.connections == 0
        assert resolver.calls == []

    async def test_refuses_http_when_not_allowed(self, receiver: _Receiver) -> None:
        resolver = _StubResolver({"receiver.test": ["127.0.0.1"]})
        async with build_webhook_client(
            allow_http=False, allow_private=True, resolver=resolver
        ) as client:
            with pytest.raises(UnsafeWebhookURL) as info:
                await client.post(f"http://receiver.test:{receiver.port}/ok", content=b"x")
        assert info.value.reason == "scheme"
        assert resolver.calls == []
        assert receiver.connections == 0

    async def test_does_not_follow_redirects(self, receiver: _Receiver) -> None:
        async with build_webhook_client(allow_http=True, allow_private=True) as client:
            response = await client.post(f"http://127.0.0.1:{receiver.port}/redirect", content=b"x")
        assert response.status_code == 302
        assert response.headers["location"] == "/ok"
        assert [seen.target for seen in receiver.requests] == ["/redirect"]

    async def test_returns_gone(self, receiver: _Receiver) -> None:
        async with build_webhook_client(allow_http=True, allow_private=True) as client:
            response = await client.post(f"http://127.0.0.1:{receiver.port}/gone", content=b"")
        assert response.status_code == 410

    async def test_timeout_is_applied(self, receiver: _Receiver) -> None:
        async with build_webhook_client(allow_http=True, allow_private=True, timeout=0.2) as client:
            with pytest.raises(httpx.ReadTimeout) as info:
                await client.post(f"http://127.0.0.1:{receiver.port}/slow", content=b"x")
        assert classify_exception(info.value) is ErrorKind.TIMEOUT

    async def test_default_timeout_is_fifteen_seconds(self) -> None:
        assert DEFAULT_TIMEOUT_SECONDS == 15.0
        async with build_webhook_client(allow_http=False, allow_private=False) as client:
            assert client.timeout == httpx.Timeout(15.0)
            assert client.follow_redirects is False
            assert client.trust_env is False

    async def test_connection_refused_is_a_connection_error(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        async with build_webhook_client(allow_http=True, allow_private=True) as client:
            with pytest.raises(httpx.ConnectError) as info:
                await client.post(f"http://127.0.0.1:{port}/ok", content=b"x")
        assert classify_exception(info.value) is ErrorKind.CONNECTION

    async def test_ignores_proxy_environment(
        self, receiver: _Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
        async with build_webhook_client(allow_http=True, allow_private=True) as client:
            response = await client.post(f"http://127.0.0.1:{receiver.port}/ok", content=b"x")
        assert response.status_code == 200

    async def test_tls_uses_the_url_hostname_for_sni_and_certificate(self, tmp_path: Path) -> None:
        rec = _Receiver()
        server_ctx, client_ctx = _server_context("receiver.test", tmp_path)

        def record_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
            rec.sni.append(name)

        server_ctx.sni_callback = record_sni
        server = await _serve(rec, server_ctx)
        async with server:
            resolver = _StubResolver({"receiver.test": ["127.0.0.1"]})
            async with build_webhook_client(
                allow_http=False, allow_private=True, resolver=resolver, ssl_context=client_ctx
            ) as client:
                response = await client.post(f"https://receiver.test:{rec.port}/ok", content=b"x")
            server.close()
        assert response.status_code == 200
        assert rec.sni == ["receiver.test"]
        assert rec.requests[0].headers["host"] == f"receiver.test:{rec.port}"

    async def test_tls_certificate_for_another_name_is_refused(self, tmp_path: Path) -> None:
        rec = _Receiver()
        server_ctx, client_ctx = _server_context("other.test", tmp_path)
        server = await _serve(rec, server_ctx)
        async with server:
            resolver = _StubResolver({"receiver.test": ["127.0.0.1"]})
            async with build_webhook_client(
                allow_http=False, allow_private=True, resolver=resolver, ssl_context=client_ctx
            ) as client:
                with pytest.raises(httpx.ConnectError, match="certificate"):
                    await client.post(f"https://receiver.test:{rec.port}/ok", content=b"x")
            server.close()
        assert rec.requests == []
