"""No slot held by a silent client: per-owner slots, idle uploads and downloads ended
(DEADLINE_EXCEEDED, action FAILED, slot and tmp/ files freed), and a quick SIGTERM."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from PIL import Image
from pixpress.v1 import (
    actions_pb2,
    assets_pb2,
    compress_pb2,
)

from tests.integration.server_process import ServerProcess, Stubs, create_key, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = (FIXTURES / "jpeg" / "Landscape_1.jpg").read_bytes()
CHUNK = 256 * 1024
IDLE = 2  # --stream-idle-timeout of these servers
SERVER_ARGS = [
    *("--workers", "1", "--max-queue", "8", "--stream-idle-timeout", str(IDLE)),
    *("--max-input-bytes", "64MiB", "--log-level", "INFO"),
]  # --max-slots-per-owner defaults to 8 // 4 = 2
OWNER_SLOTS = 2
WAIT = 60.0
IDLE_MESSAGE = "--stream-idle-timeout"


@dataclass
class Platform:
    server: ServerProcess
    alice: Stubs
    bob: Stubs

    @property
    def tmp_files(self) -> list[Path]:
        return list((self.server.data_dir / "tmp").iterdir())


def open_platform(data_dir: Path, extra: list[str] | None = None) -> Platform:
    server = start_server(data_dir, [*SERVER_ARGS, *(extra or [])])
    channel = grpc.insecure_channel(server.address)
    return Platform(
        server,
        Stubs(channel, create_key(data_dir, "alice")),
        # Its own connection: what one client's stalled streams do to it is the point.
        Stubs(grpc.insecure_channel(server.address), create_key(data_dir, "bob")),
    )


def close_platform(platform: Platform, timeout: float = 30) -> int:
    platform.alice.channel.close()
    platform.bob.channel.close()
    return platform.server.stop(timeout)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    opened = open_platform(tmp_path_factory.mktemp("idle"))
    yield opened
    assert close_platform(opened) == 0, opened.server.log


def eventually(condition: Callable[[], bool], seconds: float = WAIT) -> bool:
    """Poll `condition` until true or `seconds` have passed; its last value."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        time.sleep(0.1)
    return True


def options(**fields: object) -> compress_pb2.CompressRequest:
    return compress_pb2.CompressRequest(options=compress_pb2.CompressOptions(**fields))  # type: ignore[arg-type]


def chunks(data: bytes) -> list[compress_pb2.CompressRequest]:
    return [
        compress_pb2.CompressRequest(chunk=data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)
    ]


class StalledUpload:
    """A Compress that sends its options and one chunk, then nothing (until released)."""

    def __init__(self, caller: Stubs) -> None:
        self._release = threading.Event()
        self.call = caller.compress.Compress(
            self._requests(), metadata=caller.metadata, timeout=WAIT
        )

    def _requests(self) -> Iterator[compress_pb2.CompressRequest]:
        yield options()
        yield chunks(JPEG)[0]
        self._release.wait(WAIT)

    def outcome(self) -> tuple[str, grpc.RpcError | None]:
        """The action id it was given (if any) and the error that ended the call."""
        action_id = ""
        try:
            for response in self.call:
                action_id = action_id or response.action_id
        except grpc.RpcError as error:
            return action_id, error
        finally:
            self._release.set()
        return action_id, None


def compress_ok(caller: Stubs) -> None:
    responses = list(
        caller.compress.Compress(
            iter([options(quality=60), *chunks(JPEG)]), metadata=caller.metadata, timeout=WAIT
        )
    )
    assert responses[1].result.output_size == len(b"".join(r.chunk for r in responses[2:]))


def assert_ended_idle(caller: Stubs, action_id: str, error: grpc.RpcError | None) -> None:
    assert error is not None and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert IDLE_MESSAGE in (error.details() or ""), error.details()
    action = caller.get_action(action_id)
    assert action.status == actions_pb2.ACTION_STATUS_FAILED, action
    assert action.error.code == "DEADLINE_EXCEEDED" and IDLE_MESSAGE in action.error.message


def test_stalled_uploads_of_one_owner_leave_slots_for_others_and_end(platform: Platform) -> None:
    stalled = [StalledUpload(platform.alice) for _ in range(OWNER_SLOTS)]
    first_responses = [next(s.call).action_id for s in stalled]  # both hold a slot now
    assert all(first_responses)
    with pytest.raises(grpc.RpcError) as refused:
        compress_ok(platform.alice)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-slots-per-owner" in (refused.value.details() or "")
    retry_after = dict(refused.value.trailing_metadata() or ())  # type: ignore[attr-defined]
    assert float(retry_after["pixpress-retry-after"]) > 0
    compress_ok(platform.bob)  # another owner is served meanwhile
    started = time.monotonic()
    for upload, action_id in zip(stalled, first_responses, strict=True):
        _, error = upload.outcome()
        assert_ended_idle(platform.alice, action_id, error)
    assert time.monotonic() - started < WAIT / 2  # ended by the server, not the client's deadline
    assert eventually(lambda: not platform.tmp_files), platform.tmp_files
    compress_ok(platform.alice)  # alice's slots came back


