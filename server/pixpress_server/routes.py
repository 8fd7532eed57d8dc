"""The route this server serves, `OWNER/compress-an-image`, described as data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from pixpress_server.errors import Forbidden
from pixpress_server.processing.model import (
    DEFAULT_EFFORT,
    DEFAULT_QUALITY,
    MAX_EFFORT,
    MAX_QUALITY,
    MAX_TARGET_SCORE,
    MIN_EFFORT,
    MIN_QUALITY,
    MIN_TARGET_SCORE,
    ImageFormat,
)

ROUTE_NAME = "compress-an-image"
ROUTE_DESCRIPTION = "Compress an image while maintaining its current format"
ROUTE_RPCS = (
    "pixpress.v1.CompressService/Compress",
    "pixpress.v1.CompressService/SubmitCompress",
)
# Fixed, so a route's id is the same on every server and every restart.
_ID_NAMESPACE = uuid.UUID("6f1c9a52-3b0e-4d8e-9f57-2a4d1c0b7e11")


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: str
    description: str
    default_json: str
    minimum: int | None = None
    maximum: int | None = None


PARAMETERS = (
    Parameter(
        "quality",
        "integer",
        f"Quality setting ({MIN_QUALITY}-{MAX_QUALITY}, higher is better quality)",
        str(DEFAULT_QUALITY),
        MIN_QUALITY,
        MAX_QUALITY,
    ),
    Parameter(
        "keep_metadata",
        "boolean",
        "Keep EXIF, XMP, IPTC and comments (by default only the ICC profile and the "
        "displayed orientation are kept)",
        "false",
    ),
    Parameter(
        "effort",
        "integer",
        f"CPU spent for bytes saved ({MIN_EFFORT}-{MAX_EFFORT}: {MIN_EFFORT} is fastest, "
        f"{MAX_EFFORT} gives the fewest bytes at the same quality)",
        str(DEFAULT_EFFORT),
        MIN_EFFORT,
        MAX_EFFORT,
    ),
    Parameter(
        "target_score",
        "number",
        f"Perceived quality to reach, a SSIMULACRA2 score ({MIN_TARGET_SCORE:g}-"
        f"{MAX_TARGET_SCORE:g}, 90 visually lossless), instead of quality: the cheapest "
        "quality reaching it is chosen per image",
        "",
        int(MIN_TARGET_SCORE),
        int(MAX_TARGET_SCORE),
    ),
    Parameter(
        "max_bytes",
        "integer",
        "Byte budget: the best quality (at most quality) whose output fits",
        "",
        1,
    ),
)


@dataclass(frozen=True, slots=True)
class RouteLimits:
    max_input_bytes: int
    max_pixels: int
    max_frames: int


@dataclass(frozen=True, slots=True)
class Route:
    owner: str
    visibility: Visibility
    limits: RouteLimits
    name: str = ROUTE_NAME
    description: str = ROUTE_DESCRIPTION
    fixed_id: str | None = None  # an operator's chosen id (--route-id), else derived

    @property
    def identifier(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def id(self) -> str:
        if self.fixed_id is not None:
            return self.fixed_id
        return str(uuid.uuid5(_ID_NAMESPACE, self.identifier))

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(f.value for f in ImageFormat)

    def visible_to(self, owner: str) -> bool:
        return self.visibility is Visibility.PUBLIC or owner == self.owner

    def check_use(self, owner: str) -> None:
        """PERMISSION_DENIED unless `owner` may use the route (or store inputs for it)."""
        if not self.visible_to(owner):
            raise Forbidden(
                f"the route {self.identifier} is private: only keys of {self.owner!r} may use it"
            )

    def matches(self, reference: str) -> bool:
        """True when `reference` is this route's id or identifier."""
        return reference in (self.id, self.identifier)
