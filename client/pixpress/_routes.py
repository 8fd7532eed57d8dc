"""Routes: what the server serves, and `use` to submit work to one (Route and AsyncRoute)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from pixpress._convert import submit_compress_request
from pixpress._errors import InvalidOptionsError
from pixpress._follow import DEFAULT_POLL_INTERVAL
from pixpress._models import Action, ActionPage, ActionStatus, Asset, RouteFields
from pixpress._validation import check_body, check_bool, check_id, check_timeout

if TYPE_CHECKING:
    from pixpress._async_client import AsyncClient
    from pixpress._client import Client

__all__ = [
    "AsyncRoute",
    "InputAsset",
    "Route",
    "SubmitArguments",
    "UseDeadline",
    "submit_arguments",
]

InputAsset: TypeAlias = Mapping[str, str] | str | Asset
"""`{"assetId": ID, "assetType": "file"}`, an asset id, or an Asset."""

_ASSET_KEYS = frozenset({"assetId", "assetType"})
# Body parameters this SDK knows how to send, by name; a route may describe more.
_SUBMITTABLE = frozenset({"quality", "keep_metadata", "effort", "target_score", "max_bytes"})
DEFAULT_PAGE_SIZE = 20


class SubmitArguments(NamedTuple):
    """What `use` passes to SubmitCompress (submit_compress_request's arguments, in order);
    None lets the server apply its default, input_asset_id None sends no input (the server
    records the action FAILED)."""

    input_asset_id: str | None
    quality: int | None
    keep_metadata: bool
    effort: int | None = None
    target_score: float | None = None
    max_bytes: int | None = None


def input_asset_id(input_asset: InputAsset | None) -> str | None:
    """The asset id from any accepted form of `input_asset`, None for None
    (InvalidOptionsError for anything malformed)."""
    if input_asset is None:
        return None
    if isinstance(input_asset, Asset):
        return input_asset.id
    if isinstance(input_asset, str):
        return check_id("input_asset", input_asset)
    if not isinstance(input_asset, Mapping):
        raise InvalidOptionsError(
            f"Expected a mapping, id or Asset for input_asset but received {input_asset!r}"
        )
    unknown = sorted(set(input_asset) - _ASSET_KEYS)
    if unknown:
        raise InvalidOptionsError(
            f"Unknown key {unknown[0]!r} in input_asset (expected: assetId, assetType)"
        )
    asset_type = input_asset.get("assetType", "file")
    if asset_type != "file":
        raise InvalidOptionsError(
            f"Expected 'file' for input_asset.assetType but received {asset_type!r}"
        )
    return check_id("input_asset.assetId", input_asset.get("assetId"))


def submit_arguments(
    route: RouteFields, body: Mapping[str, Any] | None, input_asset: InputAsset | None
) -> SubmitArguments:
    """Validate `use`'s arguments against the route's parameters before any call."""
    values = check_body(body or {}, route.parameters, route.identifier or route.id)
    unsupported = sorted(set(values) - _SUBMITTABLE)
    if unsupported:
        raise InvalidOptionsError(
            f"Parameter {unsupported[0]!r} of route {route.identifier} is not supported by"
            " this version of the pixpress SDK"
        )
    return SubmitArguments(
        input_asset_id=input_asset_id(input_asset),
        quality=values.get("quality"),
        keep_metadata=values.get("keep_metadata", False),
        effort=values.get("effort"),
        target_score=values.get("target_score"),
        max_bytes=values.get("max_bytes"),
    )


def _field_values(fields: RouteFields) -> dict[str, Any]:
    return {f.name: getattr(fields, f.name) for f in dataclasses.fields(RouteFields)}


class UseDeadline:
    """`use`'s one timeout split between its calls: the submit, then the wait."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = check_timeout("timeout", timeout)
        self._deadline = None if self.timeout is None else time.monotonic() + self.timeout

    def remaining(self) -> float | None:
        """Seconds left (never negative); None without a timeout."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())


@dataclass(frozen=True, slots=True)
class Route(RouteFields):
    """A route as served, bound to the Client that fetched it (see RouteFields for the data)."""

    client: Client = field(repr=False, compare=False)

    @classmethod
    def bind(cls, fields: RouteFields, client: Client) -> Route:
        return cls(**_field_values(fields), client=client)

    def use(
        self,
        body: Mapping[str, Any] | None = None,
        input_asset: InputAsset | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> Action:
        """Submit work to this route and, by default, wait for it to end.

        Args:
            body: parameters, checked against `parameters` (e.g. {"quality": 85},
                {"target_score": 80, "effort": 3}, {"max_bytes": 200_000}); absent ones take
                the route's defaults. quality and target_score exclude each other.
            input_asset: the stored input: {"assetId": ID, "assetType": "file"}, an id, or
                an Asset (see `client.assets.upload`). Without one the server records the
                action FAILED (INVALID_ARGUMENT, no input image) and that is what returns.
            wait: True (default) returns the finished action; False returns the QUEUED
                action at once (follow it with `client.actions.wait(action.id)`).
            timeout: seconds for the whole of `use`: the submit call, then the wait. None
                submits within the client's default deadline and waits as long as it takes.
            poll_interval: seconds between polls if the watch stream breaks (see
                `client.actions.watch`).

        Returns:
            The action: with wait, terminal: SUCCEEDED with `response` (`["response_data"]`),
            or FAILED or CANCELLED with `error`; a failed compression is returned, not
            raised.

        Raises:
            InvalidOptionsError: an unknown parameter, a bad value ("Expected integer
                between 1 and 100 for quality but received 150") or a malformed input_asset;
                before any call (also a ValueError).
            WaitTimeoutError: `timeout` passed before the action ended (`.action_id`,
                `.last_action`).
            PixpressError: the call itself was refused (UnauthenticatedError, NotFoundError
                for an unknown asset, ResourceExhaustedError when the server is busy, ...).
        """
        request = submit_compress_request(*submit_arguments(self, body, input_asset))
        check_bool("wait", wait)
        deadline = UseDeadline(timeout)
        action = self.client._submit(request, deadline.remaining())
        if not wait or action.status.is_terminal:
            return action
        return self.client.actions.wait(
            action.id, timeout=deadline.remaining(), poll_interval=poll_interval
        )

    def read_actions(
        self,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str = "",
        status: ActionStatus | str | None = None,
        *,
        timeout: float | None = None,
    ) -> ActionPage:
        """One page of this route's actions (the caller's own), newest first.

        The page iterates like a list of Action; pass its `next_page_token` for the next
        page, or use `client.actions.iter(route_id=route.id)` for all of them.
        """
        return self.client.actions.list(
            page_size=page_size,
            page_token=page_token,
            status=status,
            route_id=self.id,
            timeout=timeout,
        )


@dataclass(frozen=True, slots=True)
class AsyncRoute(RouteFields):
    """A route bound to the AsyncClient that fetched it; `use` and `read_actions` are async."""

    client: AsyncClient = field(repr=False, compare=False)

    @classmethod
    def bind(cls, fields: RouteFields, client: AsyncClient) -> AsyncRoute:
        return cls(**_field_values(fields), client=client)

    async def use(
        self,
        body: Mapping[str, Any] | None = None,
        input_asset: InputAsset | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> Action:
        """Submit work to this route and, by default, wait for it to end; see Route.use."""
        request = submit_compress_request(*submit_arguments(self, body, input_asset))
        check_bool("wait", wait)
        deadline = UseDeadline(timeout)
        action = await self.client._submit(request, deadline.remaining())
        if not wait or action.status.is_terminal:
            return action
        return await self.client.actions.wait(
            action.id, timeout=deadline.remaining(), poll_interval=poll_interval
        )

    async def read_actions(
        self,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str = "",
        status: ActionStatus | str | None = None,
        *,
        timeout: float | None = None,
    ) -> ActionPage:
        """One page of this route's actions, newest first; see Route.read_actions."""
        return await self.client.actions.list(
            page_size=page_size,
            page_token=page_token,
            status=status,
            route_id=self.id,
            timeout=timeout,
        )
