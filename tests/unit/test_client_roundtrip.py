"""Client and AsyncClient against the in-process echo server: streaming, reassembly, errors."""

from __future__ import annotations

import os

import grpc
import pixpress
import pytest

from tests.unit.client_echo_server import PNG_MAGIC, echo_server

KIB = 1024
MIB = 1024 * KIB


@pytest.fixture(scope="module")
def server():
    with echo_server() as running:
        yield running


@pytest.fixture
def target(server):
    return server[0]


@pytest.fixture
def servicer(server):
    return server[1]


@pytest.fixture(scope="module")
def big() -> bytes:
    # Larger than gRPC's 4 MiB default message limit: only chunking gets it through.
    return os.urandom(9 * MIB + 123)


def test_multi_mib_bytes_round_trip_in_256_kib_chunks(target, servicer, big):
    with pixpress.Client(target) as client:
        result = client.compress(big, quality=70, keep_metadata=True)
    assert result.data == big[::-1]
    assert (result.input_size, result.output_size) == (len(big), len(big))
    assert (result.format, result.quality, result.width, result.height) == ("jpeg", 70, 3, 2)
    assert result.stages == (pixpress.Stage("encode", len(big), 1.5),)
    call = servicer.calls[-1]
    assert call.kinds[0] == "options"
    assert set(call.kinds[1:]) == {"chunk"}
    assert call.chunk_sizes == [256 * KIB] * 36 + [123]
    assert (call.options.quality, call.options.keep_metadata) == (70, True)


def test_file_streamed_with_custom_chunk_size(tmp_path, target, servicer):
    path = tmp_path / "image.png"
    data = PNG_MAGIC + os.urandom(5000)
    path.write_bytes(data)
    with pixpress.Client(target, chunk_size=1000) as client:
        result = client.compress(path, quality=None)
    assert result.data == data[::-1]
    assert result.format == "png"
    assert result.quality == 80
    assert servicer.calls[-1].chunk_sizes == [1000] * 5 + [8]
    assert not servicer.calls[-1].options.HasField("quality")


def test_api_key_sent_as_bearer_metadata(target, servicer, monkeypatch):
    monkeypatch.setenv("PIXPRESS_API_KEY", "from-env")
    with pixpress.Client(target) as client:
        client.compress(b"abc")
    assert servicer.calls[-1].metadata["authorization"] == "Bearer from-env"
    with pixpress.Client(target, api_key="explicit") as client:
        client.compress(b"abc")
    assert servicer.calls[-1].metadata["authorization"] == "Bearer explicit"


def test_no_key_no_authorization_metadata(target, servicer, monkeypatch):
    monkeypatch.delenv("PIXPRESS_API_KEY", raising=False)
    with pixpress.Client(target) as client:
        client.compress(b"abc")
    assert "authorization" not in servicer.calls[-1].metadata


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        ("INVALID_ARGUMENT", pixpress.InvalidArgumentError),
        ("RESOURCE_EXHAUSTED", pixpress.ResourceExhaustedError),
        ("FAILED_PRECONDITION", pixpress.FailedPreconditionError),
        ("UNAUTHENTICATED", pixpress.UnauthenticatedError),
        ("INTERNAL", pixpress.InternalError),
        ("ABORTED", pixpress.PixpressError),
    ],
)
def test_server_status_becomes_typed_error(target, status, cls):
    with pixpress.Client(target) as client, pytest.raises(cls) as caught:
        client.compress(f"ABORT {status} image is bad".encode())
    assert type(caught.value) is cls
    assert caught.value.code is grpc.StatusCode[status]
    assert caught.value.message == "image is bad"


def test_missing_file_raises_before_any_call(tmp_path, target, servicer):
    before = len(servicer.calls)
    with pixpress.Client(target) as client, pytest.raises(FileNotFoundError):
        client.compress(tmp_path / "missing.jpg")
    assert len(servicer.calls) == before


def test_client_is_shared_across_threads(target):
    from concurrent.futures import ThreadPoolExecutor

    inputs = [os.urandom(300 * KIB + i) for i in range(8)]
    with pixpress.Client(target) as client, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(client.compress, inputs))
    assert [r.data for r in results] == [d[::-1] for d in inputs]


async def test_async_bytes_round_trip(target, servicer, big):
    async with pixpress.AsyncClient(target, api_key="k") as client:
        result = await client.compress(big, quality=42)
    assert result.data == big[::-1]
    assert result.quality == 42
    assert servicer.calls[-1].chunk_sizes[0] == 256 * KIB
    assert servicer.calls[-1].metadata["authorization"] == "Bearer k"


