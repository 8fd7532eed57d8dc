"""APNGs through a real server and the SDK: valid ones kept unchanged, damaged ones refused."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from pixpress import Client, InvalidArgumentError

from tests.integration.server_process import ServerProcess, create_key, start_server
from tests.unit.apng_samples import DAMAGES, make_apng

MAX_FRAMES = 4
SENT_THROUGH_THE_SERVICE = (
    "crc",
    "sequence-skipped",
    "region-outside-canvas",
    "more-frames-than-declared",
    "truncated-fdat",
    "garbage-after-iend",
    "zlib-cut-short",
    "filter-type",
)


@pytest.fixture(scope="module")
def apng_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """One worker, --max-frames 4: the 4-frame samples fit, a 5-frame one does not."""
    data_dir = tmp_path_factory.mktemp("apng-server")
    server = start_server(data_dir, ["--workers", "1", "--max-frames", str(MAX_FRAMES)])
    try:
        yield server, create_key(data_dir, "alice")
    finally:
        assert server.stop() == 0, server.log


@pytest.fixture(scope="module")
def client(apng_server: tuple[ServerProcess, str]) -> Iterator[Client]:
    server, key = apng_server
    with Client(server.address, api_key=key) as client:
        yield client


@pytest.fixture(scope="module")
def sample() -> bytes:
    return make_apng(frames=MAX_FRAMES)


@pytest.mark.parametrize("quality", [80, 100])
def test_a_valid_apng_comes_back_unchanged_with_its_frames(
    client: Client, sample: bytes, quality: int
) -> None:
    result = client.compress(sample, quality=quality)
    assert result.kept_original
    assert result.kept_original_reason == "apng animation kept unchanged"
    assert result.data == sample
    assert (result.format, result.width, result.height) == ("png", 96, 64)
    assert result.frames == MAX_FRAMES


@pytest.mark.parametrize("name", SENT_THROUGH_THE_SERVICE)
def test_a_damaged_apng_is_invalid_argument_naming_the_fault(
    client: Client, sample: bytes, name: str
) -> None:
    damage = next(d for d in DAMAGES if d.name == name)
    with pytest.raises(InvalidArgumentError) as raised:
        client.compress(damage.damage(sample))
    assert re.fullmatch(damage.message, raised.value.message), raised.value.message


def test_apng_frames_count_against_max_frames(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        client.compress(make_apng(frames=MAX_FRAMES + 1))
    assert raised.value.message == (
        f"image has {MAX_FRAMES + 1} frames, above the limit of {MAX_FRAMES} frames (--max-frames)"
    )


def test_still_pngs_are_still_compressed(client: Client, sample: bytes) -> None:
    still = make_apng(frames=1)  # Pillow writes one frame as a plain PNG
    result = client.compress(still, quality=80)
    assert result.format == "png" and result.frames == 1
    assert result.kept_original_reason != "apng animation kept unchanged"
