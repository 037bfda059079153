"""The SSRF guard: URL syntax, literal addresses in every notation, resolved addresses."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier import (
    NotifierError,
    UnsafeWebhookURL,
    resolve_and_check,
    system_resolver,
    unsafe_address_reason,
    validate_webhook_url,
)

# (url, expected reason) -- each must be refused with allow_http=False, allow_private=False.
REFUSED_URLS: list[tuple[str, str]] = [
    # loopback and private ranges, literal
    ("https://127.0.0.1/", "loopback"),
    ("https://127.255.255.254:8443/x", "loopback"),
    ("https://10.0.0.1/", "private-address"),
    ("https://172.16.5.4/", "private-address"),
    ("https://172.31.255.255/", "private-address"),
    ("https://192.168.1.1/", "private-address"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://100.64.0.1/", "cgnat"),
    ("https://100.127.255.254/", "cgnat"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://0.1.2.3/", "unspecified"),
    ("https://224.0.0.1/", "multicast"),
    ("https://239.255.255.250/", "multicast"),
    ("https://255.255.255.255/", "broadcast"),
    ("https://240.0.0.1/", "reserved"),
    ("https://198.18.0.1/", "reserved"),
    ("https://192.0.0.8/", "reserved"),
    ("https://192.0.2.1/", "documentation"),
    ("https://198.51.100.7/", "documentation"),
    ("https://203.0.113.9/", "documentation"),
    # IPv6
    ("https://[::1]/", "loopback"),
    ("https://[0:0:0:0:0:0:0:1]:443/", "loopback"),
    ("https://[::]/", "unspecified"),
    ("https://[fe80::1]/", "link-local"),
    ("https://[fc00::1]/", "private-address"),
    ("https://[fd12:3456:789a::1]/", "private-address"),
    ("https://[ff02::1]/", "multicast"),
    ("https://[2001:db8::1]/", "documentation"),
    ("https://[fec0::1]/", "reserved"),
    ("https://[100::1]/", "reserved"),
    ("https://[::127.0.0.1]/", "reserved"),  # deprecated IPv4-compatible
    ("https://[4000::1]/", "reserved"),  # outside 2000::/3
    # IPv6 forms that embed an IPv4 address
    ("https://[::ffff:127.0.0.1]/", "loopback"),
    ("https://[::ffff:7f00:1]/", "loopback"),
    ("https://[::ffff:10.0.0.1]/", "private-address"),
    ("https://[::ffff:169.254.169.254]/", "link-local"),
    ("https://[64:ff9b::7f00:1]/", "loopback"),  # NAT64
    ("https://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 of 169.254.169.254
    ("https://[2002:7f00:1::1]/", "loopback"),  # 6to4 of 127.0.0.1
    ("https://[2002:c0a8:101::1]/", "private-address"),  # 6to4 of 192.168.1.1
    ("https://[2001:0:404:404:0:0:80ff:fffe]/", "loopback"),  # Teredo, client 127.0.0.1
    ("https://[2001:0:404:404::1]/", "reserved"),  # Teredo with public ends
    # non-canonical IPv4 notations that inet_aton accepts
    ("https://2130706433/", "loopback"),
    ("https://0x7f000001/", "loopback"),
    ("https://017700000001/", "loopback"),
    ("https://0x7f.1/", "loopback"),
    ("https://127.1/", "loopback"),
    ("https://0177.0.0.1/", "loopback"),
    ("https://0x7F.0.0.1/", "loopback"),
    ("https://127.0.0.1./", "loopback"),
    ("https://0/", "unspecified"),
    ("https://3232235777/", "private-address"),  # 192.168.1.1
    ("https://2852039166/", "link-local"),  # 169.254.169.254
    ("https://1572395042/", "non-canonical-address"),  # 93.184.216.34, public but disguised
    ("https://0x5d.184.216.34/", "non-canonical-address"),
    ("https://93.184.55330/", "non-canonical-address"),
    ("https://1.2.3.4.5/", "host"),
    ("https://256.0.0.1/", "host"),
    ("https://08.0.0.1/", "host"),
    ("https://4294967296/", "host"),
    ("https://example.0x10/", "host"),
    # scheme
    ("http://example.com/", "scheme"),
    ("ftp://example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://example.com:70/", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("//example.com/", "scheme"),
    # userinfo
    ("https://user:pass@example.com/", "userinfo"),
    ("https://user@example.com/", "userinfo"),
    ("https://example.com@127.0.0.1/", "userinfo"),
    ("https://:@example.com/", "userinfo"),
    # host
    ("https:///path", "host"),
    ("https://:443/", "host"),
    ("https://exa_mple..com/", "host"),
    ("https://%31%32%37.0.0.1/", "host"),
    ("https://[fe80::1%25eth0]/", "host"),
    ("https://-bad-.example/", "host"),
    ("https://" + "a" * 64 + ".example/", "host"),
    # port
    ("https://example.com:0/", "port"),
    ("https://example.com:65536/", "port"),
    ("https://example.com:abc/", "port"),
    ("https://example.com:/", "port"),
    ("https://example.com:-1/", "port"),
    # fragment, length, characters
    ("https://example.com/#frag", "fragment"),
    ("https://example.com/hook#", "fragment"),
    ("https://example.com/" + "a" * 2029, "length"),
    ("https://exa mple.com/", "syntax"),
    ("https://example.com\\@127.0.0.1/", "syntax"),
    ("https://example.com/\n", "syntax"),
    ("https://exam\tple.com/", "syntax"),
    ("https://bücher.example/", "syntax"),
    ("https://[::1/", "syntax"),
]

ACCEPTED_URLS: list[str] = [
    "https://93.184.216.34/",
    "https://93.184.216.34:8443/hook?x=1&y=2",
    "https://example.com/",
    "https://hooks.example.org:8443/v1/verwijsindex",
    "https://xn--bcher-kva.example/",
    "https://EXAMPLE.com/Path",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/",
    "https://[::ffff:93.184.216.34]/",
    "https://[64:ff9b::5db8:d822]/",  # NAT64 of a public address
    "https://8.8.8.8/",
    "https://example.com/" + "a" * 2028,  # exactly 2048 characters
]


class TestValidateWebhookURL:
    @pytest.mark.parametrize(("url", "reason"), REFUSED_URLS)
    def test_refused_with_reason(self, url: str, reason: str) -> None:
        with pytest.raises(UnsafeWebhookURL) as info:
            validate_webhook_url(url, allow_http=False, allow_private=False)
        assert info.value.reason == reason

    @pytest.mark.parametrize("url", ACCEPTED_URLS)
    def test_public_url_accepted(self, url: str) -> None:
        parsed = validate_webhook_url(url, allow_http=False, allow_private=False)
        assert parsed.scheme == "https"
        assert parsed.url == url

    def test_parsed_fields(self) -> None:
        parsed = validate_webhook_url(
            "https://Hooks.Example.org:8443/v1/vi?token=abc", allow_http=False, allow_private=False
        )
        assert (parsed.host, parsed.port, parsed.target) == (
            "hooks.example.org",
            8443,
            "/v1/vi?token=abc",
        )
        assert parsed.address is None

    def test_literal_address_is_reported_canonically(self) -> None:
        parsed = validate_webhook_url(
            "https://[2606:2800:0220:0001::1]/", allow_http=False, allow_private=False
        )
        assert parsed.host == "2606:2800:220:1::1"
        assert parsed.address == ipaddress.ip_address("2606:2800:220:1::1")
        assert parsed.port == 443
        assert parsed.target == "/"

    def test_length_limit_is_2048(self) -> None:
        base = "https://example.com/"
        validate_webhook_url(base + "a" * (2048 - len(base)), allow_http=False, allow_private=False)
        with pytest.raises(UnsafeWebhookURL):
            validate_webhook_url(
                base + "a" * (2049 - len(base)), allow_http=False, allow_private=False
            )

    def test_http_allowed_when_configured(self) -> None:
        parsed = validate_webhook_url("http://example.com/h", allow_http=True, allow_private=False)
        assert parsed.port == 80

    def test_allow_http_does_not_admit_other_schemes(self) -> None:
        with pytest.raises(UnsafeWebhookURL) as info:
            validate_webhook_url("ftp://example.com/", allow_http=True, allow_private=True)
        assert info.value.reason == "scheme"

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hook",
            "http://[::1]:8080/",
            "http://10.1.2.3/",
            "http://192.168.0.10/",
            "http://[fd00::5]/",
            "http://100.64.1.1/",
        ],
    )
    def test_allow_private_accepts_loopback_and_private(self, url: str) -> None:
        validate_webhook_url(url, allow_http=True, allow_private=True)

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://169.254.169.254/", "link-local"),
            ("http://[fe80::1]/", "link-local"),
            ("http://0.0.0.0:8080/", "unspecified"),
            ("http://224.0.0.1/", "multicast"),
            ("http://255.255.255.255/", "broadcast"),
            ("http://192.0.2.1/", "documentation"),
            ("http://2130706433/", "non-canonical-address"),
        ],
    )
    def test_allow_private_still_refuses(self, url: str, reason: str) -> None:
        with pytest.raises(UnsafeWebhookURL) as info:
            validate_webhook_url(url, allow_http=True, allow_private=True)
        assert info.value.reason == reason

    def test_message_never_echoes_the_url(self) -> None:
        url = "https://10.0.0.1/hooks/secret-token-123"
        with pytest.raises(UnsafeWebhookURL) as info:
            validate_webhook_url(url, allow_http=False, allow_private=False)
        assert "secret-token-123" not in str(info.value)
        assert "10.0.0.1" not in str(info.value)

    def test_is_a_notifier_error_and_value_error(self) -> None:
        with pytest.raises(NotifierError):
            validate_webhook_url("http://example.com/", allow_http=False, allow_private=False)
        with pytest.raises(ValueError):
            validate_webhook_url("http://example.com/", allow_http=False, allow_private=False)


class _StubResolver:
    """Answers from a table; records every lookup. Never touches the network."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


