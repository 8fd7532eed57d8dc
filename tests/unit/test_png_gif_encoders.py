"""PNG and GIF by effort: band tables, oxipng and gifsicle steps, lossless q 100, GIF timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pixpress_server.processing import gifsicle, pipeline
from pixpress_server.processing.encoders import gif
from pixpress_server.processing.metadata import MetadataPolicy
from pixpress_server.processing.model import CompressOptions, CompressOutcome, Limits
from pixpress_server.processing.png_effort import BIG_PIXELS, oxipng_level, png_effort
from pixpress_server.processing.postpass import PostPassContext, optimise_png

from tests.conftest import FIXTURES_DIR, copy_fixture

LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)


@pytest.fixture(scope="module", autouse=True)
def _initialised() -> None:
    pipeline.initialise()


def run(source: Path, quality: int, effort: int) -> tuple[CompressOutcome, Path]:
    destination = source.with_name(f"out-q{quality}-e{effort}-{source.name}")
    options = CompressOptions(quality=quality, effort=effort)
    outcome = pipeline.compress(source, destination, options, LIMITS)
    return outcome, source if outcome.kept_original else destination


def photo(size: int = 256) -> Image.Image:
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as image:
        return image.convert("RGB").crop((200, 100, 200 + size, 100 + size))


def photo_png(tmp: Path) -> Path:
    path = tmp / "crop.png"
    photo().save(path)
    return path


def sprite_gif(tmp: Path, *, transparent: bool = False) -> Path:
    """A still background with a moving patch: what inter-frame optimisation is for.

    transparent: 64 colours, one palette for every frame, index 0 transparent."""
    background = photo(160)
    sprite = background.crop((0, 0, 32, 32))
    palette = background.quantize(64)
    frames: list[Image.Image] = []
    for index in range(5):
        frame = background.copy()
        frame.paste(sprite, (16 + 24 * index, 64))
        frames.append(
            frame.quantize(palette=palette, dither=Image.Dither.NONE) if transparent else frame
        )
    path = tmp / "sprite.gif"
    extra: dict[str, Any] = {"transparency": 0} if transparent else {}
    frames[0].save(
        path,
        save_all=True,
        append_images=frames[1:],
        duration=[70, 80, 90, 100, 110],
        loop=3,
        optimize=False,
        **extra,
    )
    return path


def rgba_frames(path: Path) -> list[np.ndarray]:
    """Every frame as RGBA; fully transparent pixels as 0,0,0,0 (their colour is not shown,
    and a transparent palette entry's colour may change)."""
    with Image.open(path) as image:
        frames = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            frame = np.asarray(image.convert("RGBA")).copy()
            frame[frame[..., 3] == 0] = 0
            frames.append(frame)
        return frames


def timing(path: Path) -> tuple[list[int], int | None]:
    with Image.open(path) as image:
        delays = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            delays.append(int(image.info["duration"]))
        return delays, image.info.get("loop")


# --- the PNG effort table -------------------------------------------------------------------


def test_png_bands_spend_more_with_effort() -> None:
    small = 1_000_000
    settings = [png_effort(effort, small) for effort in range(1, 11)]
    quantisers = [s.quantiser for s in settings]
    assert quantisers == sorted(quantisers) and quantisers[0] < quantisers[-1]
    assert settings[0].oxipng is None  # effort 1: libvips zlib only
    levels = [s.oxipng for s in settings[2:]]
    assert levels == sorted(levels, key=lambda level: -1 if level is None else level)
    assert png_effort(5, small).oxipng == 1


def test_big_png_at_default_effort_takes_the_cheapest_band() -> None:
    assert png_effort(5, BIG_PIXELS + 1) == png_effort(1, 1000)
    assert png_effort(5, BIG_PIXELS) == png_effort(5, 1000)
    assert png_effort(9, BIG_PIXELS * 4) == png_effort(9, 1000)  # asked for bytes: kept


def test_oxipng_level_always_defined_for_lossless() -> None:
    assert oxipng_level(1, 1000) == 0
    assert [oxipng_level(effort, 1000) for effort in (3, 5, 7, 10)] == [0, 1, 2, 3]


def test_failing_oxipng_keeps_its_input() -> None:
    context = PostPassContext(MetadataPolicy(keep_all=False), orientation=1, effort=5)
    damaged = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    assert optimise_png(damaged, context) == damaged


# --- PNG through the pipeline ---------------------------------------------------------------


def test_png_effort_changes_path_and_bytes(tmp_path: Path) -> None:
    source = photo_png(tmp_path)
    low, low_path = run(source, 80, effort=1)
    high, high_path = run(source, 80, effort=10)
    # A palette's deflate pass runs inside encode (encoders.png.deflate_palette).
    assert [stage.name for stage in low.stages] == ["decode", "encode"]
    assert [stage.name for stage in high.stages] == ["decode", "encode"]
    assert high.output_size < low.output_size < low.input_size
    for path in (low_path, high_path):
        with Image.open(path) as decoded:
            assert decoded.mode == "P"  # the palette was accepted at both efforts


@pytest.mark.parametrize("name", ["pngsuite/basn6a16.png", "pngsuite/basn6a08.png", "crop"])
@pytest.mark.parametrize("effort", [1, 10])
def test_png_quality_100_is_lossless_at_every_effort(
    tmp_path: Path, name: str, effort: int
) -> None:
    import pyvips

    source = photo_png(tmp_path) if name == "crop" else copy_fixture(tmp_path, name)
    outcome, output = run(source, 100, effort)
    assert outcome.output_size <= outcome.input_size
    before = pyvips.Image.new_from_file(str(source))
    after = pyvips.Image.new_from_file(str(output))
    assert (before.format, before.bands) == (after.format, after.bands)
    assert np.array_equal(before.numpy(), after.numpy())


# --- gifsicle adapter -----------------------------------------------------------------------


def test_gifsicle_missing_is_skipped(tmp_path: Path) -> None:
    data = (FIXTURES_DIR / "gif" / "animation.gif").read_bytes()
    assert gifsicle.run(data, ["-O2"], megapixels=0.1, program=tmp_path / "nope") is None


def test_gifsicle_failing_is_skipped(tmp_path: Path) -> None:
    assert gifsicle.run(b"GIF89a not really", ["-O2"], megapixels=0.1) is None


def test_gifsicle_too_slow_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    monkeypatch.setattr(gifsicle, "timeout_for", lambda megapixels: 0.2)
    assert gifsicle.run(b"GIF89a", ["-O2"], megapixels=0.1, program=slow) is None


def test_gifsicle_binary_is_the_venvs() -> None:
    assert gifsicle.binary().is_file()
    data = (FIXTURES_DIR / "gif" / "high-color.gif").read_bytes()
    out = gifsicle.run(data, ["-O3"], megapixels=0.1)
    assert out is not None and out.startswith(b"GIF8")


# --- GIF through the pipeline ---------------------------------------------------------------


def test_gif_lossy_keeps_frames_delays_and_loop(tmp_path: Path) -> None:
    source = sprite_gif(tmp_path)
    outcome, output = run(source, 60, effort=5)
    assert not outcome.kept_original
    assert outcome.output_size < outcome.input_size
    assert timing(output) == timing(source) == ([70, 80, 90, 100, 110], 3)
    assert len(rgba_frames(output)) == 5


def test_gif_keeps_transparency(tmp_path: Path) -> None:
    source = sprite_gif(tmp_path, transparent=True)
    _, output = run(source, 60, effort=5)
    before, after = rgba_frames(source), rgba_frames(output)
    for a, b in zip(before, after, strict=True):
        assert np.array_equal(a[..., 3] == 0, b[..., 3] == 0)


@pytest.mark.parametrize("effort", [1, 10])
@pytest.mark.parametrize("case", ["sprite", "gif/high-color.gif", "gif/transparent.gif"])
def test_gif_quality_100_is_lossless(tmp_path: Path, case: str, effort: int) -> None:
    source = sprite_gif(tmp_path) if case == "sprite" else copy_fixture(tmp_path, case)
    outcome, output = run(source, 100, effort)
    assert outcome.output_size <= outcome.input_size
    expected, actual = rgba_frames(source), rgba_frames(output)
    assert len(expected) == len(actual)
    for a, b in zip(expected, actual, strict=True):
        assert np.array_equal(a, b)
    if case == "sprite":
        assert not outcome.kept_original  # unchanged regions become transparent: smaller


def test_gif_effort_changes_bytes(tmp_path: Path) -> None:
    source = sprite_gif(tmp_path)
    low, _ = run(source, 80, effort=1)
    high, _ = run(source, 80, effort=10)
    assert high.output_size < low.output_size


def colours(path: Path) -> int:
    """Distinct colours over every frame."""
    return len(np.unique(np.concatenate([f.reshape(-1, 4) for f in rgba_frames(path)]), axis=0))


@pytest.mark.parametrize("gifsicle_present", [True, False])
def test_gif_palette_reused_never_more_colours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gifsicle_present: bool
) -> None:
    if not gifsicle_present:  # the cgif fallback: the source palette reused
        monkeypatch.setattr(gifsicle, "binary", lambda: tmp_path / "missing-gifsicle")
    source = sprite_gif(tmp_path, transparent=True)
    outcome, output = run(source, gif.LOSSY_FROM, effort=10)  # lossy LZW on the palettes
    assert not outcome.kept_original
    assert colours(output) <= colours(source)
    assert timing(output) == timing(source)


