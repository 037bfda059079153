"""HTTP transport for webhook deliveries that connects only to checked addresses.

For every request :class:`WebhookTransport`

1. re-validates the URL (:func:`~notifier._ssrf.validate_webhook_url`): the rules may have
   changed since the endpoint was registered;
2. resolves the host and refuses if any address is unsafe
   (:func:`~notifier._ssrf.resolve_and_check`) -- before any socket is opened;
3. opens the TCP connection to one of *those* addresses. The name is never resolved a second
   time, so a DNS answer that flips to an internal address after the check (DNS rebinding)
   has no effect. The ``Host`` header, TLS SNI and certificate verification still use the
   host name from the URL, because httpcore takes them from the request, not from the socket.

The pinning lives in a custom httpcore network backend whose ``connect_tcp`` receives the
host name and dials the validated IP instead. Keep-alive is off by default so that every
delivery resolves and checks afresh.

Transports never follow redirects; :func:`build_webhook_client` also sets
``follow_redirects=False``, ignores proxy environment variables (a proxy would do its own
resolution) and applies the delivery timeout (15 s by default, per the spec's 15-30 s advice).

Example::

    async with build_webhook_client(allow_http=False, allow_private=False) as client:
        try:
            response = await client.post(url, content=body, headers=headers)
            outcome = classify_response(response.status_code, None)
        except (httpx.HTTPError, UnsafeWebhookURL) as exc:
            outcome = classify_response(None, classify_exception(exc))
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import typing
from collections.abc import AsyncIterator, Iterator

import httpcore
import httpx

from notifier._retry import ErrorKind
from notifier._ssrf import (
    REASON_SYNTAX,
    ParsedURL,
    Resolver,
    UnsafeWebhookURL,
    resolve_and_check,
    validate_webhook_url,
)

DEFAULT_TIMEOUT_SECONDS = 15.0
_MAX_ADDRESSES_TRIED = 3
_DEFAULT_PORTS = {"http": 80, "https": 443}

_SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

# Most specific first: the first isinstance match wins.
_EXCEPTION_MAP: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
)


@contextlib.contextmanager
def _map_httpcore_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_type, httpx_type in _EXCEPTION_MAP:
            if isinstance(exc, core_type):
                raise httpx_type(str(exc), request=request) from exc
        raise


def _same_destination(parsed: ParsedURL, url: httpx.URL) -> bool:
    raw_host = url.raw_host.decode("ascii").lower()
    if parsed.address is not None:
        try:
            same_host = ipaddress.ip_address(raw_host) == parsed.address
        except ValueError:
            same_host = False
    else:
        same_host = raw_host == parsed.host
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)
    return same_host and port == parsed.port and url.scheme == parsed.scheme


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks in ``connect_tcp``, then dials the validated address."""

    def __init__(
        self, *, allow_private: bool, allow_loopback: bool, resolver: Resolver | None
    ) -> None:
        self._allow_private = allow_private
        self._allow_loopback = allow_loopback
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's backend interface
        local_address: str | None = None,
        socket_options: typing.Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve_and_check(
                    host,
                    port,
                    allow_private=self._allow_private,
                    allow_loopback=self._allow_loopback,
                    resolver=self._resolver,
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout("name resolution timed out") from None
        options = list(socket_options or ())
        last_error: Exception | None = None
        for address in addresses[:_MAX_ADDRESSES_TRIED]:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # resolve_and_check never returns an empty list
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's backend interface
        socket_options: typing.Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are never delivered over a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _map_httpcore_errors(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            await closer()


class WebhookTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport that refuses unsafe destinations and pins the checked IP."""

    def __init__(
        self,
        *,
        allow_http: bool,
        allow_private: bool,
        allow_loopback: bool = False,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
        keepalive: bool = False,
    ) -> None:
        self._allow_http = allow_http
        self._allow_private = allow_private
        self._allow_loopback = allow_loopback
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context if ssl_context is not None else httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections if keepalive else 0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_PinnedBackend(
                allow_private=allow_private, allow_loopback=allow_loopback, resolver=resolver
            ),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        parsed = validate_webhook_url(
            str(request.url),
            allow_http=self._allow_http,
            allow_private=self._allow_private,
            allow_loopback=self._allow_loopback,
        )
        if not _same_destination(parsed, request.url):
            # Our parser and httpx's disagree about where this URL points: refuse.
            raise UnsafeWebhookURL(REASON_SYNTAX, "the URL is ambiguous")
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _map_httpcore_errors(request):
            core_response = await self._pool.handle_async_request(core_request)
        assert isinstance(core_response.stream, typing.AsyncIterable)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream, request),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def build_webhook_client(
    *,
    allow_http: bool,
    allow_private: bool,
    allow_loopback: bool = False,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """Return an ``httpx.AsyncClient`` for deliveries: guarded transport, no redirects."""
    return httpx.AsyncClient(
        transport=WebhookTransport(
            allow_http=allow_http,
            allow_private=allow_private,
            allow_loopback=allow_loopback,
            resolver=resolver,
            ssl_context=ssl_context,
        ),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout),
    )


def classify_exception(exc: BaseException) -> ErrorKind | None:
    """Map a delivery exception to an :class:`ErrorKind`; ``None`` if it is not one of ours."""
    if isinstance(exc, UnsafeWebhookURL):
        return ErrorKind.UNSAFE_ADDRESS
    if isinstance(exc, httpx.TimeoutException):
        return ErrorKind.TIMEOUT
    if isinstance(exc, httpx.NetworkError):
        return ErrorKind.CONNECTION
    if isinstance(exc, httpx.ProtocolError | httpx.UnsupportedProtocol | httpx.ProxyError):
        return ErrorKind.PROTOCOL
    return None
