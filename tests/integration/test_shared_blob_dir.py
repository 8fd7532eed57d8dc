"""`--blob-dir`: two replicas on one PostgreSQL store share a blob directory on another
filesystem (tmpfs, standing in for a shared mount); a single SQLite server keeps its blobs
outside its data dir; gc follows the flag; a blob dir that cannot be written stops the start."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from pixpress.v1 import actions_pb2, assets_pb2

from tests.integration.replicas import pixpress_server, start_replicas, stop_all, store_key
from tests.integration.server_process import (
    ServerProcess,
    Stubs,
    create_key,
    http_client,
    keyed_channel,
    start_server,
)
from tests.integration.test_platform_server import (
    compress_stream,
    download,
    rpc_error,
    submit,
    upload,
    wait_terminal,
)
from tests.postgres_service import PostgresServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PNG = (FIXTURES / "png" / "kodim23.png").read_bytes()
GC_PNG = (FIXTURES / "png" / "kodim03.png").read_bytes()
JPEGS = [(FIXTURES / "jpeg" / f"Landscape_{n}.jpg").read_bytes() for n in (1, 2, 3, 4)]
STRAY = "ab" + "0" * 62  # a blob file no asset names, as a crash between link and row leaves
TIMEOUT = 120
PRIVATE_BLOBS = "the store is shared (--store) but asset bytes stay in this replica's"


def blob_path(blob_dir: Path, data: bytes) -> Path:
    sha256 = hashlib.sha256(data).hexdigest()
    return blob_dir / sha256[:2] / sha256


def blob_files(blob_dir: Path) -> list[Path]:
    """Every file under the blob dir, temporary ones (dot files) included."""
    return sorted(path for path in blob_dir.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def shared_mount(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory on a filesystem other than the data dirs' (tmpfs) when there is one, so a
    blob is copied in and renamed as on a real shared mount; else one beside them."""
    local = tmp_path_factory.mktemp("mnt")
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == local.stat().st_dev:
        yield local
        return
    directory = Path(tempfile.mkdtemp(prefix="pixpress-shared-", dir=shm))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Replicas:
    servers: list[ServerProcess]
    key: str
    store: str
    blob_dir: Path

    def stubs(self, index: int) -> Stubs:
        return Stubs(keyed_channel(self.servers[index].address, self.key))


