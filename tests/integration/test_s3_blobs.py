"""Asset bytes in S3 (`--blob-url s3://…`) on a real server against moto's standalone emulator:
uploads over gRPC and HTTP, downloads with a Range, compression from an asset, stored
outputs, deletes, the quota, and gc of stray objects."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pyvips
from pixpress.v1 import actions_pb2, assets_pb2, compress_pb2

from tests.integration.big_asset import round_trip
from tests.integration.replicas import pixpress_server
from tests.integration.server_process import (
    ServerProcess,
    Stubs,
    create_key,
    http_client,
    keyed_channel,
    start_server,
)
from tests.integration.test_platform_server import (
    download,
    rpc_error,
    submit,
    upload,
    wait_terminal,
)
from tests.moto_service import MotoS3, running_moto
from tests.unit.apng_samples import make_apng

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = (FIXTURES / "jpeg" / "Landscape_1.jpg").read_bytes()
PNG = (FIXTURES / "png" / "kodim23.png").read_bytes()
BUCKET, PREFIX = "pixpress-assets", "replicas/blobs"
QUOTA = 20 * 1024 * 1024  # --max-storage-per-owner: one noise PNG (~12 MB) fits, two do not


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    with running_moto(tmp_path_factory.mktemp("moto"), BUCKET) as service:
        yield service


@pytest.fixture(scope="module")
def s3(moto: MotoS3) -> Any:
    return moto.client()


@pytest.fixture(scope="module")
def server(
    moto: MotoS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("s3-server")
    keys = {owner: create_key(data_dir, owner) for owner in ("alice", "bob")}
    with moto.exported():
        process = start_server(
            data_dir,
            [
                "--workers",
                "1",
                "--rate-limit",
                "0",
                "--blob-url",
                f"s3://{BUCKET}/{PREFIX}",
                "--max-storage-per-owner",
                str(QUOTA),
            ],
        )
    process.api_key = keys["alice"]
    yield process, keys
    process.stop()


@pytest.fixture(scope="module")
def alice(server: tuple[ServerProcess, dict[str, str]]) -> Iterator[Stubs]:
    stubs = Stubs(keyed_channel(server[0].address, server[1]["alice"]))
    yield stubs
    stubs.channel.close()


@pytest.fixture(scope="module")
def bob(server: tuple[ServerProcess, dict[str, str]]) -> Iterator[Stubs]:
    stubs = Stubs(keyed_channel(server[0].address, server[1]["bob"]))
    yield stubs
    stubs.channel.close()


def key_of(data: bytes) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    return f"{PREFIX}/{sha256[:2]}/{sha256}"


def stored_object(s3: Any, data: bytes) -> bytes | None:
    """The object holding `data`'s blob, or None when there is none."""
    try:
        response = s3.get_object(Bucket=BUCKET, Key=key_of(data))
    except s3.exceptions.NoSuchKey:
        return None
    body: bytes = response["Body"].read()
    return body


def noise_png(seed: int) -> bytes:
    """About 12 MB of incompressible PNG: above the 8 MiB multipart threshold."""
    pixels = hashlib.shake_256(seed.to_bytes(4, "big")).digest(2000 * 2000 * 3)
    image = pyvips.Image.new_from_memory(pixels, 2000, 2000, 3, "uchar")
    return bytes(image.pngsave_buffer(compression=1))


def small_jpeg(width: int) -> bytes:
    photo = pyvips.Image.new_from_file(str(FIXTURES / "jpeg" / "Landscape_1.jpg"))
    return bytes(photo.thumbnail_image(width).jpegsave_buffer(Q=95))


def test_grpc_upload_is_an_object_in_the_bucket_and_nothing_on_disk(
    server: tuple[ServerProcess, dict[str, str]], alice: Stubs, s3: Any
) -> None:
    asset = upload(alice, JPEG)
    assert asset.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert stored_object(s3, JPEG) == JPEG
    assert not list((server[0].data_dir / "blobs").glob("??/*"))
    found, data = download(alice, asset.id)
    assert (found.id, data) == (asset.id, JPEG)


