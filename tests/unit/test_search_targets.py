"""The target_score benchmark's inputs and its cheapest-fixed-quality search."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.compare_inputs import search_photos
from benchmarks.search_targets import lowest_passing

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_search_photos_takes_every_kodak_one_copy_of_each_camera_photo_and_a_decodable_hato(
    tmp_path: Path,
) -> None:
    for folder in ("kodak", "copy"):
        for index in (2, 1):
            (tmp_path / folder).mkdir(exist_ok=True)
            (tmp_path / folder / f"kodim{index:02d}.png").write_bytes(b"")
    camera = FIXTURES / "jpeg" / "Landscape_3.jpg"
    for folder in ("exif", "exif/again"):
        (tmp_path / folder).mkdir(parents=True)
        shutil.copyfile(camera, tmp_path / folder / "Landscape_1.jpg")
        shutil.copyfile(camera, tmp_path / folder / "Landscape_3.jpg")
    (tmp_path / "hato.profile0.8bpc.yuv420.avif").write_bytes(b"not an image")
    names = [path.name for path in search_photos(tmp_path)]
    assert names == ["kodim01.png", "kodim02.png", "Landscape_1.jpg"]


@pytest.mark.parametrize("needed", [1, 2, 37, 64, 99, 100])
@pytest.mark.parametrize("hint", [1, 30, 64, 70, 100])
def test_lowest_passing_finds_the_threshold_from_any_hint(needed: int, hint: int) -> None:
    calls: list[int] = []

    def passes(quality: int) -> bool:
        calls.append(quality)
        return quality >= needed

    assert lowest_passing(passes, hint) == needed
    assert len(calls) <= 15
    if abs(hint - needed) <= 1:
        assert len(calls) <= 4  # the hint, one step, one past it, one bisection


def test_lowest_passing_is_100_when_nothing_passes() -> None:
    assert lowest_passing(lambda quality: False, 80) == 100