def test_gif_falls_back_to_cgif_when_gifsicle_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setattr(gifsicle, "binary", lambda: failing)
    source = sprite_gif(tmp_path)
    outcome, output = run(source, 100, effort=5)
    assert outcome.output_size <= outcome.input_size
    for a, b in zip(rgba_frames(source), rgba_frames(output), strict=True):
        assert np.array_equal(a, b)


def test_gif_interframe_error_and_levels() -> None:
    assert gif.settings_for(100).interframe_maxerror == 0
    values = [gif.settings_for(q).interframe_maxerror for q in (95, 80, 50, 1)]
    assert values == sorted(values) and values[0] > 0 and values[-1] <= 32
    assert [gif.optimise_level(e) for e in (1, 3, 4, 8, 9, 10)] == [1, 1, 2, 2, 3, 3]


def test_gif_lossy_with_gifsicle_failing_keeps_the_cgif_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = sprite_gif(tmp_path)
    alone, alone_path = run(source, 60, effort=8)  # q 60, effort 5-8: cgif re-quantises alone
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setattr(gifsicle, "binary", lambda: failing)
    skipped, skipped_path = run(source, 60, effort=10)
    assert skipped.output_size == alone.output_size
    assert skipped_path.read_bytes() == alone_path.read_bytes()


def test_gif_icc_profile_survives_gifsicle(tmp_path: Path) -> None:
    from pixpress_server.processing import vips
    from pixpress_server.processing.encoders.base import Encoded, EncodeRequest
    from pixpress_server.processing.model import ImageFormat

    source = copy_fixture(tmp_path, "gif/icc-color-profile.gif")
    image = vips.load(source, ImageFormat.GIF)
    request = EncodeRequest(image, source.read_bytes(), 100, MetadataPolicy(keep_all=False), 10)
    encoded = gif.encode(request)
    assert isinstance(encoded, Encoded)
    assert b"ICCRGBG1" in encoded.data
