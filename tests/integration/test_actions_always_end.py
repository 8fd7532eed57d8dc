"""Every Compress ends its action with the real code and message, however the call ends; a
SubmitCompress without input is recorded too; a bad page token is the client's mistake."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from pixpress import Client, PixpressError
from pixpress.v1 import (
    actions_pb2,
    assets_pb2,
    compress_pb2,
)

from tests.integration.server_process import ServerProcess, Stubs, create_key, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PNG = (FIXTURES / "png" / "kodim23.png").read_bytes()
JPEG = (FIXTURES / "jpeg" / "Landscape_1.jpg").read_bytes()
BMP = b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + bytes(56)
CHUNK = 256 * 1024
MIB = 1024 * 1024
MAX_INPUT = MIB  # --max-input-bytes of these servers
SERVER_ARGS = ["--workers", "1", "--max-input-bytes", "1MiB", "--log-level", "INFO"]
RESTART_MESSAGE = "the server stopped while this action was unfinished"
WAIT = 30.0
FAILED, CANCELLED = actions_pb2.ACTION_STATUS_FAILED, actions_pb2.ACTION_STATUS_CANCELLED
TERMINAL = {actions_pb2.ACTION_STATUS_SUCCEEDED, FAILED, CANCELLED}


@dataclass
class Platform(Stubs):
    server: ServerProcess = field(kw_only=True)

    def get_action(self, action_id: str, timeout: float = WAIT) -> actions_pb2.Action:
        return super().get_action(action_id, timeout)

    def wait_terminal(self, action_id: str) -> actions_pb2.Action:
        """The action once terminal (bounded: a stuck one fails the test with its status)."""
        deadline = time.monotonic() + WAIT
        while True:
            action = self.get_action(action_id)
            if action.status in TERMINAL or time.monotonic() > deadline:
                return action
            time.sleep(0.1)

    def upload(self, data: bytes) -> assets_pb2.Asset:
        request = assets_pb2.UploadAssetRequest(chunk=data, finish_write=True)
        return self.assets.UploadAsset(iter([request]), metadata=self.metadata, timeout=WAIT)


def open_platform(data_dir: Path, key: str | None = None) -> Platform:
    server = start_server(data_dir, SERVER_ARGS)
    # Sends messages up to 16 MiB, so the server's own 4 MiB limit is what refuses one.
    channel = grpc.insecure_channel(
        server.address, options=[("grpc.max_send_message_length", 16 * MIB)]
    )
    return Platform(channel, key or create_key(data_dir, "alice"), server=server)


def close_platform(platform: Platform) -> None:
    platform.channel.close()
    assert platform.server.stop() == 0, platform.server.log


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    opened = open_platform(tmp_path_factory.mktemp("always-end"))
    yield opened
    close_platform(opened)


def options(**fields: object) -> compress_pb2.CompressRequest:
    return compress_pb2.CompressRequest(options=compress_pb2.CompressOptions(**fields))  # type: ignore[arg-type]


def chunks(data: bytes, size: int = CHUNK) -> list[compress_pb2.CompressRequest]:
    return [
        compress_pb2.CompressRequest(chunk=data[i : i + size]) for i in range(0, len(data), size)
    ]


@dataclass(frozen=True)
class Case:
    name: str
    code: grpc.StatusCode
    message: str
    # What the action records, when not the call's own status (gRPC ends a call with a
    # message over 4 MiB itself: the server sees that as a cancel).
    recorded: tuple[str, str] | None = None


CASES = [
    Case("bmp", grpc.StatusCode.INVALID_ARGUMENT, "unsupported format: bmp"),
    Case("unknown bytes", grpc.StatusCode.INVALID_ARGUMENT, "unsupported format: unknown"),
    Case("empty input", grpc.StatusCode.INVALID_ARGUMENT, "no image bytes"),
    Case("options twice", grpc.StatusCode.INVALID_ARGUMENT, "options must be sent once"),
    Case(
        "message over 4 MiB",
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "larger than max",
        recorded=("CANCELLED", "by gRPC for a message over 4 MiB"),
    ),
    Case("chunks and input_asset_id", grpc.StatusCode.INVALID_ARGUMENT, "send no chunks"),
    Case("input over --max-input-bytes", grpc.StatusCode.RESOURCE_EXHAUSTED, "--max-input-bytes"),
]


def requests_for(case: Case, platform: Platform) -> list[compress_pb2.CompressRequest]:
    if case.name == "bmp":
        return [options(), *chunks(BMP)]
    if case.name == "unknown bytes":
        return [options(), *chunks(b"plain text, not an image at all " * 40)]
    if case.name == "empty input":
        return [options()]
    if case.name == "options twice":
        return [options(), *chunks(JPEG[:CHUNK]), options()]
    if case.name == "message over 4 MiB":
        return [options(), *chunks(JPEG[:CHUNK]), *chunks(bytes(5 * MIB), 5 * MIB)]
    if case.name == "chunks and input_asset_id":
        return [options(input_asset_id=platform.upload(JPEG).id), *chunks(JPEG[:CHUNK])]
    assert case.name == "input over --max-input-bytes"
    return [options(), *chunks((PNG * 8)[: MAX_INPUT + 2 * CHUNK])]


def failing_compress(platform: Platform, case: Case) -> str:
    """Run the case; assert the call's error, return the action id its error names."""
    responses = platform.compress.Compress(
        iter(requests_for(case, platform)), metadata=platform.metadata, timeout=WAIT
    )
    action_id = ""
    with pytest.raises(grpc.RpcError) as raised:
        for response in responses:
            action_id = action_id or response.action_id
    error = raised.value
    assert (error.code(), case.message in (error.details() or "")) == (case.code, True), (
        error.details()
    )
    trailing = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
    if case.recorded is None:  # else the status came from gRPC, not from pixpress
        assert action_id and trailing.get("pixpress-action-id") == action_id, trailing
    assert action_id
    return action_id


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_failed_compress_ends_its_action_with_the_real_error(
    platform: Platform, case: Case
) -> None:
    action = platform.wait_terminal(failing_compress(platform, case))
    code, message = case.recorded or (case.code.name, case.message)
    assert action.status == (CANCELLED if code == "CANCELLED" else FAILED), action
    assert action.error.code == code and message in action.error.message, action


