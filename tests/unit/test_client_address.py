"""The client address rule both edges use: the peer, or the rightmost untrusted
X-Forwarded-For address when the peer is a trusted proxy; spoofs, IPv6, ports and junk."""

from __future__ import annotations

import argparse

import pytest
from pixpress_server import settings as settings_module
from pixpress_server.client_address import (
    TRUST_NOBODY,
    client_address,
    parse_address,
    peer_ip,
    trusted_proxies,
)

PROXIES = trusted_proxies("10.0.0.0/8, fd00::/8, 127.0.0.2")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        # A peer outside the trusted ranges is the client, whatever it claims.
        ("ipv4:203.0.113.7:5000", ["1.2.3.4"], "203.0.113.7"),
        ("203.0.113.7", ["1.2.3.4"], "203.0.113.7"),
        # From a trusted proxy: the address it appended.
        ("ipv4:10.0.0.5:5000", ["198.51.100.9"], "198.51.100.9"),
        ("10.0.0.5", ["198.51.100.9"], "198.51.100.9"),
        # A client's own header is left of what the proxy appended: never read.
        ("ipv4:10.0.0.5:5000", ["1.2.3.4, 198.51.100.9"], "198.51.100.9"),
        ("ipv4:10.0.0.5:5000", ["10.9.9.9, 198.51.100.9"], "198.51.100.9"),
        ("ipv4:10.0.0.5:5000", ["junk, 198.51.100.9"], "198.51.100.9"),
        # Trusted hops on the right are skipped, by range.
        ("ipv4:10.0.0.5:5000", ["1.2.3.4, 198.51.100.9, 10.1.1.1, 10.2.2.2"], "198.51.100.9"),
        # Several header lines are one list, in order.
        ("ipv4:10.0.0.5:5000", ["1.2.3.4", "198.51.100.9, 10.1.1.1"], "198.51.100.9"),
        # No header, or an empty one, from a trusted proxy: the proxy itself.
        ("ipv4:10.0.0.5:5000", [], "10.0.0.5"),
        ("ipv4:10.0.0.5:5000", [""], "10.0.0.5"),
        # Only trusted addresses: the leftmost, the farthest hop known.
        ("ipv4:10.0.0.5:5000", ["10.3.3.3, 10.1.1.1"], "10.3.3.3"),
        # Malformed where the walk reads it: the peer.
        ("ipv4:10.0.0.5:5000", ["1.2.3.4, unknown"], "10.0.0.5"),
        ("ipv4:10.0.0.5:5000", ["198.51.100.9, "], "10.0.0.5"),
        ("ipv4:10.0.0.5:5000", ["198.51.100.9,,10.1.1.1"], "10.0.0.5"),
        ("ipv4:10.0.0.5:5000", ["300.1.1.1"], "10.0.0.5"),
        ("ipv4:10.0.0.5:5000", ["198.51.100.9:http"], "10.0.0.5"),
        ("ipv4:10.0.0.5:5000", ["[2001:db8::1"], "10.0.0.5"),
        ("ipv4:10.0.0.5:5000", ["[2001:db8::1]x"], "10.0.0.5"),
        # Ports written by some proxies are dropped.
        ("ipv4:10.0.0.5:5000", ["198.51.100.9:4711"], "198.51.100.9"),
        ("ipv4:10.0.0.5:5000", ["[2001:db8::1]:4711"], "2001:db8::1"),
        # IPv6: bare, bracketed, gRPC's peer forms (plain and URI-escaped), canonical output.
        ("ipv4:10.0.0.5:5000", ["2001:DB8:0:0::1"], "2001:db8::1"),
        ("ipv4:10.0.0.5:5000", ["[2001:db8::1]"], "2001:db8::1"),
        ("ipv6:[fd00::1]:5000", ["2001:db8::1"], "2001:db8::1"),
        ("ipv6:%5Bfd00::1%5D:5000", ["2001:db8::1, fd12::1"], "2001:db8::1"),
        ("ipv6:[2001:db8::2]:5000", ["2001:db8::1"], "2001:db8::2"),
        ("::1", ["2001:db8::1"], "::1"),
        # An IPv4 client of a dual-stack socket is the IPv4 address, trusted by its range.
        ("ipv6:[::ffff:10.0.0.5]:5000", ["198.51.100.9"], "198.51.100.9"),
        ("ipv4:10.0.0.5:5000", ["::ffff:198.51.100.9"], "198.51.100.9"),
        # A bare trusted address is its own /32.
        ("ipv4:127.0.0.2:5000", ["127.0.0.3"], "127.0.0.3"),
        ("ipv4:127.0.0.4:5000", ["127.0.0.3"], "127.0.0.4"),
        # A peer that is no IP address is itself.
        ("unix:/run/pixpress.sock", ["1.2.3.4"], "unix:/run/pixpress.sock"),
        ("", ["1.2.3.4"], "unknown"),
    ],
)
def test_client_address(peer: str, forwarded_for: list[str], expected: str) -> None:
    assert client_address(peer, forwarded_for, PROXIES) == expected