@pytest.fixture(scope="module")
def replicas(
    postgres: PostgresServer, shared_mount: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    store = postgres.new_database()
    key = store_key(store, "alice")
    blob_dir = shared_mount / "pixpress" / "blobs"  # not there yet: the first replica makes it
    data_dirs = [tmp_path_factory.mktemp(name) for name in ("replica-a", "replica-b")]
    started = start_replicas(data_dirs, store, blob_dir=blob_dir)
    yield Replicas(started, key, store, blob_dir)
    stop_all(started)


def test_an_asset_uploaded_through_one_replica_downloads_through_the_other(
    replicas: Replicas,
) -> None:
    a, b = replicas.stubs(0), replicas.stubs(1)
    try:
        asset = upload(a, PNG)
        assert blob_path(replicas.blob_dir, PNG).read_bytes() == PNG
        assert download(b, asset.id)[1] == PNG
        with http_client(replicas.servers[1], replicas.key) as http:
            ranged = http.get(
                f"/v1/assets/{asset.id}/content", headers={"Range": "bytes=1000-4999"}
            )
        assert (ranged.status_code, ranged.content) == (206, PNG[1000:5000])
        done = wait_terminal(b, submit(b, asset.id).id)
        assert done.status == actions_pb2.ACTION_STATUS_SUCCEEDED, done.error
        _, output = download(a, done.response.output_asset_id)
        assert blob_path(replicas.blob_dir, output).read_bytes() == output
        for server in replicas.servers:  # no replica keeps asset bytes of its own
            assert not list((server.data_dir / "blobs").glob("??/*"))
            assert f"asset bytes in {replicas.blob_dir}" in server.log
            assert PRIVATE_BLOBS not in server.log
    finally:
        a.channel.close()
        b.channel.close()


def test_the_same_image_uploaded_through_both_at_once_leaves_one_blob_file(
    replicas: Replicas,
) -> None:
    a, b = replicas.stubs(0), replicas.stubs(1)
    try:
        for data in JPEGS:
            barrier = threading.Barrier(4)

            def upload_at_once(
                stubs: Stubs, data: bytes = data, barrier: threading.Barrier = barrier
            ) -> assets_pb2.Asset:
                barrier.wait(timeout=TIMEOUT)
                return upload(stubs, data)

            with ThreadPoolExecutor(4) as pool:
                uploads = [pool.submit(upload_at_once, stubs) for stubs in (a, b, a, b)]
                assets = [done.result(timeout=TIMEOUT) for done in uploads]
            assert len({asset.id for asset in assets}) == 4
            sha256 = hashlib.sha256(data).hexdigest()
            fan_out = blob_path(replicas.blob_dir, data).parent
            names = [path.name for path in fan_out.iterdir()]
            assert names.count(sha256) == 1, names
            assert not [name for name in names if name.startswith(".")], names
            assert blob_path(replicas.blob_dir, data).read_bytes() == data
            # The bytes stay while any of the four assets names them, on either replica.
            for index, asset in enumerate(assets):
                deleting, reading = (a, b) if index % 2 else (b, a)
                if index < 3:
                    assert download(reading, assets[index + 1].id)[1] == data
                deleting.assets.DeleteAsset(assets_pb2.DeleteAssetRequest(id=asset.id))
                assert blob_path(replicas.blob_dir, data).is_file() == (index < 3)
            error = rpc_error(download, a, assets[0].id)
            assert error.code() == grpc.StatusCode.NOT_FOUND
    finally:
        a.channel.close()
        b.channel.close()


def test_gc_on_the_shared_store_sees_the_shared_blobs_and_their_leftovers(
    replicas: Replicas, tmp_path: Path
) -> None:
    a, b = replicas.stubs(0), replicas.stubs(1)
    try:
        asset = upload(a, GC_PNG)
        stray = replicas.blob_dir / STRAY[:2] / STRAY
        stray.parent.mkdir(exist_ok=True)
        stray.write_bytes(b"bytes no asset names")
        # Temporary files: a copy and a probe a crash cut short, and a copy in progress.
        crashed = [replicas.blob_dir / "ab" / f".{STRAY}.dead.part", replicas.blob_dir / ".probe-x"]
        in_progress = replicas.blob_dir / "ab" / f".{STRAY}.live.part"
        for path in (*crashed, in_progress):
            path.write_bytes(b"partial")
        for path in crashed:
            os.utime(path, (time.time() - 7200,) * 2)
        gc_data = tmp_path / "gc-data"  # not a replica's: gc needs only the store and blob dir
        swept = pixpress_server(
            "gc",
            "--store",
            replicas.store,
            "--blob-dir",
            str(replicas.blob_dir),
            "--data-dir",
            str(gc_data),
        )
        assert swept.returncode == 0, swept.stderr
        removed = re.search(r"removed (\d+) unreferenced blob files", swept.stdout)
        assert removed is not None and int(removed.group(1)) >= 1, swept.stdout
        assert not stray.exists()
        assert "removed 2 temporary blob files untouched for 3600s" in swept.stdout
        assert [path.exists() for path in (*crashed, in_progress)] == [False, False, True]
        in_progress.unlink()
        assert blob_path(replicas.blob_dir, GC_PNG).read_bytes() == GC_PNG
        assert download(b, asset.id)[1] == GC_PNG
    finally:
        a.channel.close()
        b.channel.close()


def test_a_single_sqlite_server_keeps_its_blobs_outside_its_data_dir(tmp_path: Path) -> None:
    data_dir, blob_dir = tmp_path / "data", tmp_path / "elsewhere" / "blobs"
    server = start_server(data_dir, ["--workers", "1", "--blob-dir", str(blob_dir)])
    try:
        stubs = Stubs(keyed_channel(server.address, create_key(data_dir, "bob")))
        asset = upload(stubs, PNG)
        responses = compress_stream(stubs, PNG, store_output=True)
        result = next(r.result for r in responses if r.HasField("result"))
        _, output = download(stubs, result.output_asset_id)
        assert download(stubs, asset.id)[1] == PNG
        assert blob_files(blob_dir) == sorted(
            [blob_path(blob_dir, PNG), blob_path(blob_dir, output)]
        )
        assert not list((data_dir / "blobs").glob("??/*"))
        stubs.assets.DeleteAsset(assets_pb2.DeleteAssetRequest(id=asset.id))
        assert blob_files(blob_dir) == [blob_path(blob_dir, output)]
        stubs.channel.close()
    finally:
        assert server.stop() == 0, server.log
    assert f"asset bytes in {blob_dir}" in server.log and PRIVATE_BLOBS not in server.log
    stray = blob_dir / STRAY[:2] / STRAY
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"bytes no asset names")
    swept = pixpress_server("gc", "--data-dir", str(data_dir), "--blob-dir", str(blob_dir))
    assert swept.returncode == 0, swept.stderr
    assert "removed 1 unreferenced blob files" in swept.stdout
    assert blob_files(blob_dir) == [blob_path(blob_dir, output)]


def test_a_replica_on_the_shared_store_without_shared_blobs_warns(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, ["--workers", "1", "--store", postgres.new_database()])
    assert server.stop() == 0, server.log
    assert f"{PRIVATE_BLOBS} {data_dir / 'blobs'}: other replicas cannot serve them" in server.log


def _without_root_privileges() -> list[str]:
    """A command prefix under which root obeys file modes (no CAP_DAC_OVERRIDE), as any
    other user does; none for other users."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")  # util-linux, in every Debian
    assert setpriv is not None, "setpriv (util-linux) is needed to run as root without DAC"
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]


@pytest.mark.parametrize(
    ("made", "reason"),
    [("read-only directory", "Permission denied"), ("file", "it is not a directory")],
)
def test_a_blob_dir_that_cannot_be_written_stops_the_start(
    tmp_path: Path, made: str, reason: str
) -> None:
    blob_dir = tmp_path / "blobs"
    if made == "file":
        blob_dir.write_bytes(b"")
    else:
        blob_dir.mkdir()
        blob_dir.chmod(0o555)
    started = pixpress_server(
        "--port",
        "0",
        "--http-port",
        "0",
        "--workers",
        "1",
        "--data-dir",
        str(tmp_path / "data"),
        "--blob-dir",
        str(blob_dir),
        prefix=_without_root_privileges(),
    )
    assert started.returncode == 2, started.stderr
    expected = f"--blob-dir {blob_dir}: cannot create or write the blob directory: {reason}"
    assert expected in started.stderr
    assert "pixpress listening" not in started.stdout


@pytest.mark.parametrize("command", [[], ["gc"]])
def test_blob_dir_with_blob_url_is_a_usage_error(tmp_path: Path, command: list[str]) -> None:
    both = ["--blob-dir", str(tmp_path / "blobs"), "--blob-url", "s3://bucket/blobs"]
    refused = pixpress_server(*command, "--data-dir", str(tmp_path), *both)
    assert refused.returncode == 2
    assert "--blob-dir and --blob-url exclude each other" in refused.stderr
    assert not (tmp_path / "blobs").exists()