def test_http_upload_then_ranges_are_served_from_the_object(
    server: tuple[ServerProcess, dict[str, str]], s3: Any
) -> None:
    with http_client(server[0]) as http:
        created = http.post("/v1/assets", content=PNG)
        assert created.status_code == 201, created.text
        asset_id = created.json()["id"]
        assert stored_object(s3, PNG) == PNG
        whole = http.get(f"/v1/assets/{asset_id}/content")
        middle = http.get(f"/v1/assets/{asset_id}/content", headers={"Range": "bytes=1000-70999"})
        tail = http.get(f"/v1/assets/{asset_id}/content", headers={"Range": "bytes=-4096"})
        start = http.get(f"/v1/assets/{asset_id}/content", headers={"Range": "bytes=0-99"})
    assert (whole.status_code, whole.content) == (200, PNG)
    assert (middle.status_code, middle.content) == (206, PNG[1000:71000])
    assert middle.headers["content-range"] == f"bytes 1000-70999/{len(PNG)}"
    assert (tail.status_code, tail.content) == (206, PNG[-4096:])
    assert (start.status_code, start.content) == (206, PNG[:100])


def test_large_upload_goes_up_in_parts_and_downloads_whole(bob: Stubs, s3: Any) -> None:
    data = noise_png(1)
    asset = upload(bob, data)
    head = s3.head_object(Bucket=BUCKET, Key=key_of(data))
    # A multipart object's ETag is "<md5 of the part md5s>-<parts>".
    assert head["ETag"].strip('"').endswith("-2"), head["ETag"]
    assert head["ContentLength"] == len(data)
    _, downloaded = download(bob, asset.id)
    assert hashlib.sha256(downloaded).digest() == hashlib.sha256(data).digest()


def test_quota_still_applies_and_a_refused_upload_leaves_no_object(bob: Stubs, s3: Any) -> None:
    held = noise_png(1)
    if s3.list_objects_v2(Bucket=BUCKET, Prefix=key_of(held))["KeyCount"] == 0:
        upload(bob, held)  # run alone: bob holds what the large upload left him
    refused = noise_png(3)
    error = rpc_error(upload, bob, refused)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
    assert "storage quota" in (error.details() or "")
    assert stored_object(s3, refused) is None


def test_compress_from_an_asset_with_its_output_stored(alice: Stubs, s3: Any) -> None:
    source = small_jpeg(480)
    asset = upload(alice, source)
    # Streamed back (Compress with the asset as input): the worker read a fetched copy.
    options = compress_pb2.CompressOptions(quality=60, input_asset_id=asset.id)
    responses = list(alice.compress.Compress(iter([compress_pb2.CompressRequest(options=options)])))
    streamed = b"".join(response.chunk for response in responses)
    assert streamed[:3] == b"\xff\xd8\xff"
    assert 0 < len(streamed) < len(source)
    # In the background, its output stored as an asset: an object of its own.
    queued = submit(alice, asset.id)
    done = wait_terminal(alice, queued.id)
    assert done.status == actions_pb2.ACTION_STATUS_SUCCEEDED, done.error
    output_id = done.response.output_asset_id
    output, output_bytes = download(alice, output_id)
    assert output.size == len(output_bytes) == done.response.output_size
    assert stored_object(s3, output_bytes) == output_bytes
    assert output_bytes[:3] == b"\xff\xd8\xff"


def test_a_kept_original_from_an_asset_comes_back_whole(alice: Stubs, s3: Any) -> None:
    """An APNG is kept unchanged: the bytes sent back are the fetched copy's, and the stored
    output names the same object as the input (content-addressed)."""
    apng = make_apng(frames=3)
    asset = upload(alice, apng)
    options = compress_pb2.CompressOptions(quality=80, input_asset_id=asset.id)
    responses = list(alice.compress.Compress(iter([compress_pb2.CompressRequest(options=options)])))
    assert b"".join(response.chunk for response in responses) == apng
    done = wait_terminal(alice, submit(alice, asset.id).id)
    assert done.status == actions_pb2.ACTION_STATUS_SUCCEEDED, done.error
    assert done.response.kept_original
    _, output = download(alice, done.response.output_asset_id)
    assert output == apng == stored_object(s3, apng)


