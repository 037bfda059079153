"""Server-side request forgery (SSRF) guard for webhook URLs.

Organisations register the URLs we POST to, so a URL is untrusted input that could point the
delivery worker at the index's own network (a database, the cloud metadata service at
169.254.169.254, an admin port on loopback). Two checks, both needed:

* :func:`validate_webhook_url` -- at registration *and* before each delivery: syntax, scheme,
  no userinfo, no fragment, length, and literal IP hosts in any notation a resolver might
  accept (``2130706433``, ``0x7f.1``, ``017700000001``, ``[::ffff:127.0.0.1]``).
* :func:`resolve_and_check` -- at delivery time: resolve the name and refuse if *any* address
  is not a public unicast address. The caller must then connect to one of the returned
  addresses (see :mod:`notifier._transport`), never resolve again, so that a DNS answer
  that changes between check and connect ("DNS rebinding") cannot slip through.

``allow_loopback=True`` admits loopback addresses only (development's default: the demo
receiver runs on the same machine). ``allow_private=True`` (an explicit opt-in, refused in
production) admits loopback, RFC 1918/ULA private and shared (CGNAT) addresses. Link-local
(which holds the cloud metadata endpoint), multicast, broadcast, unspecified, documentation
and reserved addresses are refused in every mode.

Example::

    parsed = validate_webhook_url("https://hooks.example.org/vi", allow_http=False,
                                  allow_private=False)
    addresses = await resolve_and_check(parsed.host, parsed.port, allow_private=False)
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from notifier._errors import NotifierError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``async (host, port) -> addresses``: the injection seam for name resolution."""

MAX_URL_LENGTH = 2048

# Reason codes carried by UnsafeWebhookURL.reason. Stable: logged and shown to org admins.
REASON_SYNTAX = "syntax"
REASON_LENGTH = "length"
REASON_SCHEME = "scheme"
REASON_USERINFO = "userinfo"
REASON_HOST = "host"
REASON_PORT = "port"
REASON_FRAGMENT = "fragment"
REASON_NON_CANONICAL = "non-canonical-address"
REASON_UNRESOLVABLE = "unresolvable"
REASON_LOOPBACK = "loopback"
REASON_PRIVATE = "private-address"
REASON_CGNAT = "cgnat"
REASON_LINK_LOCAL = "link-local"
REASON_MULTICAST = "multicast"
REASON_UNSPECIFIED = "unspecified"
REASON_BROADCAST = "broadcast"
REASON_DOCUMENTATION = "documentation"
REASON_RESERVED = "reserved"

