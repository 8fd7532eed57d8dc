"""The JSON shapes of the HTTP API, as pydantic models (they make the OpenAPI document too).

Actions, assets and routes read as the SDK's mappings do (the route page's dicts):
`request_data`, `response_data`, `error`, `created_at` in ISO 8601 UTC.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from pixpress_server.routes import PARAMETERS, ROUTE_RPCS, Route
from pixpress_server.store.records import (
    ActionRecord,
    ActionRequestData,
    ActionResponseData,
    AssetRecord,
)

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]

_UUID: JsonDict = {"format": "uuid"}
# Ids are plain strings checked by the domain calls (their INVALID_ARGUMENT message is the
# gRPC edge's); the schema says what they must be.
ActionId = Annotated[str, Path(description="the action's id (a UUID)", json_schema_extra=_UUID)]
AssetId = Annotated[str, Path(description="the asset's id (a UUID)", json_schema_extra=_UUID)]
RouteId = Annotated[str, Path(description="the route's id (a UUID)", json_schema_extra=_UUID)]
RouteOwner = Annotated[str, Path(description="the route's owner, e.g. pixpress")]
RouteName = Annotated[str, Path(description="the route's name, e.g. compress-an-image")]


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "description": description, "schema": {"type": "string"}}


# The headers GET /v1/assets/{asset_id}/content reads from the request itself.
CONTENT_HEADERS = [
    _header("Range", "one range, `bytes=START-END`, `bytes=START-` or `bytes=-LAST`: 206"),
    _header("If-None-Match", "the ETag a cache holds: 304 when it still matches"),
    _header("If-Range", "the ETag the range is for: the whole content when it changed"),
]


def _result(description: str, kind: str = "integer", required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": kind}}


# What POST /v1/compress answers beside the image (responses.result_headers).
RESULT_HEADERS = {
    "X-Pixpress-Action-Id": _result("the call's action", "string"),
    "X-Pixpress-Input-Size": _result("bytes received"),
    "X-Pixpress-Output-Size": _result("bytes of the body"),
    "X-Pixpress-Kept-Original": _result("true when the body is the input, unchanged", "boolean"),
    "X-Pixpress-Kept-Original-Reason": _result("why the input was kept", "string", False),
    "X-Pixpress-Quality": _result("the quality applied (chosen, for target_score/max_bytes)"),
    "X-Pixpress-Effort": _result("the effort applied"),
    "X-Pixpress-Width": _result("pixels"),
    "X-Pixpress-Height": _result("pixels (of one frame)"),
    "X-Pixpress-Frames": _result("frames (1 for a still image)"),
    "X-Pixpress-Score": _result("SSIMULACRA2 reached, for a target_score", "number", False),
    "X-Pixpress-Budget-Met": _result("whether the body fits max_bytes", "boolean", False),
    "X-Pixpress-Output-Asset-Id": _result("the stored output (store_output)", "string", False),
    "Server-Timing": _result(
        "each stage's milliseconds: `decode;dur=1.7, encode;dur=797.7`", "string"
    ),
}


def _range(low: float, high: float | None = None) -> JsonDict:
    """The bounds the domain checks, for the schema only (compress_options validates once)."""
    return {"minimum": low} if high is None else {"minimum": low, "maximum": high}


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


QUALITY = "1-100, higher is better quality; default 80"
KEEP_METADATA = "keep EXIF, ICC and XMP metadata"
EFFORT = "1-10, more CPU for fewer bytes; default 5"
TARGET_SCORE = "SSIMULACRA2 30-95: the cheapest quality reaching it, instead of quality"
MAX_BYTES = "the best quality whose output fits in this many bytes"

# The compression options as query parameters (POST /v1/compress), with the same bounds.
QualityQuery = Annotated[int | None, Query(description=QUALITY, json_schema_extra=_range(1, 100))]
KeepMetadataQuery = Annotated[bool, Query(description=KEEP_METADATA)]
EffortQuery = Annotated[int | None, Query(description=EFFORT, json_schema_extra=_range(1, 10))]
TargetScoreQuery = Annotated[
    float | None, Query(description=TARGET_SCORE, json_schema_extra=_range(30, 95))
]
MaxBytesQuery = Annotated[int | None, Query(description=MAX_BYTES, json_schema_extra=_range(1))]


class StageJson(BaseModel):
    name: str
    output_bytes: int
    milliseconds: float


class RequestDataJson(BaseModel):
    quality: int = Field(description="0 when target_score was asked instead")
    keep_metadata: bool
    input_asset_id: str
    input_size: int
    input_format: str
    store_output: bool
    effort: int
    target_score: float | None
    max_bytes: int | None


class ResponseDataJson(BaseModel):
    format: str
    output_size: int
    width: int
    height: int
    frames: int
    kept_original: bool
    kept_original_reason: str
    output_asset_id: str = Field(description='the stored output, or "" when not stored')
    stages: list[StageJson]
    quality: int = Field(description="the quality applied (chosen, for target_score/max_bytes)")
    effort: int
    score: float | None = Field(description="SSIMULACRA2 reached, for a target_score")
    budget_met: bool | None = Field(description="whether the output fits max_bytes")


class ErrorJson(BaseModel):
    code: str = Field(description="the gRPC status name, e.g. INVALID_ARGUMENT")
    message: str


class ActionJson(BaseModel):
    id: str
    route_id: str
    owner: str
    status: Status
    request_data: RequestDataJson
    response_data: ResponseDataJson | None
    error: ErrorJson | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None

    @classmethod
    def of(cls, action: ActionRecord) -> ActionJson:
        return cls(
            id=action.id,
            route_id=action.route_id,
            owner=action.owner,
            status=action.status.value,
            request_data=_request(action.request),
            response_data=None if action.response is None else _response(action.response),
            error=None
            if action.error is None
            else ErrorJson(code=action.error.code, message=action.error.message),
            created_at=iso(action.created),
            started_at=iso(action.started),
            finished_at=iso(action.finished),
        )


def _request(request: ActionRequestData) -> RequestDataJson:
    return RequestDataJson.model_validate(dataclasses.asdict(request))


def _response(response: ActionResponseData) -> ResponseDataJson:
    return ResponseDataJson.model_validate(dataclasses.asdict(response))


class ActionPageJson(BaseModel):
    actions: list[ActionJson]
    next_page_token: str = Field(description='"" on the last page')


class AssetJson(BaseModel):
    id: str
    owner: str
    size: int
    format: str
    sha256: str
    created_at: str | None

    @classmethod
    def of(cls, asset: AssetRecord) -> AssetJson:
        return cls(
            id=asset.id,
            owner=asset.owner,
            size=asset.size,
            format=asset.format,
            sha256=asset.sha256,
            created_at=iso(asset.created),
        )


class RouteJson(BaseModel):
    id: str
    identifier: str = Field(description="OWNER/NAME")
    owner: str
    name: str
    visibility: Literal["public", "private"]
    description: str
    metadata: dict[str, Any] = Field(
        description="parameters (name → JSON-schema-like dict), formats, limits, rpcs"
    )

    @classmethod
    def of(cls, route: Route) -> RouteJson:
        parameters: dict[str, dict[str, Any]] = {}
        for parameter in PARAMETERS:
            schema: dict[str, Any] = {
                "type": parameter.type,
                "description": parameter.description,
            }
            if parameter.default_json:
                schema["default"] = json.loads(parameter.default_json)
            if parameter.minimum is not None:
                schema["minimum"] = parameter.minimum
            if parameter.maximum is not None:
                schema["maximum"] = parameter.maximum
            parameters[parameter.name] = schema
        return cls(
            id=route.id,
            identifier=route.identifier,
            owner=route.owner,
            name=route.name,
            visibility=route.visibility.value,
            description=route.description,
            metadata={
                "parameters": parameters,
                "formats": list(route.formats),
                "limits": {
                    "max_input_bytes": route.limits.max_input_bytes,
                    "max_pixels": route.limits.max_pixels,
                    "max_frames": route.limits.max_frames,
                },
                "rpcs": list(ROUTE_RPCS),
            },
        )


class UseBody(BaseModel):
    """The route's parameters (its metadata's "parameters"); unknown names are refused."""

    model_config = ConfigDict(extra="forbid")

    quality: int | None = Field(None, description=QUALITY, json_schema_extra=_range(1, 100))
    keep_metadata: bool = Field(False, description=KEEP_METADATA)
    effort: int | None = Field(None, description=EFFORT, json_schema_extra=_range(1, 10))
    target_score: float | None = Field(
        None, description=TARGET_SCORE, json_schema_extra=_range(30, 95)
    )
    max_bytes: int | None = Field(None, description=MAX_BYTES, json_schema_extra=_range(1))


class InputAsset(BaseModel):
    """The image to compress: an uploaded asset of yours."""

    model_config = ConfigDict(extra="forbid")

    assetId: str = Field(description="the asset's id (POST /v1/assets)", json_schema_extra=_UUID)
    assetType: Literal["file"] = "file"


class UseRequest(BaseModel):
    """A use of the route: its parameters, and the input asset."""

    model_config = ConfigDict(extra="forbid")

    body: UseBody = Field(
        default_factory=lambda: UseBody.model_validate({}), description="the route's parameters"
    )
    input_asset: InputAsset | None = Field(
        None, description="without one, the use is recorded as a FAILED action"
    )


class ProblemJson(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    code: str = Field(description="the gRPC status name")
    retry_after: int | None = Field(None, description="seconds, for a rate limit")
