"""The only module besides the generated stubs that touches pb2 types: requests out, values in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from pixpress._errors import InternalError, InvalidOptionsError
from pixpress._models import (
    Action,
    ActionError,
    ActionPage,
    ActionRequest,
    ActionResponse,
    ActionStatus,
    Asset,
    RouteFields,
    Visibility,
)
from pixpress._results import CompressResult, Stage
from pixpress._validation import (
    check_bool,
    check_effort,
    check_id,
    check_int_between,
    check_max_bytes,
    check_quality,
    check_target_score,
)
from pixpress.v1 import actions_pb2 as actions_pb
from pixpress.v1 import assets_pb2 as assets_pb
from pixpress.v1 import compress_pb2 as pb
from pixpress.v1 import image_pb2 as image_pb
from pixpress.v1 import routes_pb2 as routes_pb

__all__ = [
    "ResultAssembler",
    "action_from_pb",
    "asset_from_pb",
    "cancel_action_request",
    "compress_options",
    "delete_asset_request",
    "download_asset_request",
    "format_name",
    "get_action_request",
    "get_asset_request",
    "get_route_request",
    "list_actions_request",
    "next_page_request",
    "page_from_pb",
    "request_stream",
    "result_from_pb",
    "route_fields_from_pb",
    "status_from_pb",
    "status_to_pb",
    "submit_compress_request",
    "upload_stream",
    "watch_action_request",
]

_FORMAT_PREFIX = "IMAGE_FORMAT_"
_STATUS_PREFIX = "ACTION_STATUS_"
_VISIBILITY_PREFIX = "VISIBILITY_"
MAX_PAGE_SIZE = 100
_EPOCH = datetime.fromtimestamp(0, UTC)


BOTH_QUALITY_AND_SCORE = "Send quality or target_score, not both"


def compress_options(
    quality: int | None,
    keep_metadata: bool,
    *,
    effort: int | None = None,
    target_score: float | None = None,
    max_bytes: int | None = None,
    input_asset_id: str | None = None,
    store_output: bool = False,
) -> pb.CompressOptions:
    """Validated options (InvalidOptionsError, the server's messages); None leaves a field
    unset: the server applies quality 80, effort 5, no target score and no budget.

    quality and target_score are two ways to ask for the same thing, so at most one may be
    given; max_bytes goes with either (with target_score, the budget is the harder limit).
    """
    options = pb.CompressOptions(
        keep_metadata=check_bool("keep_metadata", keep_metadata),
        store_output=check_bool("store_output", store_output),
    )
    if input_asset_id is not None:
        options.input_asset_id = check_id("input_asset_id", input_asset_id)
    if quality is not None:
        options.quality = check_quality(quality)
    if effort is not None:
        options.effort = check_effort(effort)
    if target_score is not None:
        options.target_score = check_target_score(target_score)
    if max_bytes is not None:
        options.max_bytes = check_max_bytes(max_bytes)
    if quality is not None and target_score is not None:
        raise InvalidOptionsError(BOTH_QUALITY_AND_SCORE)
    return options


def submit_compress_request(
    input_asset_id: str | None,
    quality: int | None,
    keep_metadata: bool,
    effort: int | None = None,
    target_score: float | None = None,
    max_bytes: int | None = None,
) -> pb.SubmitCompressRequest:
    """SubmitCompress always stores its output; say so rather than rely on the server.

    Without an input asset the server records the action FAILED (no input) and returns it.
    """
    options = compress_options(
        quality,
        keep_metadata,
        effort=effort,
        target_score=target_score,
        max_bytes=max_bytes,
        input_asset_id=input_asset_id,
        store_output=True,
    )
    return pb.SubmitCompressRequest(options=options)


def request_stream(
    options: pb.CompressOptions, chunks: Iterable[bytes]
) -> Iterator[pb.CompressRequest]:
    """The Compress request stream: options first, then one message per chunk."""
    yield pb.CompressRequest(options=options)
    for chunk in chunks:
        yield pb.CompressRequest(chunk=chunk)


def upload_stream(chunks: Iterable[bytes]) -> Iterator[assets_pb.UploadAssetRequest]:
    """The UploadAsset request stream: one message per chunk, the last with finish_write.

    One chunk is held back so the final message can carry the flag; the server stores
    nothing for a stream that ends without it (a cut-off upload).
    """
    held: bytes | None = None
    for chunk in chunks:
        if held is not None:
            yield assets_pb.UploadAssetRequest(chunk=held)
        held = chunk
    yield assets_pb.UploadAssetRequest(chunk=held or b"", finish_write=True)


def format_name(value: int) -> str:
    """ "jpeg" for IMAGE_FORMAT_JPEG; "unspecified" for 0; "unknown" for a value newer than us."""
    try:
        name = image_pb.ImageFormat.Name(image_pb.ImageFormat.ValueType(value))
    except ValueError:
        return "unknown"
    return name.removeprefix(_FORMAT_PREFIX).lower()


def _stages(stages: Iterable[image_pb.Stage]) -> tuple[Stage, ...]:
    return tuple(
        Stage(name=s.name, output_bytes=s.output_bytes, milliseconds=s.milliseconds) for s in stages
    )


def result_from_pb(result: pb.CompressResult, data: bytes, action_id: str = "") -> CompressResult:
    """The SDK's CompressResult from the wire result and the joined output chunks.

    `action_id` is the one streamed before the result; the result's own field wins if set.
    """
    return CompressResult(
        data=data,
        format=format_name(result.format),
        input_size=result.input_size,
        output_size=result.output_size,
        width=result.width,
        height=result.height,
        frames=result.frames,
        kept_original=result.kept_original,
        kept_original_reason=result.kept_original_reason,
        quality=result.quality,
        stages=_stages(result.stages),
        action_id=result.action_id or action_id,
        output_asset_id=result.output_asset_id,
        effort=result.effort,
        score=result.score if result.HasField("score") else None,
        budget_met=result.budget_met if result.HasField("budget_met") else None,
    )


class ResultAssembler:
    """Consumes the response stream (action id, result, then chunks) and builds the result.

    A result without the action id before it is accepted too (servers older than actions).
    Shared by Client and AsyncClient: each only loops over its own kind of stream and
    calls `add` per message, then `finish`.
    """

    def __init__(self) -> None:
        self._action_id: str | None = None
        self._result: pb.CompressResult | None = None
        self._chunks: list[bytes] = []
        self._size = 0

    @property
    def action_id(self) -> str:
        """The action id streamed first, "" until it arrives."""
        return self._action_id or ""

    def add(self, response: pb.CompressResponse) -> None:
        """Take one response message; raises InternalError if the stream breaks the contract."""
        kind = response.WhichOneof("payload")
        if self._result is None:
            if kind == "action_id" and self._action_id is None:
                self._action_id = response.action_id
            elif kind == "action_id":
                raise InternalError("server sent a second action id")
            elif kind == "result":
                self._result = response.result
            else:
                raise InternalError("server sent output before the result message")
        elif kind == "chunk":
            self._chunks.append(response.chunk)
            self._size += len(response.chunk)
        elif kind == "action_id":
            raise InternalError("server sent the action id after the result")
        else:
            raise InternalError("server sent a second result message")

    def finish(self) -> CompressResult:
        """The assembled result; raises InternalError if the stream was incomplete."""
        if self._result is None:
            raise InternalError("server closed the stream without a result")
        if self._size != self._result.output_size:
            raise InternalError(
                f"server announced {self._result.output_size} output bytes but sent {self._size}"
            )
        return result_from_pb(self._result, b"".join(self._chunks), self._action_id or "")


# -- platform: routes, assets, actions -------------------------------------------------------


def _datetime(message: Any, name: str) -> datetime | None:
    """A Timestamp field as an aware UTC datetime, None when unset."""
    if not message.HasField(name):
        return None
    stamp: Timestamp = getattr(message, name)
    return stamp.ToDatetime(tzinfo=UTC)


def asset_from_pb(asset: assets_pb.Asset) -> Asset:
    """An Asset; an unset creation time reads as the epoch."""
    return Asset(
        id=asset.id,
        owner=asset.owner,
        size=asset.size,
        format=format_name(asset.format),
        sha256=asset.sha256,
        created=_datetime(asset, "created") or _EPOCH,
    )


def status_from_pb(value: int) -> ActionStatus:
    """ActionStatus.QUEUED for ACTION_STATUS_QUEUED; UNSPECIFIED for 0 or a newer value."""
    try:
        name = actions_pb.ActionStatus.Name(actions_pb.ActionStatus.ValueType(value))
    except ValueError:
        return ActionStatus.UNSPECIFIED
    return ActionStatus(name.removeprefix(_STATUS_PREFIX).lower())


def status_to_pb(status: ActionStatus | str | None) -> actions_pb.ActionStatus.ValueType:
    """The wire value of a status ("queued" or ActionStatus.QUEUED); None means any."""
    if status is None:
        return actions_pb.ACTION_STATUS_UNSPECIFIED
    try:
        member = ActionStatus(status)
    except ValueError:
        choices = ", ".join(s.value for s in ActionStatus if s is not ActionStatus.UNSPECIFIED)
        raise InvalidOptionsError(
            f"Expected one of {choices} for status but received {status!r}"
        ) from None
    return actions_pb.ActionStatus.Value(_STATUS_PREFIX + member.name)


def action_from_pb(action: actions_pb.Action) -> Action:
    """An Action; response and error are None unless the server set them."""
    request = action.request
    response = action.response if action.HasField("response") else None
    error = action.error if action.HasField("error") else None
    return Action(
        id=action.id,
        route_id=action.route_id,
        owner=action.owner,
        status=status_from_pb(action.status),
        request=ActionRequest(
            quality=request.quality,
            keep_metadata=request.keep_metadata,
            input_asset_id=request.input_asset_id,
            input_size=request.input_size,
            input_format=format_name(request.input_format),
            store_output=request.store_output,
            effort=request.effort,
            target_score=request.target_score if request.HasField("target_score") else None,
            max_bytes=request.max_bytes if request.HasField("max_bytes") else None,
        ),
        response=None
        if response is None
        else ActionResponse(
            format=format_name(response.format),
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
            score=response.score if response.HasField("score") else None,
            budget_met=response.budget_met if response.HasField("budget_met") else None,
        ),
        error=None if error is None else ActionError(code=error.code, message=error.message),
        created=_datetime(action, "created"),
        started=_datetime(action, "started"),
        finished=_datetime(action, "finished"),
    )


def page_from_pb(response: actions_pb.ListActionsResponse) -> ActionPage:
    return ActionPage(
        actions=tuple(action_from_pb(a) for a in response.actions),
        next_page_token=response.next_page_token,
    )


def list_actions_request(
    page_size: int, page_token: str, status: ActionStatus | str | None, route_id: str | None
) -> actions_pb.ListActionsRequest:
    """Validated ListActions request (InvalidOptionsError for a page size outside 1-100)."""
    return actions_pb.ListActionsRequest(
        page_size=check_int_between("page_size", page_size, 1, MAX_PAGE_SIZE),
        page_token=page_token,
        status=status_to_pb(status),
        route_id=route_id or "",
    )


def next_page_request(
    request: actions_pb.ListActionsRequest, response: actions_pb.ListActionsResponse
) -> actions_pb.ListActionsRequest | None:
    """The request for the page after `response`, None after the last page."""
    if not response.next_page_token:
        return None
    following = actions_pb.ListActionsRequest()
    following.CopyFrom(request)
    following.page_token = response.next_page_token
    return following


def get_action_request(action_id: str) -> actions_pb.GetActionRequest:
    return actions_pb.GetActionRequest(id=check_id("action_id", action_id))


def watch_action_request(action_id: str) -> actions_pb.WatchActionRequest:
    return actions_pb.WatchActionRequest(id=check_id("action_id", action_id))


def cancel_action_request(action_id: str) -> actions_pb.CancelActionRequest:
    return actions_pb.CancelActionRequest(id=check_id("action_id", action_id))


def get_asset_request(asset_id: str) -> assets_pb.GetAssetRequest:
    return assets_pb.GetAssetRequest(id=check_id("asset_id", asset_id))


def download_asset_request(asset_id: str) -> assets_pb.DownloadAssetRequest:
    return assets_pb.DownloadAssetRequest(id=check_id("asset_id", asset_id))


def delete_asset_request(asset_id: str) -> assets_pb.DeleteAssetRequest:
    return assets_pb.DeleteAssetRequest(id=check_id("asset_id", asset_id))


def get_route_request(route: str) -> routes_pb.GetRouteRequest:
    return routes_pb.GetRouteRequest(route=check_id("route", route))


def _parameter(parameter: routes_pb.Parameter) -> dict[str, Any]:
    """A JSON-schema-like dict; "default" is the parsed default_json (raw text if not JSON)."""
    schema: dict[str, Any] = {"type": parameter.type, "description": parameter.description}
    if parameter.default_json:
        try:
            schema["default"] = json.loads(parameter.default_json)
        except ValueError:
            schema["default"] = parameter.default_json
    if parameter.HasField("minimum"):
        schema["minimum"] = parameter.minimum
    if parameter.HasField("maximum"):
        schema["maximum"] = parameter.maximum
    return schema


def _visibility(value: int) -> Visibility:
    try:
        name = routes_pb.Visibility.Name(routes_pb.Visibility.ValueType(value))
    except ValueError:
        return Visibility.UNSPECIFIED
    return Visibility(name.removeprefix(_VISIBILITY_PREFIX).lower())


def route_fields_from_pb(route: routes_pb.Route) -> RouteFields:
    """The route's data; Route and AsyncRoute add their client to it."""
    limits = route.limits
    return RouteFields(
        id=route.id,
        identifier=route.identifier,
        owner=route.owner,
        name=route.name,
        visibility=_visibility(route.visibility),
        description=route.description,
        metadata={
            "parameters": {p.name: _parameter(p) for p in route.parameters},
            "formats": list(route.formats),
            "limits": {
                "max_input_bytes": limits.max_input_bytes,
                "max_pixels": limits.max_pixels,
                "max_frames": limits.max_frames,
            },
            "rpcs": list(route.rpcs),
        },
    )
