"""Lossy PNG (issue 8): the palette's PSNR check, its libdeflate pass and the effort bands."""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image
from pixpress_server.processing import pipeline
from pixpress_server.processing.encoders.png import deflate_palette, palette_psnr
from pixpress_server.processing.model import CompressOptions, ImageFormat, Limits
from pixpress_server.processing.png_effort import png_effort
from pixpress_server.processing.vips import VipsImage, load_buffer, psnr

from tests.conftest import FIXTURES_DIR

LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)


@pytest.fixture(scope="module", autouse=True)
def _initialised() -> None:
    pipeline.initialise()


def image(name: str) -> VipsImage:
    return VipsImage(pyvips.Image.new_from_file(str(FIXTURES_DIR / name)), ImageFormat.PNG)


def palette_of(source: VipsImage, compression: int = 1, effort: int = 7) -> bytes:
    return bytes(
        source.image.pngsave_buffer(
            palette=True, Q=60, effort=effort, dither=1.0, compression=compression
        )
    )


def chunk_types(data: bytes) -> list[bytes]:
    types, offset = [], 8
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        types.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return [t for t in types if t != b"IDAT"]


@pytest.mark.parametrize("name", ["png/kodim23.png", "pngsuite/basn6a08.png"])
def test_palette_psnr_is_vips_psnr_for_8_bit_rgb_and_rgba(name: str) -> None:
    source = image(name).in_memory()
    data = palette_of(source)  # loaded twice: the check reads its candidate sequentially
    expected = psnr(source, load_buffer(data, ImageFormat.PNG), 255.0, candidate_max=255.0)
    assert 15 < expected < 60
    assert palette_psnr(source, load_buffer(data, ImageFormat.PNG)) == pytest.approx(expected)
    assert palette_psnr(source, source) == math.inf


@pytest.mark.parametrize("name", ["pngsuite/basn6a16.png", "pngsuite/basn0g16.png"])
def test_palette_psnr_other_formats_take_vips_psnr(name: str) -> None:
    source = image(name).in_memory()
    data = palette_of(source)
    expected = psnr(source, load_buffer(data, ImageFormat.PNG), 65535.0, candidate_max=255.0)
    assert palette_psnr(source, load_buffer(data, ImageFormat.PNG)) == expected


@pytest.mark.parametrize("name", ["png/kodim03.png", "pngsuite/basn6a08.png"])
def test_deflate_palette_keeps_pixels_and_chunks_and_saves_bytes(name: str) -> None:
    source = image(name)
    zlib1 = palette_of(source, compression=1)
    zlib6 = palette_of(source, compression=6)
    deflated = deflate_palette(zlib1, 10)
    assert len(deflated) <= len(zlib6) < len(zlib1)
    assert sorted(chunk_types(deflated)) == sorted(chunk_types(zlib1))
    with Image.open(io.BytesIO(deflated)) as after, Image.open(io.BytesIO(zlib1)) as before:
        assert after.mode == before.mode == "P"
        assert after.getpalette() == before.getpalette()
        assert np.array_equal(np.asarray(after), np.asarray(before))


def test_deflate_palette_failing_keeps_its_input() -> None:
    damaged = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    assert deflate_palette(damaged, 10) == damaged


def test_png_bands_dither_only_with_libimagequants_dither_map() -> None:
    # Below quantiser effort 6 (libimagequant speed 6+) there is no dither map: full
    # Floyd-Steinberg cost Kodak photos 6-8 SSIMULACRA2 points at q 50 (levers_png.py).
    bands = [png_effort(effort, 1_000_000) for effort in range(1, 11)]
    for band in bands:
        assert 0.0 <= band.dither <= 1.0
        if band.quantiser < 6:
            assert band.dither == 0.0
    levels = [-1 if band.palette_deflate is None else band.palette_deflate for band in bands]
    assert levels == sorted(levels) and levels[0] == -1 and levels[-1] >= 10
    assert png_effort(5, 1_000_000).palette_deflate is not None  # the default pays for it


def test_default_effort_palette_is_libvips_palette_deflated(tmp_path: Path) -> None:
    source = FIXTURES_DIR / "png" / "kodim03.png"
    destination = tmp_path / "out.png"
    outcome = pipeline.compress(source, destination, CompressOptions(quality=60), LIMITS)
    assert not outcome.kept_original
    assert [stage.name for stage in outcome.stages] == ["decode", "encode"]
    band = png_effort(outcome.effort, 1_000_000)
    vips_palette = bytes(
        pyvips.Image.new_from_file(str(source)).pngsave_buffer(
            palette=True, Q=60, effort=band.quantiser, dither=band.dither, compression=6
        )
    )
    output = destination.read_bytes()
    assert len(output) < len(vips_palette)
    with Image.open(destination) as ours, Image.open(io.BytesIO(vips_palette)) as theirs:
        assert ours.mode == theirs.mode == "P"
        assert np.array_equal(np.asarray(ours.convert("RGB")), np.asarray(theirs.convert("RGB")))
