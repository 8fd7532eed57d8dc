"""Who may call, in order: a peer with too many recent failed authentications waits; then
the API key must be valid; then the key must be within its request rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixpress_server.errors import Throttled, Unauthenticated

if TYPE_CHECKING:
    from pixpress_server.auth.authenticator import Authenticator
    from pixpress_server.ratelimit import FailureWindow, TokenBuckets


def peer_address(peer: str) -> str:
    """The address part of a gRPC peer (`ipv4:1.2.3.4:5678` → `ipv4:1.2.3.4`): a client
    opening new connections gets a new port each time, never a new address."""
    kind, _, rest = peer.partition(":")
    if kind in {"ipv4", "ipv6"} and ":" in rest:
        return f"{kind}:{rest.rpartition(':')[0]}"
    return peer


class Gate:
    def __init__(
        self,
        authenticator: Authenticator,
        failures: FailureWindow,
        rates: TokenBuckets | None,
    ) -> None:
        self._authenticator = authenticator
        self._failures = failures
        self._rates = rates

    async def admit(self, authorization: str | None, peer: str) -> str:
        """The caller's owner.

        Raises:
            Throttled: the peer failed authentication too often lately (even a good key
                waits: otherwise the throttle would tell a guesser when a guess is right),
                or the key is over its rate; `retry_after` says for how long.
            Unauthenticated: no valid key (counted against the peer).
        """
        address = peer_address(peer)
        wait = self._failures.blocked_for(address)
        if wait is not None:
            raise Throttled(
                f"too many failed authentications from this address: try again in {wait:.0f}s",
                retry_after=wait,
            )
        try:
            record = await self._authenticator.identify(authorization)
        except Unauthenticated:
            self._failures.record(address)
            raise
        wait = None if self._rates is None else self._rates.take(record.id)
        if wait is not None:
            raise Throttled(
                f"request rate limit of this API key reached: try again in {wait:.2f}s",
                retry_after=wait,
            )
        return record.owner
