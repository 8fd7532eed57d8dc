"""Assets and their blobs through a real server: races, pinned inputs, access, quota, the loop."""

from __future__ import annotations

import hashlib
import os
import re
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import pyvips
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pixpress.v1 import actions_pb2, assets_pb2, compress_pb2

from tests.integration.server_process import ServerProcess, create_key, keyed_channel, start_server
from tests.integration.test_platform_server import (
    CHUNK,
    Stubs,
    download,
    rpc_error,
    submit,
    upload,
    wait_terminal,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RACE_CYCLES = 150
RACE_SECONDS = 60.0


def blob_files(server: ServerProcess) -> set[str]:
    return {path.name for path in (server.data_dir / "blobs").glob("??/*")}


def compress_stored(stubs: Stubs, data: bytes) -> list[compress_pb2.CompressResponse]:
    options = compress_pb2.CompressOptions(quality=60, store_output=True)
    requests = [compress_pb2.CompressRequest(options=options)] + [
        compress_pb2.CompressRequest(chunk=data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)
    ]
    return list(stubs.compress.Compress(iter(requests), timeout=60))


@pytest.fixture
def owners(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[ServerProcess, dict[str, Stubs]]]:
    marker = request.node.get_closest_marker("server_args")
    data_dir = tmp_path / "data"
    keys = {owner: create_key(data_dir, owner) for owner in ("alice", "bob")}
    args = ["--workers", "1", "--rate-limit", "0", *(marker.args if marker else ())]
    server = start_server(data_dir, args)
    stubs = {owner: Stubs(keyed_channel(server.address, key)) for owner, key in keys.items()}
    yield server, stubs
    for stub in stubs.values():
        stub.channel.close()
    server.stop()


@pytest.fixture(scope="module")
def small_jpeg() -> bytes:
    photo = pyvips.Image.new_from_file(str(FIXTURES / "jpeg" / "Landscape_1.jpg"))
    return bytes(photo.thumbnail_image(320).jpegsave_buffer(Q=95))


@pytest.fixture(scope="module")
def slow_pngs() -> tuple[bytes, bytes]:
    """Two different enlarged photos: compressing each keeps the one worker busy a while."""
    photo = pyvips.Image.new_from_file(str(FIXTURES / "png" / "kodim23.png")).resize(1.5)
    return bytes(photo.pngsave_buffer(compression=1)), bytes(photo.pngsave_buffer(compression=2))


def test_store_output_races_delete_of_the_same_bytes_without_losing_a_blob(
    owners: tuple[ServerProcess, dict[str, Stubs]], small_jpeg: bytes
) -> None:
    """Item 6: bob stores outputs while alice uploads and deletes the very same bytes."""
    server, stubs = owners
    first = compress_stored(stubs["bob"], small_jpeg)
    output = b"".join(r.chunk for r in first)
    stubs["bob"].assets.DeleteAsset(
        assets_pb2.DeleteAssetRequest(id=first[1].result.output_asset_id)
    )
    digest = hashlib.sha256(output).hexdigest()
    stop = threading.Event()
    failures: list[str] = []

    def churn() -> None:  # alice: upload, check, delete the same bytes, again and again
        while not stop.is_set():
            try:
                asset = upload(stubs["alice"], output)
                _, data = download(stubs["alice"], asset.id)
                if hashlib.sha256(data).hexdigest() != digest:
                    failures.append(f"alice's asset {asset.id} lost its bytes")
                stubs["alice"].assets.DeleteAsset(assets_pb2.DeleteAssetRequest(id=asset.id))
            except grpc.RpcError as error:
                failures.append(f"alice: {error.code().name}: {error.details()}")

    threads = [threading.Thread(target=churn) for _ in range(2)]
    for thread in threads:
        thread.start()
    cycles = 0
    deadline = time.monotonic() + RACE_SECONDS
    try:
        while cycles < RACE_CYCLES and time.monotonic() < deadline and not failures:
            try:
                responses = compress_stored(stubs["bob"], small_jpeg)
                result = responses[1].result
                _, data = download(stubs["bob"], result.output_asset_id)
                if hashlib.sha256(data).hexdigest() != digest:
                    failures.append(f"bob's output {result.output_asset_id} lost its bytes")
                stubs["bob"].assets.DeleteAsset(
                    assets_pb2.DeleteAssetRequest(id=result.output_asset_id)
                )
            except grpc.RpcError as error:
                failures.append(f"bob: {error.code().name}: {error.details()}")
            cycles += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    print(f"race cycles: {cycles}")
    assert not failures, failures
    assert cycles >= 20, f"only {cycles} cycles ran in {RACE_SECONDS:.0f}s"
    assert digest not in blob_files(server)  # every reference gone: the blob went too


def test_input_deleted_while_queued_or_running_is_still_compressed(
    owners: tuple[ServerProcess, dict[str, Stubs]], slow_pngs: tuple[bytes, bytes]
) -> None:
    """Item 4: an unfinished action pins its input's bytes; the asset row goes at once."""
    server, stubs = owners
    alice = stubs["alice"]
    running_input, queued_input = (upload(alice, data) for data in slow_pngs)
    running = submit(alice, running_input.id)
    deadline = time.monotonic() + 60
    while alice.actions.GetAction(actions_pb2.GetActionRequest(id=running.id)).status != (
        actions_pb2.ACTION_STATUS_RUNNING
    ):
        assert time.monotonic() < deadline, "the first action never ran"
        time.sleep(0.02)
    queued = submit(alice, queued_input.id)  # one worker, busy: this one waits
    for asset in (queued_input, running_input):
        alice.assets.DeleteAsset(assets_pb2.DeleteAssetRequest(id=asset.id))
        error = rpc_error(alice.assets.GetAsset, assets_pb2.GetAssetRequest(id=asset.id))
        assert error.code() == grpc.StatusCode.NOT_FOUND
    status = alice.actions.GetAction(actions_pb2.GetActionRequest(id=queued.id)).status
    assert status == actions_pb2.ACTION_STATUS_QUEUED

    for action, source in ((running, slow_pngs[0]), (queued, slow_pngs[1])):
        finished = wait_terminal(alice, action.id)
        assert finished.status == actions_pb2.ACTION_STATUS_SUCCEEDED, finished.error
        _, data = download(alice, finished.response.output_asset_id)
        assert (
            pyvips.Image.new_from_buffer(data, "").width
            == pyvips.Image.new_from_buffer(source, "").width
        )
    # The inputs' bytes went with their last reference, the actions.
    assert not {running_input.sha256, queued_input.sha256} & blob_files(server)


@pytest.mark.server_args("--route-visibility", "private", "--route-owner", "alice")
def test_private_route_refuses_uploads_from_other_owners(
    owners: tuple[ServerProcess, dict[str, Stubs]], small_jpeg: bytes
) -> None:
    """Item 9: PERMISSION_DENIED before any byte is kept."""
    server, stubs = owners
    error = rpc_error(upload, stubs["bob"], small_jpeg)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "private" in (error.details() or "")
    assert blob_files(server) == set()
    assert list((server.data_dir / "tmp").iterdir()) == []
    assert upload(stubs["alice"], small_jpeg).size == len(small_jpeg)


@pytest.mark.server_args("--max-storage-per-owner", "400k")
def test_storage_quota_cuts_off_uploads_and_fails_stored_outputs(
    owners: tuple[ServerProcess, dict[str, Stubs]], small_jpeg: bytes
) -> None:
    """Item 10: the sum of an owner's asset sizes stays within --max-storage-per-owner."""
    server, stubs = owners
    alice = stubs["alice"]
    photo = (FIXTURES / "jpeg" / "Landscape_1.jpg").read_bytes()  # 339 KiB: 61 KiB left
    kept = upload(alice, photo)
    stored = blob_files(server)

    error = rpc_error(upload, alice, photo)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-storage-per-owner" in (error.details() or "")
    big = photo + os.urandom(8 * 1024 * 1024)  # cut off long before its end
    error = rpc_error(upload, alice, big)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert blob_files(server) == stored

    # A stored output that would pass the quota fails its action; nothing is kept.
    error = rpc_error(compress_stored, alice, photo)  # its output is larger
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-storage-per-owner" in (error.details() or "")
    actions = alice.actions.ListActions(actions_pb2.ListActionsRequest(page_size=1)).actions
    assert actions[0].status == actions_pb2.ACTION_STATUS_FAILED
    assert actions[0].error.code == "RESOURCE_EXHAUSTED"
    assert blob_files(server) == stored

    # Room comes back when an asset goes; another owner has their own quota.
    assert upload(stubs["bob"], photo).size == len(photo)
    alice.assets.DeleteAsset(assets_pb2.DeleteAssetRequest(id=kept.id))
    assert compress_stored(alice, small_jpeg)[1].result.output_asset_id


UPLOAD_MIB = 250
SLOW_CALLBACK = re.compile(r"Executing <.*UploadAsset.*> took (\d+\.\d+) seconds")


def test_upload_hashing_and_fsync_stay_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 15: with asyncio debug on, no step of a big upload holds the loop for 100 ms."""
    monkeypatch.setenv("PYTHONASYNCIODEBUG", "1")  # logs callbacks slower than 100 ms
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    server = start_server(data_dir, ["--workers", "1", "--max-input-bytes", "300MiB"])
    try:
        stubs = Stubs(keyed_channel(server.address, key))
        health = health_pb2_grpc.HealthStub(stubs.channel)
        head = (FIXTURES / "png" / "kodim23.png").read_bytes()
        data = head + os.urandom(UPLOAD_MIB * 1024 * 1024 - len(head))
        latencies: list[float] = []
        done = threading.Event()

        def ping() -> None:
            while not done.is_set():
                started = time.perf_counter()
                health.Check(health_pb2.HealthCheckRequest(), timeout=30)
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.005)

        pinger = threading.Thread(target=ping)
        pinger.start()
        try:
            asset = upload(stubs, data)
        finally:
            done.set()
            pinger.join()
        assert asset.sha256 == hashlib.sha256(data).hexdigest()
        stubs.channel.close()
    finally:
        server.stop()
    print(
        f"health during a {UPLOAD_MIB} MiB upload: median "
        f"{statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms (n={len(latencies)})"
    )
    slow = SLOW_CALLBACK.findall(server.log)
    assert not slow, f"the upload held the event loop for {slow} seconds"
