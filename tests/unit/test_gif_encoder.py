"""GIF quality mapping: lossy LZW on the source's palettes at the top, fewer colours below."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pixpress_server.processing import gifsicle, pipeline
from pixpress_server.processing.encoders import gif
from pixpress_server.processing.model import CompressOptions, CompressOutcome, Limits

from tests.conftest import FIXTURES_DIR, copy_fixture

LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)
FRAMES = 3


@pytest.fixture(scope="module", autouse=True)
def _initialised() -> None:
    pipeline.initialise()


def pan_gif(tmp: Path) -> Path:
    """A photo pan as the comparison makes them (half size, 4 pixels a frame), each frame its
    own dithered 256 colours. (Lossy LZW can grow a full-size crop: the guard keeps it then.)"""
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as opened:
        photo = opened.convert("RGB").reduce(2)
    width = photo.width - 4 * (FRAMES - 1)
    frames = [
        photo.crop((4 * i, 0, 4 * i + width, photo.height)).quantize(
            256, dither=Image.Dither.FLOYDSTEINBERG
        )
        for i in range(FRAMES)
    ]
    path = tmp / "pan.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[60, 70, 80], loop=2)
    return path


def compress(source: Path, quality: int, effort: int = 5) -> tuple[CompressOutcome, Path]:
    destination = source.with_name(f"out-q{quality}-e{effort}.gif")
    outcome = pipeline.compress(
        source, destination, CompressOptions(quality=quality, effort=effort), LIMITS
    )
    return outcome, source if outcome.kept_original else destination


def frames_of(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        frames = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGBA")).copy())
        return frames


def timing(path: Path) -> tuple[list[int], int | None]:
    with Image.open(path) as image:
        delays = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            delays.append(int(image.info["duration"]))
        return delays, image.info.get("loop")


def colours_per_frame(path: Path) -> list[int]:
    return [len(np.unique(frame.reshape(-1, 4), axis=0)) for frame in frames_of(path)]


# --- the tables -----------------------------------------------------------------------------


def test_quality_maps_to_lossy_lzw_then_fewer_colours() -> None:
    top = [gif.settings_for(q) for q in range(99, gif.LOSSY_FROM - 1, -1)]
    lossy = [s.lossy or 0 for s in top]
    assert all(value > 0 for value in lossy)
    assert lossy == sorted(lossy)  # lower quality, more loss
    below = [gif.settings_for(q) for q in range(gif.LOSSY_FROM - 1, 0, -1)]
    assert all(s.lossy is None for s in below)
    depths = [s.bitdepth for s in below]
    assert depths == sorted(depths, reverse=True)
    assert depths[0] == 7 and gif.settings_for(50).bitdepth == 5 and depths[-1] >= 3
    errors = [gif.settings_for(q).interframe_maxerror for q in (99, 90, 75, 50, 1)]
    assert errors == sorted(errors) and errors[-1] <= 32


def test_effort_tables_spend_more_as_effort_grows() -> None:
    levels = [gif.optimise_level(e) for e in range(1, 11)]
    quantisers = [gif.quantise_effort(e) for e in range(1, 11)]
    assert levels == sorted(levels) and levels[0] == 1 and levels[-1] == 3
    assert quantisers == sorted(quantisers) and quantisers[0] < quantisers[-1]


# --- through the pipeline -------------------------------------------------------------------


def test_quality_spans_a_rate_quality_curve(tmp_path: Path) -> None:
    source = pan_gif(tmp_path)
    sizes = {}
    for quality in (50, 80, 90):
        outcome, output = compress(source, quality)
        assert not outcome.kept_original
        assert timing(output) == timing(source) == ([60, 70, 80], 2)
        assert len(frames_of(output)) == FRAMES
        sizes[quality] = outcome.output_size
    assert sizes[50] < sizes[80] < sizes[90] < source.stat().st_size
    assert sizes[50] < 0.7 * sizes[90]  # the old encoder: 0.86-0.95 of the input, q 50-95


def test_high_quality_keeps_the_source_palettes(tmp_path: Path) -> None:
    source = pan_gif(tmp_path)
    outcome, output = compress(source, 90)
    assert outcome.output_size < outcome.input_size
    # Lossy LZW picks among the palette's own entries: no frame gains a colour.
    for before, after in zip(colours_per_frame(source), colours_per_frame(output), strict=True):
        assert after <= before


def test_lower_quality_frames_have_at_most_its_colours(tmp_path: Path) -> None:
    source = pan_gif(tmp_path)
    _, output = compress(source, 50)
    # Later frames show earlier ones through transparent pixels: the first is one palette.
    assert colours_per_frame(output)[0] <= 1 << gif.settings_for(50).bitdepth


def test_few_colour_source_is_not_requantised(tmp_path: Path) -> None:
    source = copy_fixture(tmp_path, "gif/transparent.gif")
    assert gif.settings_for(40).bitdepth == 4
    _, output = compress(source, 40)
    before, after = frames_of(source), frames_of(output)
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        assert np.array_equal(a[..., 3] == 0, b[..., 3] == 0)  # transparency kept
        shown = a[..., 3] > 0
        assert np.array_equal(a[shown], b[shown])  # a single frame: nothing else to lose


def test_high_quality_without_gifsicle_reuses_the_palette(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gifsicle, "binary", lambda: tmp_path / "missing-gifsicle")
    source = pan_gif(tmp_path)
    outcome, output = compress(source, 95)
    assert outcome.output_size <= outcome.input_size
    assert timing(output) == timing(source)
    assert len(frames_of(output)) == FRAMES


def test_effort_1_does_not_run_gifsicle_after_requantising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    real = gifsicle.run

    def counted(data: bytes, arguments: list[str], **kwargs: float) -> bytes | None:
        calls.append(list(arguments))
        return real(data, arguments, megapixels=kwargs["megapixels"])

    monkeypatch.setattr(gifsicle, "run", counted)
    source = pan_gif(tmp_path)
    compress(source, 60, effort=1)
    assert calls == []
    compress(source, 60, effort=10)
    assert len(calls) == 1 and calls[0][0] == "-O3"
    compress(source, 95, effort=1)
    assert calls[-1][:2] == ["-O1", f"--lossy={gif.settings_for(95).lossy}"]
