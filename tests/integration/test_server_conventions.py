"""Server conventions on a real server: `keys` and the data dir, libvips' log lines at DEBUG,
gRPC reflection as v1 and v1alpha."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pixpress
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2

from tests.integration.server_process import ServerProcess, create_key, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IMAGES = (
    FIXTURES / "jpeg" / "Landscape_1.jpg",
    FIXTURES / "png" / "kodim23.png",
    FIXTURES / "jpeg" / "Landscape_2.jpg",
)
KEY = re.compile(r"^pxp_\w+_\w+$")
REFLECTION_V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
REFLECTION_V1ALPHA = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


def keys(
    *arguments: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`pixpress-server keys ARGUMENTS` run in `cwd`, without any PIXPRESS_* variable of ours."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    return subprocess.run(
        [sys.executable, "-m", "pixpress_server.main", "keys", *arguments],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server at the default INFO level on a data dir `keys create --init` made."""
    data_dir = tmp_path_factory.mktemp("conventions") / "data"
    key = create_key(data_dir, "alice")
    process = start_server(data_dir, ["--workers", "1"])
    process.api_key = key
    yield process
    process.stop()


def compress_each(server: ServerProcess, images: tuple[Path, ...]) -> None:
    assert server.api_key is not None
    with pixpress.Client(server.address, api_key=server.api_key) as client:
        for image in images:
            result = client.compress(image, quality=70)
            assert result.output_size > 0


# keys and the data dir


def test_keys_create_refuses_a_data_dir_that_does_not_exist_yet(tmp_path: Path) -> None:
    completed = keys("create", "--owner", "alice", "--data-dir", "elsewhere", cwd=tmp_path)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert f"no pixpress data dir at {tmp_path / 'elsewhere'}" in completed.stderr
    assert "--init" in completed.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_keys_create_from_another_directory_uses_the_default_there_and_refuses_it(
    tmp_path: Path,
) -> None:
    completed = keys("create", "--owner", "alice", cwd=tmp_path)
    assert completed.returncode == 2
    assert f"no pixpress data dir at {tmp_path / '.pixpress'}" in completed.stderr
    assert not (tmp_path / ".pixpress").exists()


def test_keys_create_init_prints_the_key_alone_and_the_absolute_data_dir(tmp_path: Path) -> None:
    created = keys("create", "--init", "--owner", "alice", "--data-dir", "data", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert KEY.match(created.stdout.strip()), created.stdout
    assert created.stdout.count("\n") == 1  # stdout is the key alone: $(keys create) works
    assert f"data dir {tmp_path / 'data'}" in created.stderr
    assert (tmp_path / "data" / "pixpress.db").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = keys(  # an existing data dir needs no --init; the env twin names it
        "create", "--owner", "bob", cwd=elsewhere, env={"PIXPRESS_DATA_DIR": "../data"}
    )
    assert again.returncode == 0, again.stderr
    assert f"data dir {tmp_path / 'data'}" in again.stderr
    listing = keys("list", "--data-dir", str(tmp_path / "data"), cwd=elsewhere)
    assert listing.returncode == 0
    assert "alice" in listing.stdout and "bob" in listing.stdout


@pytest.mark.parametrize("command", [("list",), ("revoke", "abcdef123456")])
def test_keys_list_and_revoke_on_a_missing_data_dir_fail_clearly(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    completed = keys(*command, "--data-dir", "missing", cwd=tmp_path)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert f"no pixpress data dir at {tmp_path / 'missing'}: pass the server's --data-dir" in (
        completed.stderr
    )
    assert not (tmp_path / "missing").exists()


def test_a_key_made_with_init_is_accepted_by_the_server_on_that_data_dir(
    server: ServerProcess,
) -> None:
    compress_each(server, IMAGES[:1])


# libvips' log lines


def test_libvips_chatter_stays_out_of_an_info_log(server: ServerProcess) -> None:
    compress_each(server, IMAGES)
    log = server.log
    assert "compress" in log.lower()  # the log is being written: one INFO line per request
    assert "threadpool" not in log
    assert "VIPS:" not in log


def test_libvips_chatter_is_logged_at_debug(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    debug = start_server(data_dir, ["--workers", "1", "--log-level", "DEBUG"])
    debug.api_key = key
    try:
        compress_each(debug, IMAGES[:1])
        deadline = time.monotonic() + 60
        while "threadpool" not in debug.log and time.monotonic() < deadline:
            time.sleep(0.2)
        chatter = [line for line in debug.log.splitlines() if "threadpool" in line]
    finally:
        debug.stop()
    assert chatter
    assert all(" DEBUG " in line and " INFO " not in line for line in chatter), chatter[:3]
    # the binding's own DEBUG lines give each operation's arguments, image bytes included
    assert "VipsObject.set" not in debug.log


# reflection


def reflect(
    server: ServerProcess, path: str, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    """One request on the reflection stream at `path`, no key (reflection is open)."""
    with grpc.insecure_channel(server.address) as channel:
        info = channel.stream_stream(
            path,
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        responses = list(info(iter([request]), timeout=60))
    assert len(responses) == 1
    return responses[0]


@pytest.mark.parametrize("path", [REFLECTION_V1, REFLECTION_V1ALPHA])
def test_reflection_lists_the_services_as_v1_and_v1alpha(server: ServerProcess, path: str) -> None:
    response = reflect(server, path, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {service.name for service in response.list_services_response.service}
    assert {
        "pixpress.v1.CompressService",
        "pixpress.v1.AssetService",
        "pixpress.v1.ActionService",
        "pixpress.v1.RouteService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names


@pytest.mark.parametrize(
    ("symbol", "file_name"),
    [
        ("pixpress.v1.CompressService", "pixpress/v1/compress.proto"),
        ("grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto"),
    ],
)
def test_reflection_v1_describes_a_service(
    server: ServerProcess, symbol: str, file_name: str
) -> None:
    response = reflect(
        server, REFLECTION_V1, reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
    )
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in response.file_descriptor_response.file_descriptor_proto
    ]
    assert file_name in {file.name for file in files}
    described = next(file for file in files if file.name == file_name)
    assert symbol.rsplit(".", 1)[1] in {service.name for service in described.service}