async def test_async_file_round_trip(tmp_path, target, servicer):
    path = tmp_path / "image.bin"
    data = os.urandom(3 * MIB)
    path.write_bytes(data)
    async with pixpress.AsyncClient(target, chunk_size=512 * KIB) as client:
        result = await client.compress(str(path))
    assert result.data == data[::-1]
    assert servicer.calls[-1].chunk_sizes == [512 * KIB] * 6


async def test_async_error_translation(target):
    async with pixpress.AsyncClient(target) as client:
        with pytest.raises(pixpress.NotFoundError, match="no such asset"):
            await client.compress(b"ABORT NOT_FOUND no such asset")


async def test_async_quality_validation():
    async with pixpress.AsyncClient("localhost:1") as client:
        with pytest.raises(ValueError, match="received 0"):
            await client.compress(b"x", quality=0)


def test_action_id_is_carried_and_an_older_server_still_works(target, servicer):
    with pixpress.Client(target) as client:
        assert client.compress(b"abc").action_id.startswith("action-")
        servicer.send_action_id = False
        try:
            result = client.compress(b"abc")
        finally:
            servicer.send_action_id = True
    assert (result.data, result.action_id, result.output_asset_id) == (b"cba", "", "")


def test_kept_original_is_reported(target):
    with pixpress.Client(target) as client:
        result = client.compress(b"KEEP these bytes")
    assert result.kept_original is True
    assert result.kept_original_reason == "not smaller"
    assert result.data == b"KEEP these bytes"
    assert result.saved_ratio == 0.0


def test_an_error_carries_the_action_id_streamed_first(target, servicer):
    with pixpress.Client(target) as client, pytest.raises(pixpress.InvalidArgumentError) as caught:
        client.compress(b"ABORT INVALID_ARGUMENT not an image")
    assert caught.value.action_id == f"action-{len(servicer.calls)}"
    assert caught.value.retry_after is None


@pytest.fixture
def abort_metadata(servicer):
    """Trailing metadata for the echo server's aborts, reset after the test."""

    def set_metadata(*pairs: tuple[str, str]) -> None:
        servicer.abort_metadata = pairs

    yield set_metadata
    servicer.abort_metadata = ()


def test_trailing_metadata_gives_action_id_and_retry_after(target, servicer, abort_metadata):
    abort_metadata(("pixpress-action-id", "from-trailer"), ("pixpress-retry-after", "1.250"))
    with (
        pixpress.Client(target) as client,
        pytest.raises(pixpress.ResourceExhaustedError) as caught,
    ):
        client.compress(b"ABORT RESOURCE_EXHAUSTED slow down")
    # the server's own word wins over the id streamed first
    assert (caught.value.action_id, caught.value.retry_after) == ("from-trailer", 1.25)
    servicer.send_action_id = False
    abort_metadata(("pixpress-retry-after", "soon"))
    try:
        with pixpress.Client(target) as client, pytest.raises(pixpress.PixpressError) as caught:
            client.compress(b"ABORT RESOURCE_EXHAUSTED slow down")
    finally:
        servicer.send_action_id = True
    assert (caught.value.action_id, caught.value.retry_after) == ("", None)  # nonsense hint


async def test_async_errors_carry_action_id_and_retry_after(target, servicer, abort_metadata):
    abort_metadata(("pixpress-retry-after", "3"))
    async with pixpress.AsyncClient(target) as client:
        with pytest.raises(pixpress.ResourceExhaustedError) as caught:
            await client.compress(b"ABORT RESOURCE_EXHAUSTED busy")
    assert caught.value.action_id == f"action-{len(servicer.calls)}"
    assert caught.value.retry_after == 3.0


def test_a_key_with_a_trailing_newline_is_sent_stripped(target, servicer, monkeypatch):
    monkeypatch.setenv("PIXPRESS_API_KEY", "from-env\n")  # as `$(keys create)` in Python gives
    with pixpress.Client(target) as client:
        client.compress(b"abc")
    assert servicer.calls[-1].metadata["authorization"] == "Bearer from-env"
    with pixpress.Client(target, api_key=" explicit\r\n") as client:
        client.compress(b"abc")
    assert servicer.calls[-1].metadata["authorization"] == "Bearer explicit"
