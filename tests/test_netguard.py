"""Issue 12, item 13 (and a 500 of item 12): the webhook SSRF guard unwraps
IPv4 addresses carried in IPv6 (6to4, Teredo, NAT64, IPv4-mapped and
-compatible) and refuses every IANA special-purpose range; a URL's port out of
range is a clear refusal, not urllib's ValueError."""

import ipaddress

import pytest
from django.contrib.auth.models import User

from weatherapp.alerting import netguard
from weatherapp.alerting.netguard import Refused, public_address


def teredo(server: str, client: str) -> str:
    """A Teredo address (RFC 4380): the client's address is stored inverted."""
    value = (
        (0x20010000 << 96)
        | (int(ipaddress.IPv4Address(server)) << 64)
        | (int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF)
    )
    return str(ipaddress.IPv6Address(value))


WRAPPED_LOOPBACK = [
    "2002:7f00:1::",  # 6to4 of 127.0.0.1 (was accepted)
    "2002:a9fe:a9fe::1",  # 6to4 of the metadata address
    "2002:c0a8:101::",  # 6to4 of 192.168.1.1
    teredo("65.54.227.120", "127.0.0.1"),  # Teredo, client loopback
    teredo("10.0.0.1", "8.8.8.8"),  # Teredo, server private
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::808:808",  # local-use NAT64, whatever it carries
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "::8.8.8.8",  # IPv4-compatible: deprecated, never routed
]
# One address in each IANA special-purpose range (Python 3.11's is_global lets
# some of them through: 192.0.0.8 was accepted).
SPECIAL_PURPOSE = [
    "0.1.2.3",
    "10.1.2.3",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.2",
    "169.254.1.1",
    "172.31.0.1",
    "192.0.0.8",
    "192.0.0.9",
    "192.0.0.170",
    "192.0.2.1",
    "192.31.196.1",
    "192.52.193.1",
    "192.88.99.1",
    "192.168.0.1",
    "192.175.48.1",
    "198.18.0.1",
    "198.19.255.254",
    "198.51.100.1",
    "203.0.113.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "100::1",
    "100:0:0:1::1",
    "2001:2::1",
    "2001:4:112::1",
    "2001:20::1",
    "2001:db8::1",
    "2620:4f:8000::1",
    "3fff::1",
    "5f00::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "ff02::1",
]


@pytest.mark.parametrize("address", WRAPPED_LOOPBACK + SPECIAL_PURPOSE)
def test_non_public_addresses_are_refused(address):
    with pytest.raises(Refused, match="non-public address"):
        public_address(address, 80)


def test_every_special_purpose_network_has_a_test_address():
    tested = [ipaddress.ip_address(a) for a in SPECIAL_PURPOSE + WRAPPED_LOOPBACK]
    for network in netguard.SPECIAL_PURPOSE:
        assert any(a in network for a in tested if a.version == network.version), (
            network
        )


def test_the_refusal_names_the_address_inside():
    with pytest.raises(Refused) as caught:
        public_address("2002:7f00:1::", 80)
    assert "127.0.0.1" in str(caught.value)


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "8.8.8.8",
        "2606:4700:4700::1111",
        "2002:808:808::1",  # 6to4 of a public address
        "64:ff9b::808:808",  # NAT64 of a public address
        "::ffff:8.8.8.8",
        teredo("65.54.227.120", "8.8.4.4"),
    ],
)
def test_public_addresses_pass(address):
    assert public_address(address, 443) == address


def test_what_each_wrapper_carries():
    embedded = netguard.embedded_ipv4
    loopback = ipaddress.IPv4Address("127.0.0.1")
    assert embedded(ipaddress.ip_address("2002:7f00:1::")) == [loopback]
    assert embedded(ipaddress.ip_address("64:ff9b::7f00:1")) == [loopback]
    assert loopback in embedded(ipaddress.ip_address(teredo("8.8.8.8", "127.0.0.1")))
    assert embedded(ipaddress.ip_address("2606:4700::1")) == []


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("https://hooks.example.com:99999/x", "99999"),
        ("https://hooks.example.com:65536/x", "65536"),
        ("https://hooks.example.com:0/x", "0"),
        ("http://[2606:4700::1]:70000/", "70000"),
    ],
)
def test_a_port_out_of_range_is_refused_naming_it(url, port):
    with pytest.raises(Refused, match=f"port {port} "):
        netguard.check_webhook_url(url)


def test_a_port_in_range_is_kept():
    assert netguard.check_webhook_url("https://h.example.com:8443/")[1] == 8443
    assert netguard.check_webhook_url("https://h.example.com/")[1] == 443


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://hooks.example.com:99999/rain", "port 99999"),
        ("http://[2002:7f00:1::]/rain", "127.0.0.1"),
        ("http://192.0.0.8/rain", "non-public address"),
    ],
)
def test_the_place_form_names_the_problem(client, url, message):
    """A port beyond 65535 in the place form was a 500."""
    owner = User.objects.create(username="ann", email="ann@example.com")
    client.force_login(owner)
    response = client.post(
        "/places/new/",
        {
            "name": "Home",
            "latitude": "36.1",
            "longitude": "-79.9",
            "timezone": "UTC",
            "threshold": "0.5",
            "webhook_url": url,
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["webhook_url"] and message in errors["webhook_url"][0]
    assert not owner.places.exists()
