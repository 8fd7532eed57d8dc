"""Typed values of the platform API (assets, actions, routes); plain dataclasses, no protobuf."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterator, Mapping
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
    """The quality asked for (80 when none was); 0 when `target_score` was asked instead."""
    keep_metadata: bool
    input_asset_id: str
    """Set when the input was a stored asset; else ""."""
    input_size: int
    """Bytes, once known (0 before)."""
    input_format: str
    """As Asset.format; "unspecified" before the input was read."""
    store_output: bool
    effort: int = 0
    """1-10 (5 when none was asked); 0 for actions recorded before efforts."""
    target_score: float | None = None
    """The SSIMULACRA2 score asked for, if any."""
    max_bytes: int | None = None
    """The output's byte budget, if any."""


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
    quality: int = 0
    """The quality applied (chosen, for target_score or max_bytes); 0 for older actions."""
    effort: int = 0
    """The effort applied; 0 for older actions."""
    score: float | None = None
    """The SSIMULACRA2 score reached, when a target_score was asked; else None."""
    budget_met: bool | None = None
    """Whether the output fits max_bytes, when a budget was asked; else None."""


@dataclass(frozen=True, slots=True)
class ActionError:
    """Why an action failed or was cancelled."""

    code: str
    """The gRPC status name, e.g. "INVALID_ARGUMENT"."""
    message: str


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _stage_data(stage: Stage) -> dict[str, Any]:
    return {
        "name": stage.name,
        "output_bytes": stage.output_bytes,
        "milliseconds": stage.milliseconds,
    }


def _request_data(request: ActionRequest) -> dict[str, Any]:
    return {
        "quality": request.quality,
        "keep_metadata": request.keep_metadata,
        "input_asset_id": request.input_asset_id,
        "input_size": request.input_size,
        "input_format": request.input_format,
        "store_output": request.store_output,
        "effort": request.effort,
        "target_score": request.target_score,
        "max_bytes": request.max_bytes,
    }


def _response_data(response: ActionResponse | None) -> dict[str, Any] | None:
    if response is None:
        return None
    return {
        "format": response.format,
        "output_size": response.output_size,
        "width": response.width,
        "height": response.height,
        "frames": response.frames,
        "kept_original": response.kept_original,
        "kept_original_reason": response.kept_original_reason,
        "output_asset_id": response.output_asset_id,
        "stages": [_stage_data(stage) for stage in response.stages],
        "quality": response.quality,
        "effort": response.effort,
        "score": response.score,
        "budget_met": response.budget_met,
    }


def _error_data(error: ActionError | None) -> dict[str, str] | None:
    return None if error is None else {"code": error.code, "message": error.message}


@dataclass(frozen=True, slots=True)
class Action(Mapping[str, Any]):
    """One Compress call (streamed or submitted) and its outcome.

    Exactly one of `response` (succeeded) or `error` (failed, cancelled) is set once the
    status is terminal; both are None before. Datetimes are UTC, None until they happen.

    An action also reads as a read-only mapping of JSON values, the shape a REST API gives
    (`action["status"]`, `action.get("response_data")`, `json.dumps(dict(action))`):

        id, route_id, owner   str
        status                str: "queued", "running", "succeeded", "failed", "cancelled"
        request_data          dict: quality, keep_metadata, input_asset_id, input_size,
                              input_format, store_output, effort, target_score and
                              max_bytes (None when not asked)
        response_data         dict once succeeded, else None: format, output_size, width,
                              height, frames, kept_original, kept_original_reason,
                              output_asset_id, stages (list of {name, output_bytes,
                              milliseconds}), quality (applied), effort, score (None
                              without target_score), budget_met (None without max_bytes)
        error                 dict {code, message} once failed or cancelled, else None
        created_at, started_at, finished_at
                              ISO 8601 UTC ("2025-01-02T03:04:05.123456Z"), or None

    Each lookup builds a fresh value: changing a returned dict changes nothing. `str(action)`
    (so `print(action)`) is that mapping as indented JSON; `repr` shows the fields.
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

    def __getitem__(self, key: str) -> Any:
        view = _ACTION_VIEW.get(key)
        if view is None:
            raise KeyError(key)
        return view(self)

    def __iter__(self) -> Iterator[str]:
        return iter(_ACTION_VIEW)

    def __len__(self) -> int:
        return len(_ACTION_VIEW)

    def __str__(self) -> str:
        return json.dumps(dict(self), indent=2)


_ACTION_VIEW: dict[str, Callable[[Action], Any]] = {
    "id": lambda a: a.id,
    "route_id": lambda a: a.route_id,
    "owner": lambda a: a.owner,
    "status": lambda a: a.status.value,
    "request_data": lambda a: _request_data(a.request),
    "response_data": lambda a: _response_data(a.response),
    "error": lambda a: _error_data(a.error),
    "created_at": lambda a: _iso(a.created),
    "started_at": lambda a: _iso(a.started),
    "finished_at": lambda a: _iso(a.finished),
}
"""The keys of an action's mapping view, in order, and how each value is made."""


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

    def __str__(self) -> str:
        """The page as indented JSON: {"actions": [each action's mapping], "next_page_token"}."""
        data = {"actions": [dict(a) for a in self.actions], "next_page_token": self.next_page_token}
        return json.dumps(data, indent=2)


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
