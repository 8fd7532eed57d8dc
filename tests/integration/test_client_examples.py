"""Clients in other languages from the .proto files the wheel ships: the wheel's contents, and
the Node and Go examples (examples/node, examples/go) compressing on a real server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import grpc_tools
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2
from grpc_tools import protoc
from PIL import Image

from tests.integration.server_process import ServerProcess, create_key, start_server
from tests.loopback import missing

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "proto" / "pixpress" / "v1"
EXAMPLES = REPO / "examples"
PHOTO = REPO / "tests" / "fixtures" / "jpeg" / "Landscape_2.jpg"
WELL_KNOWN = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/timestamp.proto
GO_PATH = Path("/usr/share/gocode")  # Debian's Go packages: golang-google-grpc-dev and others
OPTIONS = (
    'option go_package = "pixpress.dev/go/pixpress/v1;pixpressv1";',
    'option java_package = "dev.pixpress.v1";',
    "option java_multiple_files = true;",
)
PIP_WHEEL = ("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q")
GO_PACKAGES = (
    "golang-go protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev golang-google-protobuf-dev "
    "golang-github-golang-protobuf-1-5-dev"
)
SUMMARY = re.compile(r"IMAGE_FORMAT_JPEG (\d+) -> (\d+) bytes")


@pytest.fixture(scope="module")
def wheel_protos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel (hatchling from the venv: no download) and unpack its .proto files; the
    `proto` folder they land in beside pixpress/__init__.py, an include dir for protoc."""
    out = tmp_path_factory.mktemp("wheel")
    completed = subprocess.run(
        [sys.executable, *PIP_WHEEL, str(REPO), "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (wheel,) = out.glob("pixpress-*.whl")
    site_packages = out / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        protos = [name for name in archive.namelist() if name.endswith(".proto")]
        archive.extractall(site_packages, members=protos)
        assert "pixpress/__init__.py" in archive.namelist()
    return site_packages / "pixpress" / "proto"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("examples") / "data"
    key = create_key(data_dir, "alice")
    process = start_server(data_dir, ["--workers", "1", "--http-port", "off"])
    process.api_key = key
    yield process
    process.stop()


def test_the_wheel_ships_the_protos_with_go_and_java_packages(wheel_protos: Path) -> None:
    shipped = sorted((wheel_protos / "pixpress" / "v1").glob("*.proto"))
    assert [p.name for p in shipped] == sorted(p.name for p in PROTO_DIR.glob("*.proto"))
    assert {p.name for p in shipped} >= {"compress.proto", "assets.proto", "actions.proto"}
    for proto in shipped:
        text = proto.read_text()
        assert text == (PROTO_DIR / proto.name).read_text()
        for option in OPTIONS:
            assert option in text, f"{proto.name} lacks {option}"


def test_the_shipped_protos_describe_what_the_server_serves(
    wheel_protos: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """Compiled alone (imports resolved among themselves), they match the server's reflection."""
    descriptor_set = tmp_path / "pixpress.pb"
    files = sorted(str(p.relative_to(wheel_protos)) for p in wheel_protos.rglob("*.proto"))
    arguments = [f"-I{wheel_protos}", f"-I{WELL_KNOWN}", f"--descriptor_set_out={descriptor_set}"]
    assert protoc.main(["protoc", *arguments, *files]) == 0
    shipped = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    assert {f.name for f in shipped.file} == set(files)

    for file in shipped.file:
        served = served_file(server, file.name)
        assert shape(file) == shape(served), file.name
        assert file.options.go_package == "pixpress.dev/go/pixpress/v1;pixpressv1"
        assert file.options.java_package == "dev.pixpress.v1"


def served_file(server: ServerProcess, name: str) -> descriptor_pb2.FileDescriptorProto:
    """The file `name` as the server's reflection (v1) gives it."""
    with grpc.insecure_channel(server.address) as channel:
        info = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        request = reflection_pb2.ServerReflectionRequest(file_by_filename=name)
        (response,) = list(info(iter([request]), timeout=60))
    raw = response.file_descriptor_response.file_descriptor_proto
    files = [descriptor_pb2.FileDescriptorProto.FromString(r) for r in raw]
    return next(f for f in files if f.name == name)


def shape(file: descriptor_pb2.FileDescriptorProto) -> object:
    """Messages with their fields, enums, services with their methods: what a client needs."""
    return (
        file.package,
        sorted(
            (m.name, sorted((f.name, f.number, f.type, f.label, f.type_name) for f in m.field))
            for m in file.message_type
        ),
        sorted((e.name, sorted((v.name, v.number) for v in e.value)) for e in file.enum_type),
        sorted(
            (s.name, sorted((m.name, m.input_type, m.output_type) for m in s.method))
            for s in file.service
        ),
    )


def run_example(
    command: list[str], server: ServerProcess, key: str, output: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    return subprocess.run(
        [*command, str(PHOTO), str(output), "70"],
        env={**clean, "PIXPRESS_SERVER": server.address, "PIXPRESS_API_KEY": key, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def check_compressed(completed: subprocess.CompletedProcess[str], output: Path) -> None:
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = SUMMARY.search(completed.stdout)
    assert summary is not None, completed.stdout
    assert int(summary[1]) == PHOTO.stat().st_size
    assert int(summary[2]) == output.stat().st_size < PHOTO.stat().st_size
    with Image.open(output) as image, Image.open(PHOTO) as source:
        assert image.format == "JPEG"
        assert image.size == source.size


def check_refused(completed: subprocess.CompletedProcess[str], output: Path) -> None:
    assert completed.returncode == 1
    assert f"{PHOTO}: UNAUTHENTICATED: " in completed.stderr
    assert not output.exists()


def test_node_example_compresses_with_the_wheels_protos(
    wheel_protos: Path, server: ServerProcess, tmp_path: Path
) -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        missing("the Node example needs node and npm (Debian: nodejs npm)")
    example = tmp_path / "node"
    shutil.copytree(EXAMPLES / "node", example, ignore=shutil.ignore_patterns("node_modules"))
    installed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=example,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    command = [node, str(example / "compress.mjs")]
    assert server.api_key is not None
    output = tmp_path / "photo.min.jpg"
    proto_dir = str(wheel_protos)
    check_compressed(
        run_example(command, server, server.api_key, output, PIXPRESS_PROTO_DIR=proto_dir), output
    )
    refused = tmp_path / "refused.jpg"
    check_refused(
        run_example(command, server, "pxp_wrong", refused, PIXPRESS_PROTO_DIR=proto_dir), refused
    )


def test_go_example_builds_offline_and_compresses(
    wheel_protos: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """Built in GOPATH mode over Debian's Go packages (no module proxy here); see .ci/run."""
    go = shutil.which("go")
    plugins = {name: shutil.which(name) for name in ("protoc-gen-go", "protoc-gen-go-grpc")}
    if (
        go is None
        or None in plugins.values()
        or not (GO_PATH / "src/google.golang.org/grpc").is_dir()
    ):
        missing(f"the Go example needs Debian's {GO_PACKAGES}")
    module = tmp_path / "gopath" / "src" / "pixpress.dev" / "go"
    module.mkdir(parents=True)
    for name in ("main.go", "go.mod"):
        shutil.copyfile(EXAMPLES / "go" / name, module / name)
    files = sorted(str(p.relative_to(wheel_protos)) for p in wheel_protos.rglob("*.proto"))
    generated = protoc.main(
        [
            "protoc",
            f"-I{wheel_protos}",
            f"-I{WELL_KNOWN}",
            *(f"--plugin={name}={path}" for name, path in plugins.items()),
            f"--go_out={module}",
            "--go_opt=module=pixpress.dev/go",
            f"--go-grpc_out={module}",
            "--go-grpc_opt=module=pixpress.dev/go",
            *files,
        ]
    )
    assert generated == 0
    binary = tmp_path / "compress"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": f"{tmp_path / 'gopath'}{os.pathsep}{GO_PATH}",
        "GOFLAGS": "",
        "GOPROXY": "off",
    }
    if "HOME" not in env and "GOCACHE" not in env:
        env["GOCACHE"] = str(tmp_path / "gocache")
    built = subprocess.run(
        [go, "build", "-o", str(binary), "pixpress.dev/go"],
        cwd=module,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert server.api_key is not None
    output = tmp_path / "photo.min.jpg"
    check_compressed(run_example([str(binary)], server, server.api_key, output), output)
    refused = tmp_path / "refused.jpg"
    check_refused(run_example([str(binary)], server, "pxp_wrong", refused), refused)
