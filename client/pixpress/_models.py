"""Typed values of the platform API (assets, actions, routes); plain dataclasses, no protobuf."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pixpress._results import Stage

__all__ = [
    "Action",
    "ActionError",
    "ActionPage",
    "ActionRequest",
    "ActionResponse",
    "ActionStatus",
    "Asset",
    "RouteFields",
    "Visibility",
]


class ActionStatus(enum.StrEnum):
    """Where an action is in its life: queued → running → succeeded | failed | cancelled.

    UNSPECIFIED stands for a status this SDK does not know (a newer server).
    """

    UNSPECIFIED = "unspecified"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the action can no longer change (succeeded, failed or cancelled)."""
        return self in _TERMINAL


_TERMINAL = frozenset({ActionStatus.SUCCEEDED, ActionStatus.FAILED, ActionStatus.CANCELLED})


class Visibility(enum.StrEnum):
    """Who may use a route: any valid key (public) or only its owner's keys (private)."""

    UNSPECIFIED = "unspecified"
    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class Asset:
    """An image stored on the server, referenced by id as Compress input or output."""

    id: str
    owner: str
    size: int
    """Bytes."""
    format: str
    """"jpeg", "png", "webp", "gif", "avif", "heif" or "tiff"."""
    sha256: str
    """Hex SHA-256 of the bytes."""
    created: datetime
    """Timezone-aware (UTC)."""


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """What an action was asked to do."""

    quality: int
    keep_metadata: bool
    input_asset_id: str
    """Set when the input was a stored asset; else ""."""
    input_size: int
    """Bytes, once known (0 before)."""
    input_format: str
    """As Asset.format; "unspecified" before the input was read."""
    store_output: bool


@dataclass(frozen=True, slots=True)
class ActionResponse:
    """What a succeeded action did (as CompressResult, without the bytes)."""

    format: str
    output_size: int
    width: int
    height: int
    frames: int
    kept_original: bool
    kept_original_reason: str
    output_asset_id: str
    """The stored output, when the output was stored; else ""."""
    stages: tuple[Stage, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionError:
    """Why an action failed or was cancelled."""

    code: str
    """The gRPC status name, e.g. "INVALID_ARGUMENT"."""
    message: str


@dataclass(frozen=True, slots=True)
class Action:
    """One Compress call (streamed or submitted) and its outcome.

    Exactly one of `response` (succeeded) or `error` (failed, cancelled) is set once the
    status is terminal; both are None before. Datetimes are UTC, None until they happen.
    """

    id: str
    route_id: str
    owner: str
    status: ActionStatus
    request: ActionRequest
    response: ActionResponse | None
    error: ActionError | None
    created: datetime | None
    started: datetime | None
    finished: datetime | None


@dataclass(frozen=True, slots=True)
class ActionPage:
    """One page of actions, newest first; iterate it like a list.

    `next_page_token` is "" on the last page, else pass it as `page_token` for the next.
    """

    actions: tuple[Action, ...]
    next_page_token: str

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def __getitem__(self, index: int) -> Action:
        return self.actions[index]


@dataclass(frozen=True, slots=True)
class RouteFields:
    """The data of a route, without the client that `Route.use` calls through.

    `metadata` is a plain dict: "parameters" (name → JSON-schema-like dict with "type",
    "description" and, when set, "default", "minimum", "maximum"), "formats" (list of
    format names), "limits" (dict of "max_input_bytes", "max_pixels", "max_frames") and
    "rpcs" (fully qualified method names).
    """

    id: str
    identifier: str
    """"OWNER/NAME", e.g. "pixpress/compress-an-image"."""
    owner: str
    name: str
    visibility: Visibility
    description: str
    metadata: dict[str, Any] = field(hash=False)

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        """metadata["parameters"]: what `use(body=...)` accepts."""
        parameters: dict[str, dict[str, Any]] = self.metadata.get("parameters", {})
        return parameters
