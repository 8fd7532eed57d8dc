"""In-process fakes of the platform services (routes, assets, actions, SubmitCompress) for the
SDK and CLI tests: tiny in-memory dicts behind the generated servicer base classes.

Each action has a script of statuses still to come: every GetAction takes one step, a
WatchAction streams them all (or breaks, or ends early, per `watch_mode`).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from pixpress.v1 import actions_pb2 as actions_pb
from pixpress.v1 import actions_pb2_grpc, assets_pb2_grpc, compress_pb2_grpc, routes_pb2_grpc
from pixpress.v1 import assets_pb2 as assets_pb
from pixpress.v1 import compress_pb2 as pb
from pixpress.v1 import image_pb2 as image_pb
from pixpress.v1 import routes_pb2 as routes_pb

from tests.unit.client_echo_server import PNG_MAGIC, EchoServicer

ROUTE_ID = "0b6c3d1e-6a55-4c1e-9a43-6f4f1b7c2d10"
ROUTE_IDENTIFIER = "pixpress/compress-an-image"
OWNER = "owner-1"
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
DOWNLOAD_CHUNK = 64 * 1024
NO_INPUT_MESSAGE = "no input image: pass input_asset={'assetId': ID, 'assetType': 'file'}"

QUEUED = actions_pb.ACTION_STATUS_QUEUED
RUNNING = actions_pb.ACTION_STATUS_RUNNING
SUCCEEDED = actions_pb.ACTION_STATUS_SUCCEEDED
FAILED = actions_pb.ACTION_STATUS_FAILED
CANCELLED = actions_pb.ACTION_STATUS_CANCELLED
TERMINAL = {SUCCEEDED, FAILED, CANCELLED}


def stamp(moment: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(moment)
    return result


def route_message() -> routes_pb.Route:
    return routes_pb.Route(
        id=ROUTE_ID,
        identifier=ROUTE_IDENTIFIER,
        owner="pixpress",
        name="compress-an-image",
        description="Compress an image while maintaining its current format.",
        visibility=routes_pb.VISIBILITY_PUBLIC,
        parameters=[
            routes_pb.Parameter(
                name="quality",
                type="integer",
                description="1 (smallest) to 100 (lossless only)",
                default_json="80",
                minimum=1,
                maximum=100,
            ),
            routes_pb.Parameter(
                name="keep_metadata",
                type="boolean",
                description="keep EXIF, XMP, IPTC",
                default_json="false",
            ),
        ],
        formats=["jpeg", "png", "webp", "gif", "avif", "heif", "tiff"],
        limits=routes_pb.RouteLimits(
            max_input_bytes=268435456, max_pixels=268402689, max_frames=1000
        ),
        rpcs=["pixpress.v1.CompressService/Compress", "pixpress.v1.CompressService/SubmitCompress"],
    )


@dataclass
class PlatformState:
    """Everything the fakes store, and what the tests can inspect or steer."""

    assets: dict[str, tuple[assets_pb.Asset, bytes]] = field(default_factory=dict)
    actions: dict[str, actions_pb.Action] = field(default_factory=dict)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    watch_mode: str = "stream"  # "stream", "break", "end" or "unimplemented"
    upload_chunk_sizes: list[list[int]] = field(default_factory=list)
    corrupt_downloads: bool = False
    compress_calls: list = field(default_factory=list)  # the echo Compress's Seen records
    calls: list[tuple[str, object, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, request: object, context) -> None:
        with self.lock:
            self.calls.append((method, request, dict(context.invocation_metadata())))

    def methods(self) -> list[str]:
        return [method for method, _, _ in self.calls]

    def last(self, method: str) -> tuple[object, dict[str, str]]:
        """The request and metadata of the last call of `method`."""
        request, metadata = next((r, m) for name, r, m in reversed(self.calls) if name == method)
        return request, metadata

    def add_asset(self, data: bytes) -> assets_pb.Asset:
        image_format = (
            image_pb.IMAGE_FORMAT_PNG if data.startswith(PNG_MAGIC) else image_pb.IMAGE_FORMAT_JPEG
        )
        asset = assets_pb.Asset(
            id=str(uuid.uuid4()),
            owner=OWNER,
            size=len(data),
            format=image_format,
            sha256=hashlib.sha256(data).hexdigest(),
            created=stamp(T0),
        )
        self.assets[asset.id] = (asset, data)
        return asset

    def add_action(
        self, status: int = QUEUED, *, input_asset_id: str = "", script: list[int] | None = None
    ) -> actions_pb.Action:
        action = actions_pb.Action(
            id=str(uuid.uuid4()),
            route_id=ROUTE_ID,
            owner=OWNER,
            status=QUEUED,
            request=actions_pb.ActionRequest(
                quality=80,
                input_asset_id=input_asset_id,
                input_size=len(self.assets[input_asset_id][1]) if input_asset_id else 0,
                input_format=image_pb.IMAGE_FORMAT_JPEG,
                store_output=True,
            ),
            created=stamp(T0 + timedelta(seconds=len(self.actions))),
        )
        self.actions[action.id] = action
        self.scripts[action.id] = list(script if script is not None else [RUNNING, SUCCEEDED])
        if status != QUEUED:
            self.apply(action.id, status)
        return action

    def apply(self, action_id: str, status: int) -> actions_pb.Action:
        action = self.actions[action_id]
        action.status = status
        if status == RUNNING:
            action.started.CopyFrom(stamp(T0 + timedelta(minutes=1)))
        if status in TERMINAL:
            action.finished.CopyFrom(stamp(T0 + timedelta(minutes=2)))
            self.scripts[action_id] = []
        if status == SUCCEEDED:
            source = self.assets.get(action.request.input_asset_id)
            output = self.add_asset(source[1][::-1] if source else b"output")
            action.response.CopyFrom(
                actions_pb.ActionResponse(
                    format=image_pb.IMAGE_FORMAT_JPEG,
                    output_size=output.size,
                    width=3,
                    height=2,
                    frames=1,
                    output_asset_id=output.id,
                    stages=[
                        image_pb.Stage(name="encode", output_bytes=output.size, milliseconds=2)
                    ],
                )
            )
        elif status == FAILED:
            action.error.CopyFrom(
                actions_pb.ActionError(code="INVALID_ARGUMENT", message="corrupt")
            )
        elif status == CANCELLED:
            action.error.CopyFrom(
                actions_pb.ActionError(code="CANCELLED", message="cancelled by the caller")
            )
        return action

    def step(self, action_id: str) -> actions_pb.Action:
        """Take the next scripted status, if any; returns a copy of the action."""
        with self.lock:
            if action_id not in self.actions:
                raise KeyError(action_id)
            script = self.scripts[action_id]
            if script:
                self.apply(action_id, script.pop(0))
            copy = actions_pb.Action()
            copy.CopyFrom(self.actions[action_id])
            return copy


def _action_or_abort(state: PlatformState, action_id: str, context) -> actions_pb.Action:
    if action_id not in state.actions:
        context.abort(grpc.StatusCode.NOT_FOUND, f"no action {action_id}")
    return state.actions[action_id]


class FakeCompress(EchoServicer):
    """The echo Compress (stored inputs read from the state) plus SubmitCompress."""

    def __init__(self, state: PlatformState) -> None:
        super().__init__()
        self.state = state
        self.calls = state.compress_calls

    def input_bytes(self, options, context) -> bytes:
        if options.input_asset_id not in self.state.assets:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no asset {options.input_asset_id}")
        return self.state.assets[options.input_asset_id][1]

    def SubmitCompress(self, request: pb.SubmitCompressRequest, context):
        """As the server: no input asset is a FAILED action (returned), an unknown one an
        error of the call."""
        self.state.record("SubmitCompress", request, context)
        asset_id = request.options.input_asset_id
        if asset_id and asset_id not in self.state.assets:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no asset {asset_id}")
        action = self.state.add_action(input_asset_id=asset_id)
        if not asset_id:
            action = self.state.apply(action.id, FAILED)
            action.error.message = NO_INPUT_MESSAGE
        if request.options.HasField("quality"):
            action.request.quality = request.options.quality
        action.request.keep_metadata = request.options.keep_metadata
        return action


class FakeAssets(assets_pb2_grpc.AssetServiceServicer):
    def __init__(self, state: PlatformState) -> None:
        self.state = state

    def UploadAsset(self, request_iterator, context):
        self.state.record("UploadAsset", None, context)
        sizes, pieces, finished = [], [], False
        for request in request_iterator:
            if finished:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "message after finish_write")
            sizes.append(len(request.chunk))
            pieces.append(request.chunk)
            finished = request.finish_write
        if not finished:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "upload incomplete: no finish_write")
        self.state.upload_chunk_sizes.append(sizes)
        data = b"".join(pieces)
        if not data or data.startswith(b"ABORT"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported format: unknown")
        return self.state.add_asset(data)

    def _asset(self, asset_id: str, context) -> tuple[assets_pb.Asset, bytes]:
        if asset_id not in self.state.assets:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no asset {asset_id}")
        return self.state.assets[asset_id]

    def GetAsset(self, request, context):
        self.state.record("GetAsset", request, context)
        return self._asset(request.id, context)[0]

    def DownloadAsset(self, request, context):
        self.state.record("DownloadAsset", request, context)
        asset, data = self._asset(request.id, context)
        yield assets_pb.DownloadAssetResponse(asset=asset)
        if self.state.corrupt_downloads:
            data = data[:-1] + bytes([data[-1] ^ 1])
        for start in range(0, len(data), DOWNLOAD_CHUNK):
            yield assets_pb.DownloadAssetResponse(chunk=data[start : start + DOWNLOAD_CHUNK])

    def DeleteAsset(self, request, context):
        self.state.record("DeleteAsset", request, context)
        self._asset(request.id, context)
        del self.state.assets[request.id]
        return assets_pb.DeleteAssetResponse()


class FakeActions(actions_pb2_grpc.ActionServiceServicer):
    def __init__(self, state: PlatformState) -> None:
        self.state = state

    def GetAction(self, request, context):
        self.state.record("GetAction", request, context)
        _action_or_abort(self.state, request.id, context)
        return self.state.step(request.id)

    def ListActions(self, request, context):
        self.state.record("ListActions", request, context)
        matching = [
            action
            for action in reversed(self.state.actions.values())
            if request.status in (actions_pb.ACTION_STATUS_UNSPECIFIED, action.status)
            and request.route_id in ("", action.route_id)
        ]
        size = request.page_size or 20
        start = int(request.page_token or 0)
        end = start + size
        return actions_pb.ListActionsResponse(
            actions=matching[start:end],
            next_page_token=str(end) if end < len(matching) else "",
        )

    def WatchAction(self, request, context):
        self.state.record("WatchAction", request, context)
        action = _action_or_abort(self.state, request.id, context)
        mode = self.state.watch_mode
        if mode == "unimplemented":
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "no watching here")
        yield action
        if mode == "break":
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")
        if mode == "end":
            return
        while action.status not in TERMINAL:
            action = self.state.step(request.id)
            yield action

    def CancelAction(self, request, context):
        self.state.record("CancelAction", request, context)
        action = _action_or_abort(self.state, request.id, context)
        if action.status in TERMINAL:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the action has finished")
        return self.state.apply(request.id, CANCELLED)


class FakeRoutes(routes_pb2_grpc.RouteServiceServicer):
    def __init__(self, state: PlatformState) -> None:
        self.state = state

    def GetRoute(self, request, context):
        self.state.record("GetRoute", request, context)
        if request.route not in (ROUTE_ID, ROUTE_IDENTIFIER):
            context.abort(grpc.StatusCode.NOT_FOUND, f"no route {request.route}")
        return route_message()


@contextlib.contextmanager
def platform_server() -> Iterator[tuple[str, PlatformState]]:
    """Serve every fake on a free localhost port; yields ("localhost:PORT", state)."""
    state = PlatformState()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    compress_pb2_grpc.add_CompressServiceServicer_to_server(FakeCompress(state), server)
    assets_pb2_grpc.add_AssetServiceServicer_to_server(FakeAssets(state), server)
    actions_pb2_grpc.add_ActionServiceServicer_to_server(FakeActions(state), server)
    routes_pb2_grpc.add_RouteServiceServicer_to_server(FakeRoutes(state), server)
    port = server.add_insecure_port("localhost:0")
    server.start()
    try:
        yield f"localhost:{port}", state
    finally:
        server.stop(grace=None).wait()