def cancel_mid_upload(platform: Platform) -> str:
    """A client that sends part of an image, then cancels: the action id it was given."""
    sent = threading.Event()

    def requests() -> Iterator[compress_pb2.CompressRequest]:
        yield options()
        yield from chunks(PNG[:CHUNK])
        sent.set()
        time.sleep(WAIT)  # the rest never comes

    call = platform.compress.Compress(requests(), metadata=platform.metadata, timeout=WAIT)
    action_id = next(call).action_id
    assert sent.wait(WAIT)
    call.cancel()
    return action_id


def test_cancelled_uploads_end_their_actions_cancelled(platform: Platform) -> None:
    action_ids = [cancel_mid_upload(platform) for _ in range(30)]
    actions = [platform.wait_terminal(action_id) for action_id in action_ids]
    assert [a.status for a in actions if a.status != CANCELLED] == []
    assert {a.error.code for a in actions} == {"CANCELLED"}
    assert all("cancelled" in a.error.message for a in actions)


def test_the_readme_example_ends_its_action(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXPRESS_SERVER", platform.server.address)
    monkeypatch.setenv("PIXPRESS_API_KEY", platform.key)
    with pytest.raises(PixpressError) as raised:
        Client().compress(b"not an image")
    error = raised.value
    assert error.code.name == "INVALID_ARGUMENT" and error.action_id, error
    action = platform.wait_terminal(error.action_id)
    assert action.status == FAILED and action.error.code == "INVALID_ARGUMENT", action
    assert action.error.message == error.message


def test_submit_without_input_is_recorded_as_failed(platform: Platform) -> None:
    """The route page's `route.use(body={'quality': 85})` with no input asset."""
    request = compress_pb2.SubmitCompressRequest(options=compress_pb2.CompressOptions(quality=85))
    action = platform.compress.SubmitCompress(request, metadata=platform.metadata, timeout=WAIT)
    assert action.status == FAILED and action.error.code == "INVALID_ARGUMENT", action
    assert "no input image" in action.error.message
    assert "client.assets.upload" in action.error.message
    assert action.request.quality == 85 and action.finished.ToDatetime()
    assert platform.get_action(action.id) == action


def test_submit_with_an_unknown_asset_is_still_not_found(platform: Platform) -> None:
    options_ = compress_pb2.CompressOptions(input_asset_id="2f0c3a8e-0000-4000-8000-000000000000")
    request = compress_pb2.SubmitCompressRequest(options=options_)
    with pytest.raises(grpc.RpcError) as raised:
        platform.compress.SubmitCompress(request, metadata=platform.metadata, timeout=WAIT)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("token", ["é", "ünïcödé.tökén", "abc.\u00e9\u00e9\u00e9", "日本"])
def test_a_non_ascii_page_token_is_invalid_argument(platform: Platform, token: str) -> None:
    request = actions_pb2.ListActionsRequest(page_size=10, page_token=token)
    with pytest.raises(grpc.RpcError) as raised:
        platform.actions.ListActions(request, metadata=platform.metadata, timeout=WAIT)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    assert "invalid page token" in (raised.value.details() or "")


def test_ended_actions_keep_their_error_after_a_restart(tmp_path: Path) -> None:
    first = open_platform(tmp_path)
    try:
        failed = {failing_compress(first, case): case for case in CASES[:3]}
        cancelled = cancel_mid_upload(first)
        assert first.wait_terminal(cancelled).status == CANCELLED
        for action_id in failed:
            assert first.wait_terminal(action_id).status == FAILED
    finally:
        close_platform(first)
    again = open_platform(tmp_path, first.key)
    try:
        for action_id, case in failed.items():
            action = again.get_action(action_id)
            assert action.status == FAILED and case.message in action.error.message, action
        action = again.get_action(cancelled)
        assert action.status == CANCELLED and RESTART_MESSAGE not in action.error.message
    finally:
        close_platform(again)
