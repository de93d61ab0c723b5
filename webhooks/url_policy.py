"""Which endpoint URLs we accept, and which addresses we are willing to connect to.

Used twice: when an endpoint is registered (webhooks.serializers, the admin) and before
every delivery attempt (deliveries.transport), where the vetted address is the one the
connection is pinned to, so a second DNS answer cannot point us elsewhere.

What is stored is what was checked: an internationalized host name is converted to its
ASCII (punycode) form before the checks, and the URL is stored that way, so DNS, TLS and
the Host header all see the very name the address policy vetted.
"""

import ipaddress
import re
import socket
from urllib.parse import SplitResult, urlsplit

import idna
from django.conf import settings
from django.core.exceptions import ValidationError

MAX_URL_LENGTH = 2048

NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR_PREFIX = ipaddress.ip_network("2002::/16")
IPV4_COMPATIBLE_PREFIX = ipaddress.ip_network("::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# A DNS name: dot-separated labels of letters, digits and inner hyphens (after IDNA).
HOST_NAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?$")
# C0 controls and DEL. urlsplit silently drops tab, CR and LF (WHATWG), so a URL that
# smuggles them would be stored as one string and parsed as another: refuse the raw text.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


class InvalidEndpointUrl(ValueError):
    """The URL is not one we deliver to; the message says why, for the API caller."""


class UnresolvableHost(InvalidEndpointUrl):
    """DNS gave no answer; we fail closed."""


class BlockedAddress(InvalidEndpointUrl):
    """The host resolves to (or is) an address that is not on the public internet."""


def validate_endpoint_url(url: str) -> str:
    """The URL as we store it (host name in ASCII) if acceptable here, else InvalidEndpointUrl."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidEndpointUrl(f"Must be at most {MAX_URL_LENGTH} characters.")
    if match := CONTROL_CHARACTER.search(url):
        raise InvalidEndpointUrl(
            f"Must not contain control characters (found U+{ord(match.group()):04X} at position {match.start()})."
        )
    url = with_ascii_host(url, split_url(url))
    if len(url) > MAX_URL_LENGTH:
        raise InvalidEndpointUrl(f"Must be at most {MAX_URL_LENGTH} characters once the host is in ASCII.")
    parts = split_url(url)
    port = parts.port
    allowed_schemes = {"https"} if settings.WEBHOOK_REQUIRE_HTTPS else {"http", "https"}
    if parts.scheme not in allowed_schemes:
        raise InvalidEndpointUrl(f"Must be an absolute {' or '.join(sorted(allowed_schemes))} URL.")
    if not parts.hostname:
        raise InvalidEndpointUrl("Must include a host.")
    if parts.username is not None or parts.password is not None:
        raise InvalidEndpointUrl("Must not include a user name or password.")
    if not is_valid_host(parts.hostname):
        raise InvalidEndpointUrl(f"{parts.hostname!r} is not a valid host name or IP address.")
    if port == 0:
        raise InvalidEndpointUrl("Has an invalid port.")
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        resolve_public_addresses(parts.hostname, port or default_port(parts.scheme))
    return url


def clean_endpoint_url(url: str) -> str:
    """validate_endpoint_url for forms and serializers: the URL to store, or ValidationError."""
    try:
        return validate_endpoint_url(url)
    except InvalidEndpointUrl as exc:
        raise ValidationError(str(exc), code="invalid_url") from exc


def endpoint_url_validator(url: str) -> None:
    """The model field's validator: refuses what validate_endpoint_url refuses."""
    clean_endpoint_url(url)


def split_url(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsed lazily; a bad port raises here
    except ValueError:
        raise InvalidEndpointUrl("Is not a valid URL.") from None
    return parts


def with_ascii_host(url: str, parts: SplitResult) -> str:
    """The URL with its host name in ASCII; an ASCII host leaves the URL untouched."""
    host = parts.hostname
    if not host or host.isascii():
        if host:
            ascii_host_name(host)  # its punycode labels, if any, must decode
        return url
    userinfo, at, host_and_port = parts.netloc.rpartition("@")
    _, colon, port = host_and_port.partition(":")
    netloc = f"{userinfo}{at}{ascii_host_name(host)}{colon}{port}"
    return url.replace(f"//{parts.netloc}", f"//{netloc}", 1)


def ascii_host_name(host: str) -> str:
    """The host as DNS and TLS know it: IDNA 2008 A-labels ("bücher.example" -> "xn--bcher-kva.example").

    IDNA 2008 with UTS #46 mapping (lower case, full-width forms, ideographic dots), as
    WHATWG URLs and requests do, rather than Python's "idna" codec: that is IDNA 2003, which
    turns "faß.de" into "fass.de", another host than the one browsers and requests reach.
    """
    try:
        if host.isascii():
            # Plain ASCII labels keep today's rules (HOST_NAME), which IDNA 2008 is stricter
            # than ("r3---sn-x.example" exists); only A-labels are checked as IDNA.
            for label in host.split("."):
                if label.startswith("xn--"):
                    idna.decode(label)
            return host
        return idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError is one
        raise InvalidEndpointUrl(f"{host!r} is not a valid internationalized host name ({exc}).") from None


def is_valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return host.isascii() and len(host) <= 253 and HOST_NAME.match(host) is not None


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one wraps (mapped, compatible, NAT64 or 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_PREFIX or address in IPV4_COMPATIBLE_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        wrapped = embedded_ipv4(address)
        if wrapped is not None:
            return is_public_address(wrapped)
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False  # fec0::/10: deprecated, never routed publicly
    return address.is_global and not address.is_multicast and not address.is_reserved


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to. DNS failure is an error (fail closed)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"The host {host!r} could not be resolved.") from exc
    addresses = []
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def resolve_public_addresses(host: str, port: int) -> list[IPAddress]:
    """The host's addresses, refused if any one of them is not public."""
    addresses = resolve(host, port)
    blocked = [str(address) for address in addresses if not is_public_address(address)]
    if blocked:
        raise BlockedAddress(
            f"The host {host!r} resolves to a non-public address ({', '.join(blocked)})."
        )
    return addresses
