"""Every bad input gets a clear error with the right status, and the server stays up."""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pixpress.v1 import compress_pb2, compress_pb2_grpc

from tests.integration.server_process import ServerProcess, keyed_channel, worker_processes

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CHUNK = 256 * 1024
WORKERS = 2  # as started by the session `server` fixture
MIB = 1024 * 1024


def options(quality: int | None = 80) -> compress_pb2.CompressRequest:
    opts = compress_pb2.CompressOptions()
    if quality is not None:
        opts.quality = quality
    return compress_pb2.CompressRequest(options=opts)


def chunks(data: bytes) -> list[compress_pb2.CompressRequest]:
    return [
        compress_pb2.CompressRequest(chunk=data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)
    ]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_png_header() -> bytes:
    """A valid PNG signature and IHDR claiming 100000 x 100000 RGB pixels, then a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def a_jpeg() -> bytes:
    return next(iter(sorted(FIXTURES.rglob("*.jpg")))).read_bytes()


def a_png() -> bytes:
    return max(sorted(FIXTURES.rglob("*.png")), key=lambda p: p.stat().st_size).read_bytes()


BMP = b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + bytes(56)


@dataclass(frozen=True)
class Case:
    name: str
    requests: list[compress_pb2.CompressRequest]
    code: grpc.StatusCode
    message: str


def cases() -> list[Case]:
    jpeg, png = a_jpeg(), a_png()
    return [
        Case(
            "empty stream", [], grpc.StatusCode.INVALID_ARGUMENT, "first message must carry options"
        ),
        Case(
            "chunk first",
            chunks(jpeg),
            grpc.StatusCode.INVALID_ARGUMENT,
            "first message must carry options",
        ),
        Case(
            "options twice",
            [options(), options(), *chunks(jpeg)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "options must be sent once",
        ),
        Case(
            "quality 0",
            [options(0), *chunks(jpeg)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Expected integer between 1 and 100 for quality but received 0",
        ),
        Case(
            "quality 101",
            [options(101), *chunks(jpeg)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "received 101",
        ),
        Case(
            "quality -1",
            [options(-1), *chunks(jpeg)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "received -1",
        ),
        Case("options only", [options()], grpc.StatusCode.INVALID_ARGUMENT, "no image bytes"),
        Case(
            "non-image bytes",
            [options(), *chunks(b"hello, this is plain text and not an image at all" * 20)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "unsupported format: unknown",
        ),
        Case(
            "bmp",
            [options(), *chunks(BMP)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "unsupported format: bmp",
        ),
        Case(
            "truncated jpeg",
            [options(), *chunks(jpeg[: len(jpeg) // 2])],
            grpc.StatusCode.INVALID_ARGUMENT,
            "jpeg",
        ),
        Case(
            "truncated png",
            [options(), *chunks(png[: len(png) // 2])],
            grpc.StatusCode.INVALID_ARGUMENT,
            "png",
        ),
        Case(
            "100000x100000 png",
            [options(), *chunks(huge_png_header())],
            grpc.StatusCode.INVALID_ARGUMENT,
            "--max-pixels",
        ),
    ]


@pytest.fixture(scope="module")
def stub(address: str, api_key: str) -> Iterator[compress_pb2_grpc.CompressServiceStub]:
    with keyed_channel(address, api_key) as channel:
        yield compress_pb2_grpc.CompressServiceStub(channel)


def call(
    stub: compress_pb2_grpc.CompressServiceStub,
    requests: Iterator[compress_pb2.CompressRequest] | list[compress_pb2.CompressRequest],
    timeout: float = 60,
) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.Compress(iter(requests), timeout=timeout))
    return raised.value


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_bad_input_gets_a_clear_error(
    stub: compress_pb2_grpc.CompressServiceStub, case: Case
) -> None:
    error = call(stub, case.requests)
    assert error.code() == case.code, error.details()
    assert case.message in (error.details() or "")


CORRUPT_PNGS = (
    sorted(p.name for p in (FIXTURES / "pngsuite").glob("x*.png"))
    if (FIXTURES / "pngsuite").exists()
    else []
)


@pytest.mark.parametrize("name", CORRUPT_PNGS)
def test_corrupt_pngsuite_files_are_rejected(
    stub: compress_pb2_grpc.CompressServiceStub, name: str
) -> None:
    error = call(stub, [options(), *chunks((FIXTURES / "pngsuite" / name).read_bytes())])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()


def test_input_above_the_byte_cap_is_rejected_while_streaming(
    stub: compress_pb2_grpc.CompressServiceStub,
) -> None:
    """The server caps input at 64 MiB in these tests; we offer 512 MiB and count what it took."""
    sent = 0
    head = a_jpeg()

    def requests() -> Iterator[compress_pb2.CompressRequest]:
        nonlocal sent
        yield options()
        yield compress_pb2.CompressRequest(chunk=head)
        filler = bytes(MIB)
        for _ in range(512):
            sent += len(filler)
            yield compress_pb2.CompressRequest(chunk=filler)

    error = call(stub, requests())
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-input-bytes" in (error.details() or "")
    assert sent < 200 * MIB, f"the client had to send {sent / MIB:.0f} MiB before the rejection"


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """A real photo enlarged to about 14 MP, so compressing it takes long enough to interrupt."""
    import pyvips

    photo = pyvips.Image.new_from_file(str(sorted(FIXTURES.rglob("kodim*.png"))[0]))
    return bytes(photo.resize(6).pngsave_buffer(compression=1))


def worker_count(server: ServerProcess) -> int:
    return len(worker_processes(server))


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_deadline_expires(stub: compress_pb2_grpc.CompressServiceStub, big_png: bytes) -> None:
    error = call(stub, [options(50), *chunks(big_png)], timeout=1.0)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize("phase", ["while uploading", "while the worker runs"])
def test_client_cancelling_leaves_nothing_behind(
    stub: compress_pb2_grpc.CompressServiceStub, server: ServerProcess, big_png: bytes, phase: str
) -> None:
    hold = threading.Event()
    parts = chunks(big_png)

    def requests() -> Iterator[compress_pb2.CompressRequest]:
        yield options(50)
        if phase == "while uploading":
            yield from parts[: len(parts) // 2]
            hold.wait(30)  # keep the stream open until the client cancels
        yield from parts

    responses = stub.Compress(requests(), timeout=60)
    time.sleep(1.5)
    responses.cancel()
    hold.set()
    with pytest.raises(grpc.RpcError) as raised:
        list(responses)
    assert raised.value.code() == grpc.StatusCode.CANCELLED
    assert wait_for(lambda: not list((server.data_dir / "tmp").iterdir())), "spool files leaked"
    assert wait_for(lambda: worker_count(server) == WORKERS), "the worker pool did not recover"


def test_health_still_serving_after_everything(
    address: str, server: ServerProcess, stub: compress_pb2_grpc.CompressServiceStub
) -> None:
    response = list(stub.Compress(iter([options(), *chunks(a_jpeg())]), timeout=60))
    assert response[0].HasField("action_id")
    assert response[1].HasField("result")
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        response = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        response = health.Check(
            health_pb2.HealthCheckRequest(service="pixpress.v1.CompressService"), timeout=10
        )
        assert response.status == health_pb2.HealthCheckResponse.SERVING
    assert server.process.poll() is None
