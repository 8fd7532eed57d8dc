"""Routes: what the server serves, and `use` to submit work to one (Route and AsyncRoute)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from pixpress._models import Action, ActionPage, ActionStatus, Asset, RouteFields
from pixpress._validation import check_body, check_id

if TYPE_CHECKING:
    from pixpress._async_client import AsyncClient
    from pixpress._client import Client

__all__ = ["AsyncRoute", "InputAsset", "Route", "SubmitArguments", "submit_arguments"]

InputAsset: TypeAlias = Mapping[str, str] | str | Asset
"""`{"assetId": ID, "assetType": "file"}`, an asset id, or an Asset."""

_ASSET_KEYS = frozenset({"assetId", "assetType"})
# Body parameters this SDK knows how to send, by name; a route may describe more.
_SUBMITTABLE = frozenset({"quality", "keep_metadata"})
DEFAULT_PAGE_SIZE = 20


class SubmitArguments(NamedTuple):
    """What `use` passes to SubmitCompress; quality None lets the server apply its default."""

    input_asset_id: str
    quality: int | None
    keep_metadata: bool


def input_asset_id(input_asset: InputAsset | None) -> str:
    """The asset id from any accepted form of `input_asset` (ValueError otherwise)."""
    if input_asset is None:
        raise ValueError(
            "Expected an input asset ({'assetId': ID, 'assetType': 'file'}, an id or an Asset)"
            " but received None"
        )
    if isinstance(input_asset, Asset):
        return input_asset.id
    if isinstance(input_asset, str):
        return check_id("input_asset", input_asset)
    if not isinstance(input_asset, Mapping):
        raise ValueError(
            f"Expected a mapping, id or Asset for input_asset but received {input_asset!r}"
        )
    unknown = sorted(set(input_asset) - _ASSET_KEYS)
    if unknown:
        raise ValueError(
            f"Unknown key {unknown[0]!r} in input_asset (expected: assetId, assetType)"
        )
    asset_type = input_asset.get("assetType", "file")
    if asset_type != "file":
        raise ValueError(f"Expected 'file' for input_asset.assetType but received {asset_type!r}")
    return check_id("input_asset.assetId", input_asset.get("assetId"))


def submit_arguments(
    route: RouteFields, body: Mapping[str, Any] | None, input_asset: InputAsset | None
) -> SubmitArguments:
    """Validate `use`'s arguments against the route's parameters before any call."""
    values = check_body(body or {}, route.parameters, route.identifier or route.id)
    unsupported = sorted(set(values) - _SUBMITTABLE)
    if unsupported:
        raise ValueError(
            f"Parameter {unsupported[0]!r} of route {route.identifier} is not supported by"
            " this version of the pixpress SDK"
        )
    return SubmitArguments(
        input_asset_id=input_asset_id(input_asset),
        quality=values.get("quality"),
        keep_metadata=values.get("keep_metadata", False),
    )


def _field_values(fields: RouteFields) -> dict[str, Any]:
    return {f.name: getattr(fields, f.name) for f in dataclasses.fields(RouteFields)}


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
        timeout: float | None = None,
    ) -> Action:
        """Submit work to this route; returns the QUEUED action at once.

        Args:
            body: parameters, checked against `parameters` (e.g. {"quality": 85}); absent
                ones take the route's defaults.
            input_asset: the stored input: {"assetId": ID, "assetType": "file"}, an id, or
                an Asset (see `client.assets.upload`).
            timeout: deadline in seconds for the call; None uses the client's.

        Returns:
            The action; follow it with `client.actions.wait(action.id)`.

        Raises:
            ValueError: an unknown parameter, a bad value ("Expected integer between 1 and
                100 for quality but received 150") or no input asset; before any call.
            PixpressError: the server refused (NotFoundError for an unknown asset, ...).
        """
        arguments = submit_arguments(self, body, input_asset)
        return self.client.submit_compress(*arguments, timeout=timeout)

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
        timeout: float | None = None,
    ) -> Action:
        """Submit work to this route; see Route.use."""
        arguments = submit_arguments(self, body, input_asset)
        return await self.client.submit_compress(*arguments, timeout=timeout)

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
