"""webhooks.url_policy: which addresses count as public, and how hosts are resolved (DNS stubbed)."""

import ipaddress
import socket

import pytest

from webhooks.url_policy import (
    BlockedAddress,
    InvalidEndpointUrl,
    UnresolvableHost,
    is_public_address,
    resolve_public_addresses,
    validate_endpoint_url,
)

BLOCKED = [
    "127.0.0.1",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "198.18.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "224.0.0.1",
    "::1",
    "::",
    "fc00::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "2002:7f00:1::",
    "2002:c0a8:101::1",
    "64:ff9b:1::a00:1",
    "2001:db8::1",
]
ALLOWED = ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]


def stub_dns(monkeypatch, answers: dict[str, list[str]] | None = None, error: Exception | None = None):
    """Replace socket.getaddrinfo as url_policy calls it; record the (host, port) asked for."""
    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append((host, port))
        if error is not None:
            raise error
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
             (ip, port, 0, 0) if ":" in ip else (ip, port))
            for ip in answers[host]
        ]

    monkeypatch.setattr("webhooks.url_policy.socket.getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_address_is_not_public(address):
    assert is_public_address(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", ALLOWED)
def test_public_address_is_public(address):
    assert is_public_address(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize("address", BLOCKED)
def test_host_resolving_to_a_non_public_address_is_blocked(monkeypatch, address):
    stub_dns(monkeypatch, {"hooks.example.com": [address]})

    with pytest.raises(BlockedAddress, match=r"non-public"):
        resolve_public_addresses("hooks.example.com", 443)


def test_host_resolving_to_public_addresses_returns_them_all_once(monkeypatch):
    asked = stub_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34", "2606:4700:4700::1111", "93.184.216.34"]})

    addresses = resolve_public_addresses("hooks.example.com", 8443)

    assert addresses == [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("2606:4700:4700::1111")]
    assert asked == [("hooks.example.com", 8443)]


@pytest.mark.parametrize("answers", [["93.184.216.34", "10.0.0.5"], ["10.0.0.5", "93.184.216.34"]])
def test_host_mixing_public_and_private_answers_is_refused(monkeypatch, answers):
    stub_dns(monkeypatch, {"rebind.example.com": answers})

    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.5"):
        resolve_public_addresses("rebind.example.com", 443)


def test_scoped_link_local_answer_is_refused(monkeypatch):
    stub_dns(monkeypatch, {"hooks.example.com": ["fe80::1%eth0"]})

    with pytest.raises(BlockedAddress):
        resolve_public_addresses("hooks.example.com", 443)


@pytest.mark.parametrize(
    "error",
    [
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure"),
    ],
)
def test_dns_failure_fails_closed(monkeypatch, error):
    stub_dns(monkeypatch, error=error)

    with pytest.raises(UnresolvableHost):
        resolve_public_addresses("nowhere.example.com", 443)


def test_unresolvable_host_is_an_invalid_endpoint_url(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    stub_dns(monkeypatch, error=socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    with pytest.raises(InvalidEndpointUrl):
        validate_endpoint_url("https://nowhere.example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f000001/",
        "http://017700000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0/",
        "http://[::1]/",
        "http://[::ffff:7f00:1]/",
        "http://localhost:8000/",
    ],
)
def test_other_spellings_of_loopback_are_refused_when_private_not_allowed(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.WEBHOOK_REQUIRE_HTTPS = False

    with pytest.raises(BlockedAddress):
        validate_endpoint_url(url)


@pytest.mark.parametrize("url", ["https://[not-an-ip/", "http://[::1", "https://[127.0.0.1]/"])
def test_malformed_host_is_an_invalid_endpoint_url_not_a_crash(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    with pytest.raises(InvalidEndpointUrl):
        validate_endpoint_url(url)


def test_validation_resolves_the_url_host_on_its_default_port(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    asked = stub_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})

    assert validate_endpoint_url("https://hooks.example.com/in") == "https://hooks.example.com/in"
    assert validate_endpoint_url("https://hooks.example.com:8443/in") == "https://hooks.example.com:8443/in"
    assert asked == [("hooks.example.com", 443), ("hooks.example.com", 8443)]


def test_private_urls_are_not_resolved_when_allowed(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    asked = stub_dns(monkeypatch, error=AssertionError("must not resolve"))

    assert validate_endpoint_url("http://127.0.0.1:9000/in") == "http://127.0.0.1:9000/in"
    assert asked == []


def test_http_scheme_is_refused_when_https_required(settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True

    with pytest.raises(InvalidEndpointUrl, match="https"):
        validate_endpoint_url("http://hooks.example.com/")


def test_http_scheme_is_accepted_when_https_not_required(settings):
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    assert validate_endpoint_url("http://hooks.example.com/") == "http://hooks.example.com/"


# --- Control characters and internationalized host names --------------------------------------------

CONTROL_CHARACTERS = ["\t", "\r", "\n", "\x00", "\x01", "\x0b", "\x1b", "\x1f", "\x7f"]


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize(
    "template",
    ["https://hooks.exa{}mple.com/in", "https://hooks.example.com/i{}n", "https://hooks.example.com/in{}", "{}https://hooks.example.com/in"],
    ids=["host", "path", "end", "start"],
)
def test_control_characters_anywhere_are_refused(settings, char, template):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    with pytest.raises(InvalidEndpointUrl, match=rf"control characters \(found U\+{ord(char):04X} at position"):
        validate_endpoint_url(template.format(char))


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://bücher.example/hook", "https://xn--bcher-kva.example/hook"),
        ("https://BÜCHER.Example:8443/a/ü?q=ü#f", "https://xn--bcher-kva.example:8443/a/ü?q=ü#f"),  # host only
        ("https://bücher。example/hook", "https://xn--bcher-kva.example/hook"),  # an ideographic full stop
        ("https://faß.de/hook", "https://xn--fa-hia.de/hook"),  # IDNA 2008: not "fass.de" as IDNA 2003 has it
        ("https://xn--bcher-kva.example/hook", "https://xn--bcher-kva.example/hook"),
        ("https://Hooks.Example.com/in?", "https://Hooks.Example.com/in?"),  # ASCII: byte for byte as given
    ],
)
def test_internationalized_host_names_are_stored_in_punycode(settings, url, stored):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    assert validate_endpoint_url(url) == stored


def test_internationalized_host_is_resolved_and_refused_in_punycode_like_an_ascii_one(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.WEBHOOK_REQUIRE_HTTPS = True
    asked = stub_dns(monkeypatch, {"xn--bcher-kva.example": ["10.0.0.7"], "xn--fa-hia.de": ["93.184.216.34"]})

    with pytest.raises(
        BlockedAddress, match=r"'xn--bcher-kva\.example' resolves to a non-public address \(10\.0\.0\.7\)"
    ):
        validate_endpoint_url("https://bücher.example/hook")
    assert validate_endpoint_url("https://faß.de/hook") == "https://xn--fa-hia.de/hook"
    assert asked == [("xn--bcher-kva.example", 443), ("xn--fa-hia.de", 443)]


@pytest.mark.parametrize(
    "url",
    [
        "https://a\u200db.example/hook",  # a zero-width joiner outside its allowed context
        "https://-bücher.example/hook",  # a hyphen at the start of a label
        "https://bü_cher.example/hook",  # not a valid code point in a host name
        "https://xn--zz.example/hook",  # punycode that does not decode
    ],
)
def test_invalid_internationalized_host_name_is_refused_clearly(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    with pytest.raises(InvalidEndpointUrl, match="is not a valid internationalized host name"):
        validate_endpoint_url(url)


def test_url_longer_than_the_limit_once_in_punycode_is_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    url = "https://bücher.example/" + "a" * 2020  # 2,043 characters as given, 2,050 in punycode

    with pytest.raises(InvalidEndpointUrl, match="once the host is in ASCII"):
        validate_endpoint_url(url)
