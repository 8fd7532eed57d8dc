"""Who the client is behind a load balancer: the connection's peer, or, when that peer is a
trusted proxy (`--trusted-proxies`), the rightmost untrusted address of `X-Forwarded-For`.
Both edges ask `client_address`, so one client has one failed-auth count whichever way in."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"
_GRPC_PEER_KINDS = ("ipv4:", "ipv6:")


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The address ranges whose `X-Forwarded-For` is believed; empty: nobody's."""

    networks: tuple[IPNetwork, ...] = ()

    def __contains__(self, address: object) -> bool:
        return isinstance(address, IPAddress) and any(
            address in network for network in self.networks
        )

    def __str__(self) -> str:
        return ",".join(str(network) for network in self.networks) or "none"


TRUST_NOBODY = TrustedProxies()


def trusted_proxies(text: str) -> TrustedProxies:
    """Parse `CIDR[,CIDR...]` (a bare address is its own /32 or /128; empty or `none`: nobody).

    Raises:
        ValueError: an entry is not an address or a network (host bits set count as wrong:
            `10.0.0.1/8` is more likely a typo than a wish to trust 10.0.0.0/8).
    """
    if text.strip().lower() in {"", "none", "off"}:
        return TRUST_NOBODY
    networks: list[IPNetwork] = []
    for entry in text.split(","):
        try:
            networks.append(ipaddress.ip_network(entry.strip()))
        except ValueError as error:
            raise ValueError(
                f"expected CIDR[,CIDR...] such as 10.0.0.0/8,fd00::/8 but {entry.strip()!r}: "
                f"{error}"
            ) from None
    return TrustedProxies(tuple(networks))


def _unmapped(address: IPAddress) -> IPAddress:
    """`::ffff:10.0.0.1` (an IPv4 client of a dual-stack socket) is 10.0.0.1."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(text: str) -> IPAddress | None:
    """One address as proxies and servers write it: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
    `[2001:db8::1]` or `[2001:db8::1]:80`; None for anything else."""
    text = text.strip()
    if text.startswith("["):
        inside, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[:1] == ":" and port[1:].isdigit())):
            return None
        text = inside
    elif text.count(":") == 1:  # IPv4 with a port; IPv6 has at least two colons
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        return _unmapped(ipaddress.ip_address(text))
    except ValueError:
        return None


def peer_ip(peer: str) -> IPAddress | None:
    """The address of a gRPC peer (`ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678` or its URI-escaped
    `ipv6:%5B::1%5D:5678`) or of an HTTP client host; None for a Unix socket or unknown."""
    for kind in _GRPC_PEER_KINDS:
        if peer.startswith(kind):
            peer = unquote(peer[len(kind) :])
            break
    return parse_address(peer)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: TrustedProxies) -> str:
    """The client's address: the peer's when the peer is not a trusted proxy; otherwise walk
    `X-Forwarded-For` (every header value, in order) from the right, skipping trusted addresses,
    and take the first untrusted one.

    Only the right end is written by proxies we trust; anything to its left came from the
    client, so a client cannot choose its address by sending its own header. A malformed entry
    met on the walk gives the peer's address; entries left of the answer are never read. A
    chain of trusted addresses only gives its leftmost.
    """
    direct = peer_ip(peer)
    if direct is None:
        return peer or UNKNOWN
    if direct not in trusted:
        return str(direct)
    chain = [entry for value in forwarded_for for entry in value.split(",")]
    answer = direct
    for entry in reversed(chain):
        address = parse_address(entry)
        if address is None:
            return str(direct)
        answer = address
        if address not in trusted:
            break
    return str(answer)
