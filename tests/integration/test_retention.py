"""Retention through a real server: the periodic sweeper, `pixpress-server gc`, pinned inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from pixpress.v1 import actions_pb2, assets_pb2, compress_pb2

from tests.integration.server_process import ServerProcess, create_key, keyed_channel, start_server
from tests.integration.test_blob_lifecycle import blob_files, compress_stored
from tests.integration.test_platform_server import Stubs, upload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PHOTO = FIXTURES / "jpeg" / "Landscape_1.jpg"


@pytest.fixture
def alice(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[ServerProcess, Stubs]]:
    marker = request.node.get_closest_marker("server_args")
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    args = ["--workers", "1", "--rate-limit", "0", *(marker.args if marker else ())]
    server = start_server(data_dir, args)
    stubs = Stubs(keyed_channel(server.address, key))
    yield server, stubs
    stubs.channel.close()
    server.stop()


def gone(call: Callable[..., object], request: object) -> bool:
    try:
        call(request)
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND, error
        return True
    return False


def eventually(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)


def stored_output(stubs: Stubs) -> tuple[str, str, str]:
    """Compress with store_output: (action id, output asset id, its sha256)."""
    responses = compress_stored(stubs, PHOTO.read_bytes())
    output_id = responses[1].result.output_asset_id
    asset = stubs.assets.GetAsset(assets_pb2.GetAssetRequest(id=output_id))
    return responses[0].action_id, output_id, asset.sha256


@pytest.mark.server_args("--action-retention", "3s", "--output-retention", "3s")
def test_the_sweeper_deletes_old_actions_and_outputs_but_not_uploads(
    alice: tuple[ServerProcess, Stubs],
) -> None:
    server, stubs = alice
    kept = upload(stubs, PHOTO.read_bytes())
    action_id, output_id, output_sha = stored_output(stubs)
    assert output_sha in blob_files(server)

    eventually(lambda: gone(stubs.actions.GetAction, actions_pb2.GetActionRequest(id=action_id)))
    eventually(lambda: gone(stubs.assets.GetAsset, assets_pb2.GetAssetRequest(id=output_id)))
    assert output_sha not in blob_files(server)
    assert stubs.assets.GetAsset(assets_pb2.GetAssetRequest(id=kept.id)).sha256 == kept.sha256
    assert kept.sha256 in blob_files(server)
    assert "retention: deleted" in server.log


@pytest.mark.server_args("--output-retention", "2s")
def test_an_output_that_an_unfinished_action_reads_survives_retention(
    alice: tuple[ServerProcess, Stubs],
) -> None:
    server, stubs = alice
    _, output_id, output_sha = stored_output(stubs)
    release = threading.Event()

    def requests() -> Iterator[compress_pb2.CompressRequest]:
        # The action is recorded on the first message; the input is read only once the
        # client has closed its side, so until `release` the action stays unfinished.
        options = compress_pb2.CompressOptions(quality=50, input_asset_id=output_id)
        yield compress_pb2.CompressRequest(options=options)
        release.wait(timeout=60)

    call = stubs.compress.Compress(requests(), timeout=120)
    reader_id = next(call).action_id
    try:
        time.sleep(5)  # past the retention, and several sweeps (every second)
        reader = stubs.actions.GetAction(actions_pb2.GetActionRequest(id=reader_id))
        assert reader.status == actions_pb2.ACTION_STATUS_QUEUED
        assert stubs.assets.GetAsset(assets_pb2.GetAssetRequest(id=output_id)).sha256 == output_sha
    finally:
        release.set()
    assert b"".join(response.chunk for response in call)
    reader = stubs.actions.GetAction(actions_pb2.GetActionRequest(id=reader_id))
    assert reader.status == actions_pb2.ACTION_STATUS_SUCCEEDED
    # Once nothing needs it, the next sweeps delete it.
    eventually(lambda: gone(stubs.assets.GetAsset, assets_pb2.GetAssetRequest(id=output_id)))
    assert output_sha not in blob_files(server)


def run_gc(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    return subprocess.run(
        [sys.executable, "-m", "pixpress_server.main", "gc", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environ, **env},
        check=False,
    )


def test_gc_command_applies_retention_to_a_data_dir_in_use(
    alice: tuple[ServerProcess, Stubs],
) -> None:
    server, stubs = alice
    kept = upload(stubs, PHOTO.read_bytes())
    action_id, output_id, output_sha = stored_output(stubs)
    orphan = server.data_dir / "blobs" / "ee" / ("ee" * 32)  # as a crash can leave one
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"left behind")

    time.sleep(1.5)
    completed = run_gc(server.data_dir, "--action-retention", "1s", PIXPRESS_OUTPUT_RETENTION="1s")
    assert completed.returncode == 0, completed.stderr
    assert "deleted 1 finished actions" in completed.stdout  # uploads are no actions
    assert "deleted 1 stored outputs" in completed.stdout
    assert output_id in completed.stdout
    assert "removed 1 unreferenced blob files" in completed.stdout

    assert gone(stubs.actions.GetAction, actions_pb2.GetActionRequest(id=action_id))
    assert gone(stubs.assets.GetAsset, assets_pb2.GetAssetRequest(id=output_id))
    assert blob_files(server) == {kept.sha256}
    assert output_sha != kept.sha256
    assert stubs.assets.GetAsset(assets_pb2.GetAssetRequest(id=kept.id)).id == kept.id

    again = run_gc(server.data_dir)  # no retention set: only unreferenced blobs
    assert again.returncode == 0, again.stderr
    assert "actions: retention off" in again.stdout
    assert "removed 0 unreferenced blob files" in again.stdout
    missing = run_gc(server.data_dir / "nowhere")
    assert missing.returncode == 2
    assert "no pixpress data" in missing.stderr
