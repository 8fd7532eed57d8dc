"""q 100 PNG: the oxipng search by effort and size, pixels identical, bytes against oxipng -o4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import oxipng
import pytest
from PIL import Image
from pixpress_server.processing import pipeline, vips
from pixpress_server.processing.encoders import png
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest
from pixpress_server.processing.metadata import MetadataPolicy
from pixpress_server.processing.model import CompressOptions, CompressOutcome, ImageFormat, Limits
from pixpress_server.processing.png_lossless import ZOPFLI_FULL_PIXELS, LosslessPng, lossless_png

from tests.conftest import FIXTURES_DIR, copy_fixture

LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)
SIZES = (1_024, ZOPFLI_FULL_PIXELS + 1, 65_536, 65_537, 500_000, 3_000_000, 20_000_000, 60_000_000)


@pytest.fixture(scope="module", autouse=True)
def _initialised() -> None:
    pipeline.initialise()


def _rank(settings: LosslessPng) -> tuple[int, int, int]:
    """Search size: zopfli (full evaluation above fast) beats any libdeflate level."""
    zopfli = 0 if settings.zopfli is None else 1 + (not settings.fast_evaluation)
    return (zopfli, settings.zopfli or 0, settings.level)


def test_more_effort_never_searches_less() -> None:
    for pixels in SIZES:
        ranks = [_rank(lossless_png(effort, pixels)) for effort in range(1, 11)]
        assert ranks == sorted(ranks), pixels


def test_bigger_images_never_search_more() -> None:
    for effort in range(1, 11):
        ranks = [_rank(lossless_png(effort, pixels)) for pixels in SIZES]
        assert ranks == sorted(ranks, reverse=True), effort


def test_default_effort_bands() -> None:
    assert lossless_png(5, 32 * 32) == LosslessPng(6, zopfli=15)
    assert lossless_png(5, 768 * 512) == LosslessPng(5)
    assert lossless_png(5, 4000 * 3000) == LosslessPng(2)
    assert lossless_png(5, 8000 * 8000) == LosslessPng(1)  # bounded: about 0.4 CPU-s/MP
    assert lossless_png(10, 32 * 32) == LosslessPng(6, zopfli=15, fast_evaluation=False)
    assert lossless_png(1, 768 * 512).zopfli is None


def _run(source: Path, effort: int) -> tuple[CompressOutcome, Path]:
    destination = source.with_name(f"out-e{effort}-{source.name}")
    outcome = pipeline.compress(
        source, destination, CompressOptions(quality=100, effort=effort), LIMITS
    )
    return outcome, source if outcome.kept_original else destination


def _pixels(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as image:
        return image.mode, np.asarray(image.convert("RGBA" if "A" in image.mode else "RGB"))


def _crop(tmp: Path, side: int) -> Path:
    path = tmp / f"crop{side}.png"
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as image:
        image.convert("RGB").crop((200, 100, 200 + side, 100 + side)).save(path)
    return path


@pytest.mark.parametrize(
    "name", ["pngsuite/basn6a08.png", "pngsuite/basn2c08.png", "pngsuite/basn3p08.png", "crop"]
)
def test_default_effort_at_most_oxipng_o4_with_identical_pixels(tmp_path: Path, name: str) -> None:
    source = _crop(tmp_path, 96) if name == "crop" else copy_fixture(tmp_path, name)
    outcome, output = _run(source, effort=5)
    peer = oxipng.optimize_from_memory(
        source.read_bytes(), level=4, strip=oxipng.StripChunks.safe()
    )
    assert outcome.output_size <= len(peer)
    assert outcome.output_size < _run(source, effort=1)[0].output_size
    before, after = _pixels(source), _pixels(output)
    assert np.array_equal(before[1], after[1])  # alpha included where the source has it


def test_mode_names_the_search(tmp_path: Path) -> None:
    source = _crop(tmp_path, 48)
    image = vips.load(source, ImageFormat.PNG)
    request = EncodeRequest(image, source.read_bytes(), 100, MetadataPolicy(keep_all=False), 5)
    encoded = png.encode(request)
    assert isinstance(encoded, Encoded)
    assert (encoded.mode, encoded.postpass) == ("lossless oxipng 6 zopfli 15 fast", False)
