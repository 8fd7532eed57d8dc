"""Conversions between pixpress.v1 wire messages and the server's own values, validated once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf.timestamp_pb2 import Timestamp
from pixpress.v1 import actions_pb2, assets_pb2, compress_pb2, image_pb2, routes_pb2

from pixpress_server.calls.options import compress_options
from pixpress_server.errors import InvalidInput
from pixpress_server.processing.model import (
    CompressOptions,
    ImageFormat,
)
from pixpress_server.routes import Visibility
from pixpress_server.store.records import ActionStatus

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from pixpress_server.compression import Done
    from pixpress_server.processing.model import StageReport
    from pixpress_server.routes import Route
    from pixpress_server.store.records import ActionRecord, AssetRecord

_WIRE_FORMATS: Mapping[str, image_pb2.ImageFormat.ValueType] = {
    ImageFormat.JPEG: image_pb2.IMAGE_FORMAT_JPEG,
    ImageFormat.PNG: image_pb2.IMAGE_FORMAT_PNG,
    ImageFormat.WEBP: image_pb2.IMAGE_FORMAT_WEBP,
    ImageFormat.GIF: image_pb2.IMAGE_FORMAT_GIF,
    ImageFormat.AVIF: image_pb2.IMAGE_FORMAT_AVIF,
    ImageFormat.HEIF: image_pb2.IMAGE_FORMAT_HEIF,
    ImageFormat.TIFF: image_pb2.IMAGE_FORMAT_TIFF,
}
_WIRE_STATUSES: Mapping[ActionStatus, actions_pb2.ActionStatus.ValueType] = {
    ActionStatus.QUEUED: actions_pb2.ACTION_STATUS_QUEUED,
    ActionStatus.RUNNING: actions_pb2.ACTION_STATUS_RUNNING,
    ActionStatus.SUCCEEDED: actions_pb2.ACTION_STATUS_SUCCEEDED,
    ActionStatus.FAILED: actions_pb2.ACTION_STATUS_FAILED,
    ActionStatus.CANCELLED: actions_pb2.ACTION_STATUS_CANCELLED,
}
_STATUSES_FROM_WIRE = {wire: status for status, wire in _WIRE_STATUSES.items()}
_WIRE_VISIBILITY = {
    Visibility.PUBLIC: routes_pb2.VISIBILITY_PUBLIC,
    Visibility.PRIVATE: routes_pb2.VISIBILITY_PRIVATE,
}


def wire_format(image_format: str) -> image_pb2.ImageFormat.ValueType:
    return _WIRE_FORMATS.get(image_format, image_pb2.IMAGE_FORMAT_UNSPECIFIED)


def options_from_wire(message: compress_pb2.CompressOptions) -> CompressOptions:
    """Validate the request's options (unset fields take their defaults)."""
    return compress_options(
        quality=message.quality if message.HasField("quality") else None,
        keep_metadata=message.keep_metadata,
        effort=message.effort if message.HasField("effort") else None,
        target_score=message.target_score if message.HasField("target_score") else None,
        max_bytes=message.max_bytes if message.HasField("max_bytes") else None,
    )


def status_from_wire(status: actions_pb2.ActionStatus.ValueType) -> ActionStatus | None:
    """None for UNSPECIFIED (no filter); INVALID_ARGUMENT for a value we don't know."""
    if status == actions_pb2.ACTION_STATUS_UNSPECIFIED:
        return None
    try:
        return _STATUSES_FROM_WIRE[status]
    except KeyError:
        raise InvalidInput(f"unknown action status {status}") from None


def _stages(stages: Sequence[StageReport]) -> list[image_pb2.Stage]:
    return [
        image_pb2.Stage(name=s.name, output_bytes=s.output_bytes, milliseconds=s.milliseconds)
        for s in stages
    ]


def _timestamp(when: datetime | None) -> Timestamp | None:
    if when is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def result_to_wire(done: Done, action_id: str) -> compress_pb2.CompressResult:
    outcome = done.outcome
    header = outcome.header
    return compress_pb2.CompressResult(
        format=wire_format(header.format),
        input_size=outcome.input_size,
        output_size=outcome.output_size,
        width=header.width,
        height=header.height,
        frames=header.frames,
        kept_original=outcome.kept_original,
        kept_original_reason=outcome.kept_original_reason,
        quality=outcome.quality,
        stages=_stages(outcome.stages),
        action_id=action_id,
        output_asset_id=done.output_asset_id,
        effort=outcome.effort,
        score=outcome.score,
        budget_met=outcome.budget_met,
    )


def action_to_wire(action: ActionRecord) -> actions_pb2.Action:
    request = action.request
    message = actions_pb2.Action(
        id=action.id,
        route_id=action.route_id,
        owner=action.owner,
        status=_WIRE_STATUSES[action.status],
        request=actions_pb2.ActionRequest(
            quality=request.quality,
            keep_metadata=request.keep_metadata,
            input_asset_id=request.input_asset_id,
            input_size=request.input_size,
            input_format=wire_format(request.input_format),
            store_output=request.store_output,
            effort=request.effort,
            target_score=request.target_score,
            max_bytes=request.max_bytes,
        ),
        created=_timestamp(action.created),
        started=_timestamp(action.started),
        finished=_timestamp(action.finished),
    )
    if action.response is not None:
        response = action.response
        message.response.CopyFrom(
            actions_pb2.ActionResponse(
                format=wire_format(response.format),
                output_size=response.output_size,
                width=response.width,
                height=response.height,
                frames=response.frames,
                kept_original=response.kept_original,
                kept_original_reason=response.kept_original_reason,
                output_asset_id=response.output_asset_id,
                stages=_stages(response.stages),
                quality=response.quality,
                effort=response.effort,
                score=response.score,
                budget_met=response.budget_met,
            )
        )
    if action.error is not None:
        message.error.CopyFrom(
            actions_pb2.ActionError(code=action.error.code, message=action.error.message)
        )
    return message


def asset_to_wire(asset: AssetRecord) -> assets_pb2.Asset:
    return assets_pb2.Asset(
        id=asset.id,
        owner=asset.owner,
        size=asset.size,
        format=wire_format(asset.format),
        sha256=asset.sha256,
        created=_timestamp(asset.created),
    )


def route_to_wire(route: Route) -> routes_pb2.Route:
    from pixpress_server.routes import PARAMETERS, ROUTE_RPCS

    return routes_pb2.Route(
        id=route.id,
        identifier=route.identifier,
        owner=route.owner,
        name=route.name,
        description=route.description,
        visibility=_WIRE_VISIBILITY[route.visibility],
        parameters=[
            routes_pb2.Parameter(
                name=p.name,
                type=p.type,
                description=p.description,
                default_json=p.default_json,
                minimum=p.minimum,
                maximum=p.maximum,
            )
            for p in PARAMETERS
        ],
        formats=list(route.formats),
        limits=routes_pb2.RouteLimits(
            max_input_bytes=route.limits.max_input_bytes,
            max_pixels=route.limits.max_pixels,
            max_frames=route.limits.max_frames,
        ),
        rpcs=list(ROUTE_RPCS),
    )