@pytest.mark.parametrize(
    "peer", ["ipv4:10.0.0.5:5000", "ipv4:127.0.0.2:5000", "ipv6:[fd00::1]:5000"]
)
def test_nobody_is_trusted_by_default(peer: str) -> None:
    assert client_address(peer, ["198.51.100.9"], TRUST_NOBODY) == str(peer_ip(peer))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ipv4:127.0.0.1:50123", "127.0.0.1"),
        ("ipv6:[::1]:50123", "::1"),
        ("ipv6:%5B2001:db8::1%5D:443", "2001:db8::1"),
        ("unix:/tmp/socket", None),
        ("ipv4:not-an-address:1", None),
    ],
)
def test_peer_ip_drops_the_port(text: str, expected: str | None) -> None:
    address = peer_ip(text)
    assert (None if address is None else str(address)) == expected


@pytest.mark.parametrize("text", ["", " ", "1.2.3", "1.2.3.4:", "1.2.3.4:-1", "::1]", "[::1]:"])
def test_junk_is_no_address(text: str) -> None:
    assert parse_address(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "none"),
        ("none", "none"),
        ("127.0.0.2/32", "127.0.0.2/32"),
        ("10.0.0.0/8, fd00::/8", "10.0.0.0/8,fd00::/8"),
        ("127.0.0.2", "127.0.0.2/32"),
        ("::1", "::1/128"),
    ],
)
def test_trusted_proxies_parse(text: str, expected: str) -> None:
    assert str(trusted_proxies(text)) == expected


@pytest.mark.parametrize("text", ["10.0.0.1/8", "10.0.0.0/33", "nginx", "10.0.0.0/8,"])
def test_trusted_proxies_refuse_mistakes(text: str) -> None:
    with pytest.raises(ValueError, match=r"CIDR\[,CIDR\.\.\.\]"):
        trusted_proxies(text)


def test_the_flag_and_its_env_twin() -> None:
    parser = argparse.ArgumentParser()
    settings_module.add_arguments(parser)
    assert settings_module.load(parser.parse_args([]), {}).trusted_proxies == TRUST_NOBODY
    from_env = settings_module.load(
        parser.parse_args([]), {"PIXPRESS_TRUSTED_PROXIES": "10.0.0.0/8"}
    )
    assert str(from_env.trusted_proxies) == "10.0.0.0/8"
    from_flag = settings_module.load(
        parser.parse_args(["--trusted-proxies", "127.0.0.2/32"]),
        {"PIXPRESS_TRUSTED_PROXIES": "10.0.0.0/8"},
    )
    assert str(from_flag.trusted_proxies) == "127.0.0.2/32"
    with pytest.raises(settings_module.SettingsError, match="--trusted-proxies"):
        settings_module.load(parser.parse_args(["--trusted-proxies", "10.0.0.1/8"]), {})