class TestResolveAndCheck:
    async def test_hostname_resolving_to_loopback_refused(self) -> None:
        resolver = _StubResolver({"localhost": ["127.0.0.1", "::1"]})
        with pytest.raises(UnsafeWebhookURL) as info:
            await resolve_and_check("localhost", 443, allow_private=False, resolver=resolver)
        assert info.value.reason == "loopback"
        assert resolver.calls == [("localhost", 443)]

    async def test_any_unsafe_answer_refuses_the_host(self) -> None:
        resolver = _StubResolver({"mixed.example": ["93.184.216.34", "10.0.0.7"]})
        with pytest.raises(UnsafeWebhookURL) as info:
            await resolve_and_check("mixed.example", 443, allow_private=False, resolver=resolver)
        assert info.value.reason == "private-address"

    @pytest.mark.parametrize(
        ("answer", "reason"),
        [
            ("169.254.169.254", "link-local"),
            ("::ffff:169.254.169.254", "link-local"),
            ("fe80::1%eth0", "link-local"),
            ("100.64.0.1", "cgnat"),
            ("0.0.0.0", "unspecified"),
            ("fc00::1", "private-address"),
            ("not-an-address", "unresolvable"),
        ],
    )
    async def test_unsafe_answer_refused(self, answer: str, reason: str) -> None:
        resolver = _StubResolver({"rebind.example": [answer]})
        with pytest.raises(UnsafeWebhookURL) as info:
            await resolve_and_check("rebind.example", 443, allow_private=False, resolver=resolver)
        assert info.value.reason == reason

    async def test_public_answers_returned_in_order_without_duplicates(self) -> None:
        resolver = _StubResolver(
            {"hooks.example": ["93.184.216.34", "2606:2800:220:1::1", "93.184.216.34"]}
        )
        addresses = await resolve_and_check(
            "Hooks.Example", 443, allow_private=False, resolver=resolver
        )
        assert addresses == [
            ipaddress.ip_address("93.184.216.34"),
            ipaddress.ip_address("2606:2800:220:1::1"),
        ]
        assert resolver.calls == [("hooks.example", 443)]

    async def test_unresolvable_name(self) -> None:
        with pytest.raises(UnsafeWebhookURL) as info:
            await resolve_and_check(
                "nx.example", 443, allow_private=False, resolver=_StubResolver({})
            )
        assert info.value.reason == "unresolvable"

    async def test_empty_answer_is_unresolvable(self) -> None:
        resolver = _StubResolver({"empty.example": []})
        with pytest.raises(UnsafeWebhookURL) as info:
            await resolve_and_check("empty.example", 443, allow_private=False, resolver=resolver)
        assert info.value.reason == "unresolvable"

    @pytest.mark.parametrize(
        ("host", "reason"),
        [
            ("127.0.0.1", "loopback"),
            ("2130706433", "loopback"),
            ("0x7f.1", "loopback"),
            ("[::1]", "loopback"),
            ("::ffff:7f00:1", "loopback"),
            ("1572395042", "non-canonical-address"),
        ],
    )
    async def test_literal_hosts_are_checked_without_lookup(self, host: str, reason: str) -> None:
        resolver = _StubResolver({})
        with pytest.raises(UnsafeWebhookURL) as info:
            await resolve_and_check(host, 80, allow_private=False, resolver=resolver)
        assert info.value.reason == reason
        assert resolver.calls == []

    async def test_public_literal_returned_without_lookup(self) -> None:
        resolver = _StubResolver({})
        addresses = await resolve_and_check(
            "93.184.216.34", 443, allow_private=False, resolver=resolver
        )
        assert addresses == [ipaddress.ip_address("93.184.216.34")]
        assert resolver.calls == []

    async def test_allow_private_accepts_loopback(self) -> None:
        resolver = _StubResolver({"localhost": ["127.0.0.1"]})
        addresses = await resolve_and_check(
            "localhost", 8080, allow_private=True, resolver=resolver
        )
        assert addresses == [ipaddress.ip_address("127.0.0.1")]

    async def test_allow_private_still_refuses_metadata_address(self) -> None:
        resolver = _StubResolver({"meta.example": ["169.254.169.254"]})
        with pytest.raises(UnsafeWebhookURL) as info:
            await resolve_and_check("meta.example", 80, allow_private=True, resolver=resolver)
        assert info.value.reason == "link-local"

    async def test_system_resolver_handles_a_numeric_host(self) -> None:
        # A numeric host is answered by getaddrinfo itself; no DNS query is sent.
        assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]


