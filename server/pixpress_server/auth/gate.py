"""Who may call, in order: a client address with too many recent failed authentications
waits; then the API key must be valid; then the key must be within its request rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixpress_server.errors import Throttled, Unauthenticated

if TYPE_CHECKING:
    from pixpress_server.auth.authenticator import Authenticator
    from pixpress_server.ratelimit import FailureWindow, TokenBuckets


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

    async def admit(self, authorization: str | None, client: str) -> str:
        """The caller's owner; `client` is its address (`client_address.client_address`).

        Raises:
            Throttled: the client failed authentication too often lately (even a good key
                waits: otherwise the throttle would tell a guesser when a guess is right),
                or the key is over its rate; `retry_after` says for how long.
            Unauthenticated: no valid key (counted against the client's address).
        """
        wait = self._failures.blocked_for(client)
        if wait is not None:
            raise Throttled(
                f"too many failed authentications from this address: try again in {wait:.0f}s",
                retry_after=wait,
            )
        try:
            record = await self._authenticator.identify(authorization)
        except Unauthenticated:
            self._failures.record(client)
            raise
        wait = None if self._rates is None else self._rates.take(record.id)
        if wait is not None:
            raise Throttled(
                f"request rate limit of this API key reached: try again in {wait:.2f}s",
                retry_after=wait,
            )
        return record.owner
