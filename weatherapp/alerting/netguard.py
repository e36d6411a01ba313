"""Which outbound URLs we will call: the SSRF guard for webhooks.

A URL is checked once (scheme, no credentials) and its host resolved once;
the caller then connects to the address that was checked, so a DNS answer
that changes in between (DNS rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse

from django.conf import settings

# Cloud metadata services answer on these addresses inside many networks.
METADATA_HOSTS = {"169.254.169.254", "fd00:ec2::254", "100.100.100.200"}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(*cidrs: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Every entry of IANA's special-purpose address registries (iana.org/assignments/
# iana-ipv4-special-registry and iana-ipv6-special-registry), refused outright:
# Python's is_global misses some (3.11 calls 192.0.0.8 and 2002::/16 global).
SPECIAL_PURPOSE = _networks(
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8",
    "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",  # IETF protocol assignments (192.0.0.8: dummy address)
    "192.0.2.0/24",
    "192.31.196.0/24",  # AS112
    "192.52.193.0/24",  # AMT
    "192.88.99.0/24",  # the old 6to4 relay anycast
    "192.168.0.0/16",
    "192.175.48.0/24",  # AS112 direct delegation
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and 255.255.255.255
    "::/128",
    "::1/128",
    "::/96",  # IPv4-compatible (deprecated); unwrapped below first
    "::ffff:0:0/96",  # IPv4-mapped; unwrapped below first
    "64:ff9b::/96",  # NAT64; unwrapped below first
    "64:ff9b:1::/48",  # local-use NAT64
    "100::/64",  # discard-only
    "100:0:0:1::/64",  # dummy prefix
    "2001::/23",  # IETF protocol assignments (Teredo is unwrapped first)
    "2001:db8::/32",
    "2002::/16",  # 6to4; unwrapped below first
    "2620:4f:8000::/48",  # AS112 direct delegation
    "3fff::/20",  # documentation
    "5f00::/16",  # SRv6 SIDs
    "fc00::/7",  # unique local
    "fe80::/10",
    "ff00::/8",  # multicast
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class Refused(ValueError):
    """A webhook URL we will not call."""


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, by any transition scheme:
    IPv4-mapped and -compatible, 6to4, Teredo (server and client) and NAT64.
    A packet to the IPv6 address may reach these, so they are checked too."""
    if isinstance(ip, ipaddress.IPv4Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def non_public(ip: IPAddress) -> bool:
    """Whether ``ip`` (taken as it is, not unwrapped) may reach a host we must
    not call: loopback, private, link-local, multicast, reserved, metadata or
    any special-purpose range."""
    return (
        str(ip) in METADATA_HOSTS
        or not ip.is_global
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or any(ip in net for net in SPECIAL_PURPOSE if net.version == ip.version)
    )


def refusal(ip: IPAddress) -> str | None:
    """What makes ``ip`` no address to connect to, or None if it is public."""
    embedded = embedded_ipv4(ip)
    inner = [v4 for v4 in embedded if non_public(v4)]
    if inner:
        return f"{ip}, which carries {inner[0]}"
    if embedded and ip not in IPV4_COMPATIBLE:
        # A public IPv4 inside 6to4, Teredo, NAT64 or IPv4-mapped: the wrapper's
        # own range is special-purpose by design; the address inside counts.
        return None
    if non_public(ip):
        return str(ip)
    return None


def public_address(host: str, port: int) -> str:
    """Resolve ``host`` and return an address that is safe to connect to.

    Refuses loopback, private, link-local, multicast, reserved, cloud
    metadata and IANA special-purpose addresses, also when wrapped in an IPv6
    transition address (6to4, Teredo, NAT64, IPv4-mapped) (SSRF). The caller
    connects to the returned address itself, so a DNS answer that changes
    between check and connect (DNS rebinding) cannot redirect the request.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        # Not the resolver's "[Errno -2] Name or service not known": people
        # read this under the webhook field.
        raise Refused(
            f"the host {host} could not be found: check the address for typos"
        ) from None
    addresses = [str(info[4][0]) for info in infos]
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return addresses[0]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        problem = refusal(ip)
        if problem is not None:
            raise Refused(f"{host} resolves to a non-public address ({problem})")
    return addresses[0]


def check_webhook_url(url: str) -> tuple[urllib.parse.SplitResult, int]:
    try:
        parts = urllib.parse.urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 host
        raise Refused(f"a webhook URL must be http(s)://host/...: {exc}") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise Refused("a webhook URL must be http(s)://host/...")
    if parts.username or parts.password:
        raise Refused("a webhook URL must not carry credentials")
    try:
        explicit = parts.port  # raises ValueError beyond 65535 or for letters
    except ValueError:
        explicit = -1
    if explicit is not None and not 1 <= explicit <= 65535:
        given = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
        raise Refused(f"port {given[:20]} is no port: give one from 1 to 65535")
    port = explicit or (443 if parts.scheme == "https" else 80)
    return parts, port
