"""The comparison benchmark's inputs and the animation score (compare_inputs, ratequality)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from benchmarks.compare_inputs import GIF_FRAMES, build_inputs, pick_photos
from benchmarks.ratequality import score_frames

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_pick_photos_spreads_over_the_sorted_names(tmp_path: Path) -> None:
    for index in range(1, 9):
        (tmp_path / f"kodim{index:02d}.png").write_bytes(b"")
    assert [p.name for p in pick_photos(tmp_path, 4)] == [
        "kodim01.png",
        "kodim03.png",
        "kodim05.png",
        "kodim07.png",
    ]
    assert len(pick_photos(tmp_path, 20)) == 8


def test_build_inputs_makes_every_format_and_an_animated_gif(tmp_path: Path) -> None:
    inputs = build_inputs(FIXTURES, tmp_path, 1, shrink_to=128)
    assert set(inputs) == {"jpeg", "png", "webp", "gif"}
    [gif] = inputs["gif"]
    with Image.open(gif.path) as opened:
        assert opened.n_frames == GIF_FRAMES == gif.frames
        assert opened.size == (gif.width, gif.height)
    [jpeg] = inputs["jpeg"]
    with Image.open(jpeg.path) as opened:
        assert opened.format == "JPEG"
        assert opened.size == (jpeg.width, jpeg.height) == (128, 85)
    assert gif.megapixels == pytest.approx(gif.width * gif.height * GIF_FRAMES / 1e6)


def test_score_frames_is_100_for_the_same_animation_and_none_for_other_frame_counts(
    tmp_path: Path,
) -> None:
    [gif] = build_inputs(FIXTURES, tmp_path, 1, shrink_to=128)["gif"]
    assert score_frames(str(gif.path), str(gif.path)) == pytest.approx(100.0)
    with Image.open(gif.path) as opened:
        opened.convert("RGB").save(tmp_path / "still.gif")
    assert score_frames(str(gif.path), str(tmp_path / "still.gif")) is None