class TestAddressClassification:
    @given(st.integers(min_value=0, max_value=2**32 - 1))
    def test_ipv4_mapped_form_inherits_the_ipv4_verdict(self, value: int) -> None:
        v4 = ipaddress.IPv4Address(value)
        mapped = ipaddress.IPv6Address((0xFFFF << 32) | value)
        for allow_private in (False, True):
            assert unsafe_address_reason(mapped, allow_private=allow_private) == (
                unsafe_address_reason(v4, allow_private=allow_private)
            )

    @given(st.integers(min_value=0, max_value=2**32 - 1))
    def test_nat64_and_6to4_forms_never_admit_an_unsafe_ipv4(self, value: int) -> None:
        v4 = ipaddress.IPv4Address(value)
        nat64 = ipaddress.IPv6Address((0x0064FF9B << 96) | value)
        six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | 1)
        expected = unsafe_address_reason(v4, allow_private=False)
        assert unsafe_address_reason(nat64, allow_private=False) == expected
        assert unsafe_address_reason(six_to_four, allow_private=False) == expected

    @given(st.integers(min_value=0, max_value=2**24 - 1))
    def test_every_address_in_ten_slash_eight_is_private(self, low: int) -> None:
        address = ipaddress.IPv4Address((10 << 24) | low)
        assert unsafe_address_reason(address, allow_private=False) == "private-address"
        assert unsafe_address_reason(address, allow_private=True) is None


