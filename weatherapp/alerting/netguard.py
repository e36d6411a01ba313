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


class Refused(ValueError):
    """A webhook URL we will not call."""


def public_address(host: str, port: int) -> str:
    """Resolve ``host`` and return an address that is safe to connect to.

    Refuses loopback, private, link-local, multicast, reserved and cloud
    metadata addresses (SSRF). The caller connects to the returned address
    itself, so a DNS answer that changes between check and connect (DNS
    rebinding) cannot redirect the request.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return addresses[0]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if (
            str(ip) in METADATA_HOSTS
            or ip.is_loopback
            or ip.is_private
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
            or not ip.is_global
        ):
            raise Refused(f"{host} resolves to a non-public address ({ip})")
    return addresses[0]


def check_webhook_url(url: str) -> tuple[urllib.parse.SplitResult, int]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("a webhook URL must be http(s)://host/...")
    if parts.username or parts.password:
        raise Refused("a webhook URL must not carry credentials")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts, port
