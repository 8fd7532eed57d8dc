"""Two replicas on one PostgreSQL store and one S3 bucket (moto): an asset uploaded through
one is downloaded, compressed and deleted through the other; no replica keeps bytes on disk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from pixpress.v1 import actions_pb2, assets_pb2

from tests.integration.replicas import start_replicas, stop_all, store_key
from tests.integration.server_process import (
    ServerProcess,
    Stubs,
    http_client,
    keyed_channel,
)
from tests.integration.test_platform_server import (
    download,
    rpc_error,
    submit,
    upload,
    wait_terminal,
)
from tests.moto_service import MotoS3, running_moto
from tests.postgres_service import PostgresServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PNG = (FIXTURES / "png" / "kodim23.png").read_bytes()
BUCKET, PREFIX = "pixpress-shared", "blobs"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    with running_moto(tmp_path_factory.mktemp("moto"), BUCKET) as service:
        yield service


@pytest.fixture(scope="module")
def replicas(
    moto: MotoS3, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[ServerProcess], str]]:
    store = postgres.new_database()
    key = store_key(store, "alice")
    with moto.exported():
        data_dirs = [tmp_path_factory.mktemp(name) for name in ("replica-a", "replica-b")]
        started = start_replicas(data_dirs, store, "--blob-url", f"s3://{BUCKET}/{PREFIX}")
    yield started, key
    stop_all(started)


def stubs_of(server: ServerProcess, key: str) -> Stubs:
    return Stubs(keyed_channel(server.address, key))


def object_count(s3: Any, data: bytes) -> int:
    sha256 = hashlib.sha256(data).hexdigest()
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{sha256[:2]}/{sha256}")
    count: int = listed["KeyCount"]
    return count


def test_an_asset_from_one_replica_is_served_compressed_and_deleted_by_the_other(
    replicas: tuple[list[ServerProcess], str], moto: MotoS3
) -> None:
    (first, second), key = replicas
    s3 = moto.client()
    a, b = stubs_of(first, key), stubs_of(second, key)
    try:
        asset = upload(a, PNG)
        assert object_count(s3, PNG) == 1
        assert download(b, asset.id)[1] == PNG
        second.api_key = key
        with http_client(second) as http:
            ranged = http.get(
                f"/v1/assets/{asset.id}/content", headers={"Range": "bytes=5000-9999"}
            )
        assert (ranged.status_code, ranged.content) == (206, PNG[5000:10000])
        done = wait_terminal(b, submit(b, asset.id).id)
        assert done.status == actions_pb2.ACTION_STATUS_SUCCEEDED, done.error
        _, output = download(a, done.response.output_asset_id)
        assert len(output) == done.response.output_size and output[:4] == b"\x89PNG"
        b.assets.DeleteAsset(assets_pb2.DeleteAssetRequest(id=asset.id))
        assert object_count(s3, PNG) == 0
        error = rpc_error(download, a, asset.id)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        for server in (first, second):
            assert not list((server.data_dir / "blobs").glob("??/*"))
    finally:
        a.channel.close()
        b.channel.close()