_RELAXED_BY_ALLOW_PRIVATE = frozenset({REASON_LOOPBACK, REASON_PRIVATE, REASON_CGNAT})
_RELAXED_BY_ALLOW_LOOPBACK = frozenset({REASON_LOOPBACK})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeWebhookURL(NotifierError, ValueError):
    """The URL or an address it resolves to may not receive webhooks.

    ``reason`` is one of the ``REASON_*`` codes; the message names the rule, never the URL
    (which may carry a token in its path).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class ParsedURL:
    """A webhook URL that passed :func:`validate_webhook_url`."""

    url: str
    scheme: str
    host: str
    """Lower-case host name, or the canonical text of a literal IP (IPv6 without brackets)."""
    port: int
    target: str
    """Path and query, at least ``/``."""
    address: IPAddress | None
    """The literal IP address when the host is one, else ``None``."""


# --- address classification -------------------------------------------------------------

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# First match wins, so the broadcast address comes before 240.0.0.0/4.
_IPV4_RULES: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), REASON_UNSPECIFIED),  # "this network"; 0.0.0.0 reaches localhost
    (_V4("10.0.0.0/8"), REASON_PRIVATE),
    (_V4("100.64.0.0/10"), REASON_CGNAT),  # RFC 6598 shared address space
    (_V4("127.0.0.0/8"), REASON_LOOPBACK),
    (_V4("169.254.0.0/16"), REASON_LINK_LOCAL),  # includes 169.254.169.254 (metadata)
    (_V4("172.16.0.0/12"), REASON_PRIVATE),
    (_V4("192.0.0.0/24"), REASON_RESERVED),  # IETF protocol assignments
    (_V4("192.0.2.0/24"), REASON_DOCUMENTATION),  # TEST-NET-1
    (_V4("192.88.99.0/24"), REASON_RESERVED),  # deprecated 6to4 relay anycast
    (_V4("192.168.0.0/16"), REASON_PRIVATE),
    (_V4("198.18.0.0/15"), REASON_RESERVED),  # benchmarking
    (_V4("198.51.100.0/24"), REASON_DOCUMENTATION),  # TEST-NET-2
    (_V4("203.0.113.0/24"), REASON_DOCUMENTATION),  # TEST-NET-3
    (_V4("224.0.0.0/4"), REASON_MULTICAST),
    (_V4("255.255.255.255/32"), REASON_BROADCAST),
    (_V4("240.0.0.0/4"), REASON_RESERVED),
)

_IPV6_RULES: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), REASON_UNSPECIFIED),
    (_V6("::1/128"), REASON_LOOPBACK),
    (_V6("::/96"), REASON_RESERVED),  # deprecated IPv4-compatible addresses
    (_V6("64:ff9b:1::/48"), REASON_RESERVED),  # local-use NAT64 prefix
    (_V6("100::/64"), REASON_RESERVED),  # discard-only
    (_V6("2001::/23"), REASON_RESERVED),  # IETF protocol assignments (incl. Teredo)
    (_V6("2001:db8::/32"), REASON_DOCUMENTATION),
    (_V6("3fff::/20"), REASON_DOCUMENTATION),  # RFC 9637
    (_V6("fc00::/7"), REASON_PRIVATE),  # unique local addresses
    (_V6("fe80::/10"), REASON_LINK_LOCAL),
    (_V6("fec0::/10"), REASON_RESERVED),  # deprecated site-local
    (_V6("ff00::/8"), REASON_MULTICAST),
)

_IPV4_MAPPED = _V6("::ffff:0:0/96")
_NAT64_WELL_KNOWN = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")
_TEREDO = _V6("2001::/32")
_GLOBAL_UNICAST_V6 = _V6("2000::/3")


def _ipv4_reason(address: ipaddress.IPv4Address) -> str | None:
    for network, reason in _IPV4_RULES:
        if address in network:
            return reason
    if not address.is_global:
        return REASON_RESERVED
    return None


def _ipv6_reason(address: ipaddress.IPv6Address) -> str | None:
    # Addresses that carry an IPv4 address inside: judge the embedded one. A public embedded
    # address is admitted for the mapped, NAT64 and 6to4 forms (they reach that host).
    if address in _IPV4_MAPPED or address in _NAT64_WELL_KNOWN:
        return _ipv4_reason(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address in _SIX_TO_FOUR:
        return _ipv4_reason(ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF))
    if address in _TEREDO and address.teredo is not None:
        server, client = address.teredo
        for embedded in (client, server):
            reason = _ipv4_reason(embedded)
            if reason is not None:
                return reason
        return REASON_RESERVED
    for network, reason in _IPV6_RULES:
        if address in network:
            return reason
    if address not in _GLOBAL_UNICAST_V6:
        return REASON_RESERVED  # only 2000::/3 is allocated for global unicast
    return None


def unsafe_address_reason(
    address: IPAddress, *, allow_private: bool, allow_loopback: bool = False
) -> str | None:
    """Return why ``address`` may not receive webhooks, or ``None`` if it may."""
    if isinstance(address, ipaddress.IPv4Address):
        reason = _ipv4_reason(address)
    else:
        reason = _ipv6_reason(address)
    if reason in _RELAXED_BY_ALLOW_PRIVATE and allow_private:
        return None
    if reason in _RELAXED_BY_ALLOW_LOOPBACK and allow_loopback:
        return None
    return reason


def check_address(address: IPAddress, *, allow_private: bool, allow_loopback: bool = False) -> None:
    """Raise :class:`UnsafeWebhookURL` unless ``address`` may receive webhooks."""
    reason = unsafe_address_reason(
        address, allow_private=allow_private, allow_loopback=allow_loopback
    )
    if reason is not None:
        raise UnsafeWebhookURL(reason, f"webhook address refused ({reason})")


# --- literal hosts ----------------------------------------------------------------------

_NUMERIC_LABEL = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
_DNS_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def _parse_ipv4_part(label: str) -> int:
    if label[:2] in ("0x", "0X"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        if not set(label) <= set("01234567"):
            raise UnsafeWebhookURL(REASON_HOST, "invalid octal number in the host")
        return int(label, 8)
    return int(label, 10)


def _parse_numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Interpret ``host`` the way ``inet_aton`` (and the WHATWG URL standard) would.

    Returns ``None`` for a DNS name. A host whose last label is a number is an IPv4 address
    in some notation (``127.1``, ``0x7f.0.0.1``, ``2130706433``, ``0177.0.0.1``); if it is not
    a valid one it is refused rather than handed to a resolver that might read it otherwise.
    """
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # a single trailing dot is allowed
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return None
    if len(labels) > 4 or not all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        raise UnsafeWebhookURL(REASON_HOST, "the host looks like an invalid IPv4 address")
    numbers = [_parse_ipv4_part(label) for label in labels]
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise UnsafeWebhookURL(REASON_HOST, "the host looks like an invalid IPv4 address")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _literal_address(host: str, *, allow_private: bool, allow_loopback: bool) -> IPAddress | None:
    """Return the address a literal host denotes after checking it; ``None`` for a name."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        if "%" in bare:
            raise UnsafeWebhookURL(REASON_HOST, "IPv6 zone identifiers are not allowed")
        try:
            v6 = ipaddress.IPv6Address(bare)
        except ValueError:
            raise UnsafeWebhookURL(REASON_HOST, "invalid IPv6 address") from None
        check_address(v6, allow_private=allow_private, allow_loopback=allow_loopback)
        return v6
    v4 = _parse_numeric_ipv4(bare.lower())
    if v4 is None:
        return None
    check_address(v4, allow_private=allow_private, allow_loopback=allow_loopback)
    if str(v4) != bare.rstrip("."):
        raise UnsafeWebhookURL(
            REASON_NON_CANONICAL, "write an IPv4 host as four decimal numbers (a.b.c.d)"
        )
    return v4


def _check_host_name(host: str) -> None:
    if not host or len(host) > 253 or not host.isascii():
        raise UnsafeWebhookURL(REASON_HOST, "the host must be an ASCII (punycode) name")
    labels = host.split(".")
    if labels[-1] == "":
        labels.pop()
    if not labels or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise UnsafeWebhookURL(REASON_HOST, "the host is not a valid DNS name")


# --- URL syntax -------------------------------------------------------------------------


def _split(url: str) -> SplitResult:
    if not isinstance(url, str):
        raise UnsafeWebhookURL(REASON_SYNTAX, "the URL must be a string")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookURL(REASON_LENGTH, f"the URL is longer than {MAX_URL_LENGTH}")
    # urlsplit silently drops tab/CR/LF and tolerates backslashes that other parsers read as
    # "/"; refuse anything where parsers could disagree.
    if not url.isascii() or any(c <= " " or c in "\x7f\\" for c in url):
        raise UnsafeWebhookURL(
            REASON_SYNTAX, "the URL must be ASCII without spaces, controls or backslashes"
        )
    if "#" in url:
        raise UnsafeWebhookURL(REASON_FRAGMENT, "the URL may not have a fragment")
    try:
        return urlsplit(url)
    except ValueError:
        raise UnsafeWebhookURL(REASON_SYNTAX, "the URL cannot be parsed") from None


def validate_webhook_url(
    url: str, *, allow_http: bool, allow_private: bool, allow_loopback: bool = False
) -> ParsedURL:
    """Check the syntax of a webhook URL and any literal IP in it; raise UnsafeWebhookURL.

    Host names are *not* resolved here; call :func:`resolve_and_check` before connecting.
    """
    parts = _split(url)
    allowed_schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in allowed_schemes:
        raise UnsafeWebhookURL(REASON_SCHEME, "the URL must use " + " or ".join(allowed_schemes))
    if "@" in parts.netloc:
        raise UnsafeWebhookURL(REASON_USERINFO, "the URL may not contain a user name or password")
    raw_host = parts.netloc
    if raw_host.startswith("["):
        raw_host = raw_host[: raw_host.find("]") + 1]
    else:
        raw_host = raw_host.partition(":")[0]
    if raw_host in ("", "[]"):
        raise UnsafeWebhookURL(REASON_HOST, "the URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise UnsafeWebhookURL(REASON_PORT, "the port must be a number from 1 to 65535") from None
    if port is None:
        if parts.netloc.endswith(":"):
            raise UnsafeWebhookURL(REASON_PORT, "the port must be a number from 1 to 65535")
        port = _DEFAULT_PORTS[parts.scheme]
    if not 1 <= port <= 65535:
        raise UnsafeWebhookURL(REASON_PORT, "the port must be a number from 1 to 65535")

    address = _literal_address(raw_host, allow_private=allow_private, allow_loopback=allow_loopback)
    if address is not None:
        host = str(address)
    else:
        host = raw_host.lower()
        _check_host_name(host)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return ParsedURL(
        url=url, scheme=parts.scheme, host=host, port=port, target=target, address=address
    )


# --- resolution -------------------------------------------------------------------------


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the event loop's ``getaddrinfo`` (TCP addresses only)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


async def resolve_and_check(
    host: str,
    port: int,
    *,
    allow_private: bool,
    allow_loopback: bool = False,
    resolver: Resolver | None = None,
) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses, or raise if *any* of them is unsafe.

    A literal IP host (in any notation) is checked without a lookup. Refusing when one of
    several answers is internal matters: the connection could otherwise land on it.
    """
    address = _literal_address(host, allow_private=allow_private, allow_loopback=allow_loopback)
    if address is not None:
        return [address]
    name = host.lower()
    _check_host_name(name)
    try:
        answers = await (resolver or system_resolver)(name, port)
    except (OSError, UnicodeError):
        raise UnsafeWebhookURL(REASON_UNRESOLVABLE, "the host name does not resolve") from None
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            resolved = ipaddress.ip_address(answer.partition("%")[0])
        except ValueError:
            raise UnsafeWebhookURL(
                REASON_UNRESOLVABLE, "the resolver returned an invalid address"
            ) from None
        check_address(resolved, allow_private=allow_private, allow_loopback=allow_loopback)
        if resolved not in addresses:
            addresses.append(resolved)
    if not addresses:
        raise UnsafeWebhookURL(REASON_UNRESOLVABLE, "the host name does not resolve")
    return addresses