def test_a_stalled_asset_upload_ends(platform: Platform) -> None:
    release = threading.Event()

    def requests() -> Iterator[assets_pb2.UploadAssetRequest]:
        yield assets_pb2.UploadAssetRequest(chunk=JPEG[:CHUNK])
        release.wait(WAIT)

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        platform.alice.assets.UploadAsset(
            requests(), metadata=platform.alice.metadata, timeout=WAIT
        )
    release.set()
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert IDLE_MESSAGE in (raised.value.details() or "")
    assert time.monotonic() - started < WAIT / 2
    assert eventually(lambda: not platform.tmp_files), platform.tmp_files


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """Noise, 7.5 MP (8 MB): its output at quality 100 (7 MB) is larger than the flow-control
    windows, which took about 2-5 MB here."""
    image = Image.frombytes("RGB", (3000, 2500), os.urandom(3000 * 2500 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


class UnreadCompress:
    """A Compress of `data` whose caller takes only the first response, then stops reading."""

    def __init__(self, caller: Stubs, data: bytes) -> None:
        self.call = caller.compress.Compress(
            iter([options(quality=100), *chunks(data)]), metadata=caller.metadata, timeout=WAIT
        )
        self.action_id = next(self.call).action_id

    def read_the_rest(self) -> tuple[int, grpc.RpcError | None]:
        received = 0
        try:
            for response in self.call:
                received += len(response.chunk)
        except grpc.RpcError as error:
            return received, error
        return received, None


def test_a_client_that_stops_reading_frees_its_slot_and_files(
    platform: Platform, big_jpeg: bytes
) -> None:
    unread = UnreadCompress(platform.alice, big_jpeg)

    def failed() -> bool:
        return (
            platform.alice.get_action(unread.action_id).status == actions_pb2.ACTION_STATUS_FAILED
        )

    assert eventually(failed), platform.alice.get_action(unread.action_id)
    assert eventually(lambda: not platform.tmp_files), platform.tmp_files
    # Both of alice's slots are free again, with the call still open.
    stalled = [StalledUpload(platform.alice) for _ in range(OWNER_SLOTS)]
    assert all(next(s.call).action_id for s in stalled)
    for upload in stalled:
        upload.call.cancel()
        upload.outcome()
    received, error = unread.read_the_rest()  # what was buffered, then the reason
    assert 0 < received < len(big_jpeg)
    assert_ended_idle(platform.alice, unread.action_id, error)


def test_a_download_that_is_not_read_is_ended(platform: Platform, big_jpeg: bytes) -> None:
    caller = platform.alice
    upload = assets_pb2.UploadAssetRequest
    requests = [upload(chunk=big_jpeg[i : i + CHUNK]) for i in range(0, len(big_jpeg), CHUNK)]
    requests[-1].finish_write = True
    asset = caller.assets.UploadAsset(iter(requests), metadata=caller.metadata, timeout=WAIT)
    download = caller.assets.DownloadAsset(
        assets_pb2.DownloadAssetRequest(id=asset.id), metadata=caller.metadata, timeout=WAIT
    )
    assert next(download).asset.id == asset.id
    time.sleep(IDLE * 3)  # reads nothing meanwhile
    received = 0
    with pytest.raises(grpc.RpcError) as raised:
        for response in download:
            received += len(response.chunk)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert IDLE_MESSAGE in (raised.value.details() or "")
    assert 0 < received < len(big_jpeg)


def test_sigterm_with_a_client_that_stopped_reading_exits_quickly(
    tmp_path: Path, big_jpeg: bytes
) -> None:
    platform = open_platform(tmp_path, ["--shutdown-grace", "60"])
    try:
        unread = UnreadCompress(platform.alice, big_jpeg)
        assert eventually(
            lambda: (
                platform.alice.get_action(unread.action_id).status
                == actions_pb2.ACTION_STATUS_RUNNING
            )
        )
        started = time.monotonic()
        code = platform.server.stop(timeout=90)  # the client's call is still open, unread
        took = time.monotonic() - started
    finally:
        close_platform(platform)
    assert code == 0, platform.server.log
    assert took < 30, f"SIGTERM took {took:.1f} s with --shutdown-grace 60"
    print(f"SIGTERM to exit with a client that stopped reading: {took:.1f} s")
