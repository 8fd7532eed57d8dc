"""The server address a user gives, made into one gRPC target and its balancing: several
HOST:PORT (a comma list) or a `dns:///NAME:PORT` target spread calls round-robin."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from pixpress._errors import InvalidOptionsError

__all__ = ["ChannelTarget", "channel_target"]

# gRPC's own name resolvers: a target naming one of them is handed to gRPC as it is.
_SCHEMES = frozenset({"dns", "ipv4", "ipv6", "unix", "unix-abstract", "vsock"})
# These resolve to a list of addresses, which round_robin spreads calls over.
_BALANCED_SCHEMES = frozenset({"dns", "ipv4", "ipv6"})
ROUND_ROBIN = "round_robin"


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    """What a gRPC channel is made with: its target and the options that balance it."""

    uri: str
    balanced: bool = False
    # The name TLS checks (and `:authority`) when `uri` lists addresses resolved from names.
    authority: str | None = None

    @property
    def channel_options(self) -> list[tuple[str, str]]:
        """`grpc.lb_policy_name` round_robin when balanced (gRPC's default, pick_first, sends
        every call to the first address that answers); the authority when set."""
        options = [("grpc.lb_policy_name", ROUND_ROBIN)] if self.balanced else []
        if self.authority is not None:
            options.append(("grpc.default_authority", self.authority))
        return options


@dataclass(frozen=True, slots=True)
class _HostPort:
    host: str
    port: int

    @property
    def text(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def channel_target(target: str) -> ChannelTarget:
    """`target` as gRPC takes it: a scheme target (`dns:///name:443`, `ipv4:a:1,b:2`) as it
    is, balanced when it can name several addresses; one HOST:PORT as it is; several
    HOST:PORT, comma-separated, as one `ipv4:` (or `ipv6:`) list, balanced.

    Names in a list are resolved here, once: for a name whose addresses change, give
    `dns:///NAME:PORT`, which gRPC resolves again as connections fail.

    Raises:
        InvalidOptionsError: an empty target or list entry, an entry without a port, a name
            that does not resolve, or names without one address family in common.
    """
    text = target.strip()
    scheme = text.split(":", 1)[0].lower()
    if scheme in _SCHEMES:
        return ChannelTarget(text, balanced=scheme in _BALANCED_SCHEMES)
    entries = [entry.strip() for entry in text.split(",")]
    if not all(entries):
        raise InvalidOptionsError(
            f"Expected HOST:PORT or several separated by commas but received {target!r}"
        )
    if len(entries) == 1:
        return ChannelTarget(entries[0])
    servers = [_host_port(entry) for entry in entries]
    family, addresses = _addresses(servers)
    names = [server for server in servers if not _is_address(server.host)]
    return ChannelTarget(
        f"{family}:{','.join(addresses)}",
        balanced=True,
        authority=names[0].text if names else None,
    )


def _host_port(entry: str) -> _HostPort:
    host, _, port = entry.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidOptionsError(
            f"Expected HOST:PORT with a port from 1 to 65535 for each server of a list but"
            f" received {entry!r}"
        )
    return _HostPort(host, int(port))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolve(server: _HostPort) -> dict[str, list[str]]:
    """The server's addresses by family ("ipv4", "ipv6"), each as gRPC's list writes it
    (repeats are dropped once, over every server, by `_addresses`)."""
    try:
        infos = socket.getaddrinfo(server.host, server.port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise InvalidOptionsError(
            f"Cannot resolve {server.host} (of {server.text}): {error.strerror or error}"
        ) from error
    found: dict[str, list[str]] = {"ipv4": [], "ipv6": []}
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            key = "ipv6" if family == socket.AF_INET6 else "ipv4"
            found[key].append(_HostPort(str(sockaddr[0]), server.port).text)
    return found


def _addresses(servers: list[_HostPort]) -> tuple[str, list[str]]:
    """One family every server has (IPv4 first: gRPC's list holds one family) and the
    addresses of that family, in order, each once."""
    resolved = [_resolve(server) for server in servers]
    for family in ("ipv4", "ipv6"):
        if all(found[family] for found in resolved):
            addresses = [address for found in resolved for address in found[family]]
            return family, list(dict.fromkeys(addresses))
    raise InvalidOptionsError(
        "Expected servers that share an address family (all IPv4 or all IPv6) but received "
        + ", ".join(server.text for server in servers)
    )