def test_delete_removes_the_object_once_nothing_names_it(alice: Stubs, s3: Any) -> None:
    data = small_jpeg(211)
    first, second = upload(alice, data), upload(alice, data)
    assert stored_object(s3, data) == data
    alice.assets.DeleteAsset(assets_pb2.DeleteAssetRequest(id=first.id))
    assert stored_object(s3, data) == data  # the second asset still names the bytes
    alice.assets.DeleteAsset(assets_pb2.DeleteAssetRequest(id=second.id))
    assert stored_object(s3, data) is None
    error = rpc_error(download, alice, second.id)
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_gc_removes_objects_no_asset_names(
    server: tuple[ServerProcess, dict[str, str]], moto: MotoS3, s3: Any
) -> None:
    stray = b"bytes no asset names"
    s3.put_object(Bucket=BUCKET, Key=key_of(stray), Body=stray)
    kept = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["KeyCount"] - 1
    result = pixpress_server(
        *("gc", "--data-dir", str(server[0].data_dir), "--blob-url", f"s3://{BUCKET}/{PREFIX}"),
        env=moto.environment,
    )
    assert result.returncode == 0, result.stderr
    assert "removed 1 unreferenced blob files" in result.stdout, result.stdout
    assert stored_object(s3, stray) is None
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["KeyCount"] == kept


def test_an_unreachable_bucket_stops_the_server_at_start(moto: MotoS3, tmp_path: Path) -> None:
    result = pixpress_server(
        *("--port", "0", "--http-port", "off", "--insecure-no-auth"),
        *("--data-dir", str(tmp_path / "data"), "--blob-url", "s3://no-such-bucket/x"),
        env=moto.environment,
    )
    assert result.returncode == 2, result.stderr
    assert "--blob-url s3://no-such-bucket/x: cannot reach the bucket" in result.stderr


def test_a_100_mb_asset_goes_up_and_down_with_bounded_server_memory(
    moto: MotoS3, tmp_path: Path
) -> None:
    """Up in 8 MiB parts (4 at once) from the spool file, down streamed from get_object."""
    with moto.exported():
        server = start_server(
            tmp_path / "data", ["--workers", "1", "--blob-url", f"s3://{BUCKET}/big"]
        )
    try:
        server.api_key = create_key(server.data_dir, "carol")
        grown = round_trip(server, JPEG, 100 * 1024 * 1024)
    finally:
        server.stop()
    limit = 64 * 1024 * 1024
    print(
        f"S3 100 MiB asset: server grew {grown.up / 2**20:.1f} MiB up, "
        f"{grown.down / 2**20:.1f} MiB down"
    )
    assert grown.up < limit, f"upload: the server grew by {grown.up / 2**20:.0f} MiB"
    assert grown.down < limit, f"download: the server grew by {grown.down / 2**20:.0f} MiB"


def test_a_bucket_that_stops_answering_is_unavailable_with_a_retry_hint(tmp_path: Path) -> None:
    """Not INTERNAL: the storage's outage is the server's UNAVAILABLE (HTTP 503, Retry-After)."""
    with running_moto(tmp_path, BUCKET) as own, own.exported():
        server = start_server(
            tmp_path / "data", ["--workers", "1", "--blob-url", f"s3://{BUCKET}/gone"]
        )
        server.api_key = create_key(server.data_dir, "dave")
        stubs = Stubs(keyed_channel(server.address, server.api_key))
        try:
            asset = upload(stubs, JPEG)
            own.stop()
            error = rpc_error(download, stubs, asset.id)
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
            assert error.details() == "the asset storage did not answer; try again"
            assert ("pixpress-retry-after", "5.000") in tuple(error.trailing_metadata() or ())
            with http_client(server) as http:
                refused = http.post("/v1/assets", content=small_jpeg(100))
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
        finally:
            stubs.channel.close()
            server.stop()
