"""The rows the store keeps, as plain values (no SQL, no protobuf)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pixpress_server.processing.model import StageReport


def utc_now() -> datetime:
    return datetime.now(UTC)


# A `now` after every lease's expiry: the only replica (SQLite) treats a previous run's as dead.
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key's public part; the secret itself is never stored, only its hash."""

    id: str
    owner: str
    created: datetime
    last_used: datetime | None = None
    revoked: datetime | None = None


class AssetOrigin(StrEnum):
    UPLOAD = "upload"  # UploadAsset
    OUTPUT = "output"  # an action's output kept with store_output


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """A stored image: its bytes live in the blob store under `sha256`."""

    id: str
    owner: str
    size: int
    format: str
    sha256: str
    created: datetime
    origin: AssetOrigin = AssetOrigin.UPLOAD


class ActionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({ActionStatus.SUCCEEDED, ActionStatus.FAILED, ActionStatus.CANCELLED})
UNFINISHED = (ActionStatus.QUEUED, ActionStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class ActionRequestData:
    """What was asked. Fields added later have defaults, so rows written before them load:
    effort 0 and no target_score or max_bytes for actions older than those options."""

    quality: int  # 0 when target_score was asked instead
    keep_metadata: bool
    input_asset_id: str = ""
    input_size: int = 0
    input_format: str = ""
    store_output: bool = False
    effort: int = 0
    target_score: float | None = None
    max_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "quality": self.quality,
            "keep_metadata": self.keep_metadata,
            "input_asset_id": self.input_asset_id,
            "input_size": self.input_size,
            "input_format": self.input_format,
            "store_output": self.store_output,
            "effort": self.effort,
            "target_score": self.target_score,
            "max_bytes": self.max_bytes,
        }


@dataclass(frozen=True, slots=True)
class ActionResponseData:
    """What was done; quality and effort read 0 (score and budget_met None) in rows written
    before they were recorded."""

    format: str
    output_size: int
    width: int
    height: int
    frames: int
    kept_original: bool
    kept_original_reason: str
    output_asset_id: str
    stages: tuple[StageReport, ...]
    quality: int = 0  # applied: asked, or chosen by the target_score / max_bytes search
    effort: int = 0
    score: float | None = None  # SSIMULACRA2 reached, for a target_score
    budget_met: bool | None = None  # for a max_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "output_size": self.output_size,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "kept_original": self.kept_original,
            "kept_original_reason": self.kept_original_reason,
            "output_asset_id": self.output_asset_id,
            "stages": [
                {"name": s.name, "output_bytes": s.output_bytes, "milliseconds": s.milliseconds}
                for s in self.stages
            ],
            "quality": self.quality,
            "effort": self.effort,
            "score": self.score,
            "budget_met": self.budget_met,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionResponseData:
        stages = tuple(StageReport(**stage) for stage in data.pop("stages", ()))
        return cls(stages=stages, **data)


@dataclass(frozen=True, slots=True)
class ActionErrorData:
    code: str  # a gRPC status name
    message: str


@dataclass(frozen=True, slots=True)
class ActionRecord:
    id: str
    route_id: str
    owner: str
    status: ActionStatus
    request: ActionRequestData
    created: datetime
    response: ActionResponseData | None = None
    error: ActionErrorData | None = None
    started: datetime | None = None
    finished: datetime | None = None

    def replace(self, **changes: Any) -> ActionRecord:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Lease:
    """A replica's hold on an action until `expires`: only the holder may finish it, and
    once it expires another replica may claim the action (or fail it, if it can't re-run)."""

    holder: str
    expires: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """A background action a replica has just leased; `reclaimed` when an earlier holder's
    lease had expired (that replica died or froze)."""

    action: ActionRecord
    reclaimed: bool
    input_sha256: str = ""  # the input's bytes, pinned by the action even if its asset went


@dataclass(frozen=True, slots=True)
class ActionCursor:
    """Where a page of actions (newest first) stopped: the last row's created time and id."""

    created: datetime
    id: str