class TestLoopbackOnly:
    """``allow_loopback`` (development's default) admits loopback and nothing else that
    ``allow_private`` (the explicit opt-in) would. Validation only: nothing connects."""

    @pytest.mark.parametrize(
        "url", ["http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://127.3.4.5/hook"]
    )
    def test_loopback_is_admitted(self, url: str) -> None:
        validate_webhook_url(url, allow_http=True, allow_private=False, allow_loopback=True)

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://10.0.0.1/", "private-address"),
            ("http://172.16.5.4/", "private-address"),
            ("http://192.168.1.1/", "private-address"),
            ("http://100.64.0.1/", "cgnat"),
            ("http://[fd00::1]/", "private-address"),
            ("http://[::ffff:10.0.0.1]/", "private-address"),
            ("http://169.254.169.254/", "link-local"),
        ],
    )
    def test_private_ranges_need_the_opt_in(self, url: str, reason: str) -> None:
        with pytest.raises(UnsafeWebhookURL) as info:
            validate_webhook_url(url, allow_http=True, allow_private=False, allow_loopback=True)
        assert info.value.reason == reason
        if reason != "link-local":  # link-local is refused in every mode
            validate_webhook_url(url, allow_http=True, allow_private=True)

    async def test_names_resolving_to_private_addresses_are_refused(self) -> None:
        async def resolver(host: str, port: int) -> list[str]:
            return {"dev.test": ["127.0.0.1"], "lan.test": ["127.0.0.1", "10.0.0.7"]}[host]

        assert await resolve_and_check(
            "dev.test", 80, allow_private=False, allow_loopback=True, resolver=resolver
        ) == [ipaddress.ip_address("127.0.0.1")]
        with pytest.raises(UnsafeWebhookURL) as info:
            await resolve_and_check(
                "lan.test", 80, allow_private=False, allow_loopback=True, resolver=resolver
            )
        assert info.value.reason == "private-address"


class TestSettingsDefaults:
    def test_development_reaches_loopback_only_unless_opted_in(self) -> None:
        from verwijsindex.settings import Settings

        development = Settings()
        assert development.allow_private_webhook_addresses is False
        assert development.allow_loopback_webhook_addresses is True
        opted_in = Settings(allow_private_webhook_addresses=True)
        assert opted_in.allow_private_webhook_addresses is True
        no_loopback = Settings(allow_loopback_webhook_addresses=False)
        assert no_loopback.allow_loopback_webhook_addresses is False
        production = Settings(env="production")  # type: ignore[arg-type]
        assert production.allow_private_webhook_addresses is False
        assert production.allow_loopback_webhook_addresses is False
